"""What the gateway's answers mean for an order: placed, refused, or not known yet."""

from __future__ import annotations

from dataclasses import dataclass

from aftm.domain.orders import PlaceOrder
from aftm.wire.protocol import ErrorCode, OrderSnapshot, QueryOrder, Reply
from aftm.wire.reliable import ReliableClient, RequestTimedOut


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # accepted, rejected, unknown: the metrics label
    snapshot: OrderSnapshot | None = None  # the gateway's view, when it gave one
    reason: str = ""


def outcome_of(order: PlaceOrder, reply: Reply) -> Outcome:
    """The answer to a place request. Only a definite "no" from the gateway is a rejection: a
    reply that does not say (UNAVAILABLE, a wrong body) leaves the order unknown, to be asked
    about, never sent blind under a new id."""
    body = reply.body
    if (
        reply.ok
        and isinstance(body, OrderSnapshot)
        and body.client_order_id == order.client_order_id
    ):
        rejected = body.status.value in ("rejected", "unknown")
        return Outcome("rejected" if rejected else "accepted", body, body.reason)
    if reply.ok or reply.error_code in (None, ErrorCode.UNAVAILABLE):
        return Outcome("unknown", reason=reply.error or f"unexpected reply {type(body).__name__}")
    return Outcome("rejected", reason=f"gateway {reply.error_code}: {reply.error}")


@dataclass(frozen=True, slots=True)
class Lookup:
    answered: bool  # False: the gateway did not answer; stop asking this round
    snapshot: OrderSnapshot | None = None
    never_placed: bool = False  # the gateway says, definitively, it never had the order


def ask_gateway(gateway: ReliableClient, client_order_id: str) -> Lookup:
    """Where an order stands, by its client order id."""
    try:
        reply = gateway.request(QueryOrder(client_order_id))
    except RequestTimedOut:
        return Lookup(answered=False)
    if reply.ok and isinstance(reply.body, OrderSnapshot):
        return Lookup(answered=True, snapshot=reply.body)
    if reply.error_code is ErrorCode.NOT_FOUND:
        return Lookup(answered=True, never_placed=True)
    # UNAVAILABLE (the broker cannot say yet, or is down): ask again on the next round.
    return Lookup(
        answered=reply.error_code is not None and reply.error_code is not ErrorCode.UNAVAILABLE
    )
