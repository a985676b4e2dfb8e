"""Where a signal stands on its way to becoming an order, and which reports may move it.

Reports can arrive out of order (a reply that says "filled" may be read before an older
"accepted" published on the event socket), so a state only moves forward; a final state never
moves again.
"""

from __future__ import annotations

from enum import StrEnum

from aftm.domain.types import OrderStatus


class SignalState(StrEnum):
    RECEIVED = "received"  # journaled, not yet risk-checked (or waiting, see risk.Verdict.WAIT)
    SENDING = "sending"  # the order request is about to leave or is in flight
    UNKNOWN = "unknown"  # no answer: resolved by asking the gateway, never by a new order
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"  # by a risk check or by the gateway/broker; `reason` says which
    CANCELLED = "cancelled"


FINAL = frozenset({SignalState.FILLED, SignalState.REJECTED, SignalState.CANCELLED})
# Sent but the gateway's answer is not known: these are what start-up and the resolver ask about.
UNRESOLVED = frozenset({SignalState.SENDING, SignalState.UNKNOWN})
# The order reached the gateway and may still fill.
WORKING = frozenset({SignalState.ACCEPTED, SignalState.PARTIALLY_FILLED})

_RANK = {
    SignalState.RECEIVED: 0,
    SignalState.SENDING: 1,
    SignalState.UNKNOWN: 2,
    SignalState.ACCEPTED: 3,
    SignalState.PARTIALLY_FILLED: 4,
    SignalState.FILLED: 5,
    SignalState.REJECTED: 5,
    SignalState.CANCELLED: 5,
}

_FROM_ORDER_STATUS = {
    # The gateway holds the order (journaled, broker answer pending): placed, as far as we care.
    OrderStatus.PENDING: SignalState.ACCEPTED,
    OrderStatus.ACCEPTED: SignalState.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: SignalState.PARTIALLY_FILLED,
    OrderStatus.FILLED: SignalState.FILLED,
    OrderStatus.REJECTED: SignalState.REJECTED,
    OrderStatus.CANCELLED: SignalState.CANCELLED,
    OrderStatus.UNKNOWN: SignalState.UNKNOWN,
}


def from_order_status(status: OrderStatus) -> SignalState:
    return _FROM_ORDER_STATUS[status]


def advance(current: SignalState, reported: SignalState) -> SignalState:
    """The state after a report: forward only, and never out of a final state."""
    if current in FINAL or _RANK[reported] < _RANK[current]:
        return current
    return reported
