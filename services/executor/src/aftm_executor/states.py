"""Where one order of a trade stands, and which reports may move it.

Reports can arrive out of order (a reply that says "filled" may be read before an older
"accepted" published on the event socket), so a state only moves forward; a final state never
moves again.
"""

from __future__ import annotations

from enum import StrEnum

from aftm.domain.types import OrderStatus


class OrderState(StrEnum):
    SENDING = "sending"  # journaled, the request is about to leave or is in flight
    UNKNOWN = "unknown"  # no answer: resolved by asking the gateway, never by a new order
    UNSENT = "unsent"  # the gateway definitively never had it: may go out again, same id
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"  # by the gateway or the broker, or never sent; `reason` says which
    CANCELLED = "cancelled"


FINAL = frozenset({OrderState.FILLED, OrderState.REJECTED, OrderState.CANCELLED})
# Sent but the gateway's answer is not known: these are what start-up and the resolver ask about.
UNRESOLVED = frozenset({OrderState.SENDING, OrderState.UNKNOWN})
# The order reached the gateway and may still fill.
WORKING = frozenset({OrderState.ACCEPTED, OrderState.PARTIALLY_FILLED})

_RANK = {
    OrderState.UNSENT: 0,
    OrderState.SENDING: 1,
    OrderState.UNKNOWN: 2,
    OrderState.ACCEPTED: 3,
    OrderState.PARTIALLY_FILLED: 4,
    OrderState.FILLED: 5,
    OrderState.REJECTED: 5,
    OrderState.CANCELLED: 5,
}

_FROM_ORDER_STATUS = {
    # The gateway holds the order (journaled, broker answer pending): placed, as far as we care.
    OrderStatus.PENDING: OrderState.ACCEPTED,
    OrderStatus.ACCEPTED: OrderState.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: OrderState.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderState.FILLED,
    OrderStatus.REJECTED: OrderState.REJECTED,
    OrderStatus.CANCELLED: OrderState.CANCELLED,
    OrderStatus.UNKNOWN: OrderState.UNKNOWN,
}


def from_order_status(status: OrderStatus) -> OrderState:
    return _FROM_ORDER_STATUS[status]


def advance(current: OrderState, reported: OrderState) -> OrderState:
    """The state after a report: forward only, and never out of a final state.

    UNSENT is the one way back: the resolver learnt the gateway never had the order, and it is
    sent again (SENDING) under the same id; that move is made by the trade model, not here.
    """
    if current in FINAL or _RANK[reported] < _RANK[current]:
        return current
    return reported
