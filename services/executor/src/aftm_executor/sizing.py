"""Signal to order: one market IOC order per signal, under a client order id derived from it."""

from __future__ import annotations

import hashlib

from aftm.domain.orders import PlaceOrder
from aftm.domain.signals import Signal
from aftm.domain.types import OrderType, TimeInForce
from aftm_executor.states import FINAL, SignalState

CLIENT_ORDER_ID_PREFIX = "A"


def client_order_id(signal_id: str) -> str:
    """The one client order id of a signal: the same after any restart, 16 characters.

    Short enough for a broker order's NOTE field, which is how broker reports map back to it;
    60 bits of a hash make a collision between two signal ids practically impossible.
    """
    digest = hashlib.sha256(signal_id.encode()).hexdigest()
    return CLIENT_ORDER_ID_PREFIX + digest[:15]


def quantity_for(signal: Signal, entry_state: SignalState | None, entry_filled: int) -> int:
    """The condition's quantity; for an exit, no more than its finished entry actually got.

    An IOC entry can end partly filled and cancelled; closing the full quantity would open a
    reverse position with the difference.
    """
    if signal.kind.is_exit and entry_state in FINAL and entry_filled > 0:
        return min(signal.quantity, entry_filled)
    return signal.quantity


def order_for(signal: Signal, account: str, ts_ns: int, quantity: int | None = None) -> PlaceOrder:
    """A market IOC order for the signal's side, by default for the signal's quantity."""
    return PlaceOrder(
        client_order_id=client_order_id(signal.id),
        account=account,
        symbol=signal.symbol,
        side=signal.side,
        quantity=signal.quantity if quantity is None else quantity,
        order_type=OrderType.MARKET,
        price=None,
        time_in_force=TimeInForce.IOC,
        ts_ns=ts_ns,
    )
