"""`OrderTracker`: live reports in, order events out; one state per NOTE, and bounded. Pure.

The first broker order under a NOTE keeps the NOTE's state. Reports of another broker order
under it (a client order id placed twice) are not applied to it, and not dropped silently
either: each becomes a `DuplicateOrder` event, which the gateway counts and alarms on.

Bounded: an order final for `keep_final_ns`, or beyond the newest `max_final` final ones, is
forgotten; working orders are always kept. At-most-once needs nothing from here: the gateway
journal is the record of what was placed, and it checks every report's broker order id against
the one it holds. A forgotten order's late report is simply tracked afresh.
"""

from __future__ import annotations

from collections import OrderedDict

from aftm.domain.orders import PlaceOrder
from aftm_gateway.broker import DuplicateOrder
from aftm_gateway.pfcf.reports import (
    FINAL,
    ReportEvent,
    TrackedOrder,
    expect,
    updated,
    with_match,
    with_reply,
)
from aftm_gateway.pfcf.translate import Match, Reply, fill_of

KEEP_FINAL_NS = 600 * 1_000_000_000  # ten minutes: late reports of a final order still match
MAX_FINAL = 10_000
TrackerEvent = ReportEvent | DuplicateOrder


class OrderTracker:
    def __init__(self, *, keep_final_ns: int = KEEP_FINAL_NS, max_final: int = MAX_FINAL) -> None:
        self._keep_final_ns = keep_final_ns
        self._max_final = max_final
        self._orders: dict[str, TrackedOrder] = {}
        self._final: OrderedDict[str, int] = OrderedDict()  # NOTE -> final since, oldest first
        self.duplicates = 0  # repeated matches dropped
        self.strays = 0  # reports of a second broker order under a NOTE already taken

    def __len__(self) -> int:
        return len(self._orders)

    def expect(self, order: PlaceOrder, now_ns: int) -> None:
        self._orders[order.client_order_id] = expect(order, now_ns)

    def adopt(self, tracked: TrackedOrder) -> None:
        """Follow an order first seen in a query (e.g. placed before a restart)."""
        self._orders.setdefault(tracked.note, tracked)

    def forget(self, note: str) -> None:
        self._orders.pop(note, None)
        self._final.pop(note, None)

    def get(self, note: str) -> TrackedOrder | None:
        return self._orders.get(note)

    def on_reply(self, reply: Reply, now_ns: int) -> list[TrackerEvent]:
        before = self._orders.get(reply.note)
        if before is not None and _is_other(before, reply.broker_order_id):
            return [self._stray(before, reply.broker_order_id, "order")]
        after = with_reply(before, reply, now_ns)
        self._keep(after, now_ns)
        return list(updated(before, after))

    def on_match(self, match: Match, now_ns: int) -> list[TrackerEvent]:
        before = self._orders.get(match.note)
        if before is not None and _is_other(before, match.broker_order_id):
            return [self._stray(before, match.broker_order_id, "fill")]
        after = with_match(before, match, now_ns)
        if after is None:
            self.duplicates += 1
            return []
        self._keep(after, now_ns)
        return [fill_of(match, now_ns), *updated(before, after)]

    @staticmethod
    def check_book(book: list[TrackedOrder]) -> list[DuplicateOrder]:
        """One event per NOTE under which a query's answer lists more than one broker order."""
        listed: dict[str, list[str]] = {}
        for order in book:
            if order.note:  # an order entered without a NOTE is no client order id
                listed.setdefault(order.note, []).append(order.broker_order_id)
        return [
            DuplicateOrder(note, tuple(dict.fromkeys(ids)), "query")
            for note, ids in listed.items()
            if len(set(ids)) > 1
        ]

    def _stray(self, tracked: TrackedOrder, broker_order_id: str, kind: str) -> DuplicateOrder:
        self.strays += 1
        return DuplicateOrder(tracked.note, (tracked.broker_order_id, broker_order_id), kind)

    def _keep(self, tracked: TrackedOrder, now_ns: int) -> None:
        self._orders[tracked.note] = tracked
        if tracked.status in FINAL and tracked.note not in self._final:
            self._final[tracked.note] = now_ns
        while self._final:
            note, since_ns = next(iter(self._final.items()))
            if len(self._final) <= self._max_final and now_ns - since_ns < self._keep_final_ns:
                break
            self.forget(note)


def _is_other(tracked: TrackedOrder, broker_order_id: str) -> bool:
    return tracked.broker_order_id not in ("", broker_order_id)
