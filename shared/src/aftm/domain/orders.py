"""Order commands (imperative) and order events (past tense)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aftm.domain.types import OpenClose, OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Ask the broker for an order. `client_order_id` makes the request idempotent."""

    client_order_id: str
    account: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.IOC
    open_close: OpenClose = OpenClose.AUTO
    ts_ns: int = 0


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_order_id: str
    broker_order_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    client_order_id: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One fill (possibly partial). `fill_id` lets a receiver drop a duplicated report."""

    client_order_id: str
    broker_order_id: str
    fill_id: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    ts_ns: int
