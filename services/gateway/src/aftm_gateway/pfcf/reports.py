"""Order state from the broker's reports: replies (status) and matches (fills), keyed by NOTE.

Pure. Reports may come late, twice or out of order, so:
- a fill counts once, by its match key (order number + match sequence): a repeated OnMatch
  changes nothing, so it can never double a position downstream;
- the reported status only moves forward, and a final one never moves again;
- "filled" is believed when the fills add up to the order's quantity: a reply that says filled
  before its matches arrived leaves the order working until they do.
The same rules turn a query's replies and matches into snapshots (`book_from`); tracker.py
applies them to live reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.wire.protocol import OrderSnapshot, OrderUpdated
from aftm_gateway.pfcf.translate import Match, Reply, tidy

FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})
_RANK = {
    OrderStatus.PENDING: 0,
    OrderStatus.UNKNOWN: 0,
    OrderStatus.ACCEPTED: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
    OrderStatus.FILLED: 3,
    OrderStatus.CANCELLED: 3,
    OrderStatus.REJECTED: 3,
}
ReportEvent = OrderUpdated | OrderFilled
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class TrackedOrder:
    """What the reports (and our own request, if we sent it) say about one NOTE."""

    note: str
    broker_order_id: str = ""
    account: str = ""
    symbol: str = ""
    side: Side | None = None
    quantity: int = 0  # 0: unknown yet (only a match was seen)
    reported: OrderStatus = OrderStatus.PENDING
    reason: str = ""
    fills: tuple[Match, ...] = ()
    ts_ns: int = 0

    @property
    def filled_quantity(self) -> int:
        return sum(fill.quantity for fill in self.fills)

    @property
    def status(self) -> OrderStatus:
        filled = self.filled_quantity
        if self.reported is OrderStatus.REJECTED:
            return OrderStatus.REJECTED
        if self.quantity and filled >= self.quantity:
            return OrderStatus.FILLED
        if self.reported is OrderStatus.CANCELLED:
            return OrderStatus.CANCELLED
        if filled:
            return OrderStatus.PARTIALLY_FILLED
        if self.reported in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            return OrderStatus.ACCEPTED  # the matches are on their way
        return self.reported

    @property
    def average_price(self) -> Decimal | None:
        filled = self.filled_quantity
        if not filled:
            return None
        return tidy(sum((fill.price * fill.quantity for fill in self.fills), Decimal(0)) / filled)

    def snapshot(self) -> OrderSnapshot | None:
        """None until the order itself is known (a match alone does not say its quantity)."""
        if self.side is None or not self.quantity:
            return None
        return OrderSnapshot(
            client_order_id=self.note,
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


def expect(order: PlaceOrder, now_ns: int) -> TrackedOrder:
    """The state of an order we are about to send, before any report."""
    return TrackedOrder(
        note=order.client_order_id,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        ts_ns=now_ns,
    )


def with_reply(tracked: TrackedOrder | None, reply: Reply, now_ns: int) -> TrackedOrder:
    base = tracked or TrackedOrder(note=reply.note)
    forward = base.reported not in FINAL and _RANK[reply.status] >= _RANK[base.reported]
    return replace(
        base,
        broker_order_id=reply.broker_order_id,
        account=reply.account or base.account,
        symbol=reply.symbol or base.symbol,
        side=reply.side,
        quantity=reply.quantity or base.quantity,
        reported=reply.status if forward else base.reported,
        reason=reply.reason if forward and reply.reason else base.reason,
        ts_ns=now_ns,
    )


def with_match(tracked: TrackedOrder | None, match: Match, now_ns: int) -> TrackedOrder | None:
    """The state after a fill, or None when this fill was already counted."""
    base = tracked or TrackedOrder(note=match.note)
    if any(fill.fill_id == match.fill_id for fill in base.fills):
        return None
    return replace(
        base,
        broker_order_id=base.broker_order_id or match.broker_order_id,
        account=base.account or match.account,
        symbol=base.symbol or match.symbol,
        side=base.side or match.side,
        fills=(*base.fills, match),
        ts_ns=now_ns,
    )


def is_answered(tracked: TrackedOrder | None, order: PlaceOrder) -> bool:
    """Whether `place` has its answer: a final status, or a resting ROD limit order accepted."""
    if tracked is None:
        return False
    status = tracked.status
    if status in FINAL:
        return True
    rests = order.order_type is OrderType.LIMIT and order.time_in_force is TimeInForce.ROD
    return rests and status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


def book_from(
    replies: Iterable[Reply], matches: Iterable[Match], now_ns: int
) -> list[TrackedOrder]:
    """A query's answer as orders, in the order the broker listed them (oldest first)."""
    orders: dict[str, TrackedOrder] = {}
    for reply in replies:
        orders[reply.broker_order_id] = with_reply(orders.get(reply.broker_order_id), reply, now_ns)
    for match in matches:
        known = orders.get(match.broker_order_id)
        if known is not None:
            orders[match.broker_order_id] = with_match(known, match, now_ns) or known
    return list(orders.values())


def is_surely_absent(sent_ns: int | None, *, query_began_ns: int, grace_ns: int) -> bool:
    """Whether a complete order query that did not list an order proves it was never placed.

    The broker acknowledges an order by a later event and lists it only then, so a query proves
    absence only if it began at least `grace_ns` after the order could have been sent
    (`sent_ns`; None: the gateway never sent it, so nothing can still arrive).
    """
    return sent_ns is None or query_began_ns - sent_ns >= grace_ns


def updated(before: TrackedOrder | None, after: TrackedOrder) -> list[ReportEvent]:
    new = after.snapshot()
    old = None if before is None else before.snapshot()
    if new is None or (old is not None and replace(old, ts_ns=new.ts_ns) == new):
        return []
    return [OrderUpdated(new)]


def latest_updates(events: list[E]) -> list[E]:
    """Only the last OrderUpdated of each order in one batch: the earlier ones are stale."""
    last = {
        event.order.client_order_id: index
        for index, event in enumerate(events)
        if isinstance(event, OrderUpdated)
    }
    return [
        event
        for index, event in enumerate(events)
        if not isinstance(event, OrderUpdated) or last[event.order.client_order_id] == index
    ]
