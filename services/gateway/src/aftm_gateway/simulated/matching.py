"""How the simulated exchange treats an order: checks, immediate fills, resting fills, positions.

Pure: values in, values out. The sim fills every order completely at one price:
- a market order fills at the last traded price;
- a limit order that the last price already reaches fills there (at least as good as the limit);
  otherwise an IOC or FOK order is cancelled and a ROD order rests;
- a resting limit order fills at its limit as soon as a tick trades at or through it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from aftm.domain.orders import PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.wire.protocol import OrderSnapshot

AVERAGE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Rules:
    """What the exchange accepts: its symbols, the session's accounts, the largest order."""

    symbols: frozenset[str]
    accounts: frozenset[str]
    max_quantity: int


@dataclass(frozen=True, slots=True)
class BookOrder:
    """One order as the exchange holds it; `client_order_id` is the order's NOTE field."""

    broker_order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: int | None
    time_in_force: TimeInForce
    status: OrderStatus
    filled_quantity: int = 0
    average_price: Decimal | None = None
    reason: str = ""
    ts_ns: int = 0

    @property
    def is_resting(self) -> bool:
        return self.status is OrderStatus.ACCEPTED

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            client_order_id=self.client_order_id,
            broker_order_id=self.broker_order_id,
            account=self.account,
            symbol=self.symbol,
            side=self.side,
            quantity=self.quantity,
            filled_quantity=self.filled_quantity,
            average_price=self.average_price,
            status=self.status,
            reason=self.reason,
            ts_ns=self.ts_ns,
        )


def refusal(order: PlaceOrder, rules: Rules, last_price: int | None) -> str | None:
    """Why the exchange rejects `order`, or None if it takes it."""
    if order.symbol not in rules.symbols:
        return f"unknown symbol {order.symbol!r}"
    if order.account not in rules.accounts:
        return f"unknown account {order.account!r}"
    if order.quantity < 1:
        return f"quantity {order.quantity} is below the minimum of 1"
    if order.quantity > rules.max_quantity:
        return f"quantity {order.quantity} exceeds the maximum of {rules.max_quantity} per order"
    if order.order_type is OrderType.LIMIT:
        if order.price is None:
            return "a limit order needs a price"
        if whole_points(order.price) is None:
            return f"limit price {order.price} is not a whole number of points of at least 1"
    elif last_price is None:
        return f"no price has traded in {order.symbol} yet, so a market order cannot fill"
    return None


def whole_points(price: Decimal) -> int | None:
    """`price` as whole points (the tick size is one point), None if it is not one."""
    if not price.is_finite() or price != price.to_integral_value() or price < 1:
        return None
    return int(price)


def admit(
    order: PlaceOrder,
    broker_order_id: str,
    rules: Rules,
    last_price: int | None,
    now_ns: int,
    *,
    forced_reason: str = "",
) -> BookOrder:
    """The exchange's answer to `order`: rejected, filled, cancelled or resting."""
    reason = forced_reason or refusal(order, rules, last_price)
    limit = whole_points(order.price) if order.price is not None else None
    booked = BookOrder(
        broker_order_id=broker_order_id,
        client_order_id=order.client_order_id,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        limit_price=limit if order.order_type is OrderType.LIMIT else None,
        time_in_force=order.time_in_force,
        status=OrderStatus.ACCEPTED,
        ts_ns=now_ns,
    )
    if reason:
        return replace(booked, status=OrderStatus.REJECTED, reason=reason)
    price = opening_fill_price(booked, last_price)
    if price is not None:
        return fill(booked, price, now_ns)
    if booked.time_in_force is not TimeInForce.ROD:
        reason = f"{booked.time_in_force.value} limit {booked.limit_price} not reachable"
        return replace(booked, status=OrderStatus.CANCELLED, reason=reason)
    return booked


def opening_fill_price(order: BookOrder, last_price: int | None) -> int | None:
    """The price an order fills at on arrival, None if it cannot fill now."""
    if last_price is None:
        return None
    if order.order_type is OrderType.MARKET or order.limit_price is None:
        return last_price
    return last_price if _reaches(order.side, order.limit_price, last_price) else None


def resting_fill_price(order: BookOrder, trade_price: int) -> int | None:
    """A resting limit order fills at its limit once the market trades at or through it."""
    if not order.is_resting or order.limit_price is None:
        return None
    return order.limit_price if _reaches(order.side, order.limit_price, trade_price) else None


def _reaches(side: Side, limit: int, price: int) -> bool:
    return price <= limit if side is Side.BUY else price >= limit


def fill(order: BookOrder, price: int, now_ns: int) -> BookOrder:
    return replace(
        order,
        status=OrderStatus.FILLED,
        filled_quantity=order.quantity,
        average_price=Decimal(price),
        ts_ns=now_ns,
    )


def cancel(order: BookOrder, now_ns: int) -> BookOrder:
    """A resting order is cancelled; any other order is returned unchanged."""
    if not order.is_resting:
        return order
    return replace(order, status=OrderStatus.CANCELLED, reason="cancelled by request", ts_ns=now_ns)


def apply_fill(
    position: Position | None, account: str, symbol: str, side: Side, quantity: int, price: int
) -> Position:
    """The position after a fill: adding averages in, reducing keeps the average, flipping
    starts a new average at the fill price, flat has average 0."""
    held = position.net_quantity if position is not None else 0
    average = position.average_price if position is not None else Decimal(0)
    net = held + side.sign * quantity
    if net == 0:
        average = Decimal(0)
    elif held == 0 or (held > 0) != (net > 0):
        average = Decimal(price)
    elif abs(net) > abs(held):
        average = _tidy((average * abs(held) + Decimal(price) * quantity) / abs(net))
    return Position(account=account, symbol=symbol, net_quantity=net, average_price=average)


def _tidy(value: Decimal) -> Decimal:
    """Four decimals at most, and a whole number written as one (23000, not 23000.0000)."""
    value = value.quantize(AVERAGE_QUANTUM)
    return Decimal(int(value)) if value == value.to_integral_value() else value.normalize()
