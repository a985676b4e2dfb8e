"""The PFCF order tracker: a second broker order under one NOTE is shown, not dropped, and
final orders are forgotten so the tracker does not grow for ever. Pure: time is passed in."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.domain.types import OrderStatus, Side
from aftm_gateway.broker import DuplicateOrder
from aftm_gateway.pfcf.reports import TrackedOrder, is_surely_absent, with_reply
from aftm_gateway.pfcf.tracker import OrderTracker
from aftm_gateway.pfcf.translate import Match, Reply
from tests.unit.test_pfcf_translate import ACCOUNT, a_reply

SECOND = 1_000_000_000


def a_reply_of(note: str, broker_order_id: str, status: OrderStatus) -> Reply:
    return Reply(broker_order_id, ACCOUNT, "TXFL6", Side.BUY, 2, status, "", note)


def test_reports_of_a_second_broker_order_under_a_note_are_duplicates() -> None:
    tracker = OrderTracker()
    tracker.on_reply(a_reply(), 1)

    other = Reply("D0000009", ACCOUNT, "TXFL6", Side.BUY, 2, OrderStatus.ACCEPTED, "", "A1")
    fill = Match("D0000009", "1", ACCOUNT, "TXFL6", Side.BUY, Decimal(23_000), 2, "A1")

    assert tracker.on_reply(other, 2) == [DuplicateOrder("A1", ("D0000001", "D0000009"), "order")]
    assert tracker.on_match(fill, 3) == [DuplicateOrder("A1", ("D0000001", "D0000009"), "fill")]
    assert tracker.strays == 2
    tracked = tracker.get("A1")
    assert tracked is not None
    assert (tracked.broker_order_id, tracked.filled_quantity) == ("D0000001", 0)


def test_a_query_listing_two_broker_orders_under_a_note_is_a_duplicate() -> None:
    tracker = OrderTracker()
    book = [
        tracker_order("A1", "D0000001"),
        tracker_order("A2", "D0000002"),
        tracker_order("A1", "D0000003"),
        tracker_order("", "D0000004"),  # entered without a NOTE: nobody's client order id
        tracker_order("", "D0000005"),
    ]

    assert tracker.check_book(book) == [DuplicateOrder("A1", ("D0000001", "D0000003"), "query")]


def tracker_order(note: str, broker_order_id: str) -> TrackedOrder:
    return with_reply(None, a_reply_of(note, broker_order_id, OrderStatus.ACCEPTED), 1)


def test_final_orders_are_forgotten_after_a_while_and_beyond_a_count() -> None:
    tracker = OrderTracker(keep_final_ns=60 * SECOND, max_final=2)
    tracker.on_reply(a_reply_of("W1", "D1", OrderStatus.ACCEPTED), 0)  # working: always kept
    for number, note in enumerate(("F1", "F2", "F3"), start=2):
        tracker.on_reply(a_reply_of(note, f"D{number}", OrderStatus.REJECTED), number)

    over_count = [note for note in ("W1", "F1", "F2", "F3") if tracker.get(note)]
    tracker.on_reply(a_reply_of("W2", "D9", OrderStatus.ACCEPTED), 61 * SECOND + 3)
    over_time = [note for note in ("W1", "F1", "F2", "F3", "W2") if tracker.get(note)]

    assert over_count == ["W1", "F2", "F3"]
    assert over_time == ["W1", "W2"]
    assert len(tracker) == 2


@pytest.mark.parametrize(
    ("sent_ns", "began_ns", "absent"),
    [
        (None, 5, True),  # never sent by the gateway: nothing can still arrive
        (100, 100 + 30 * SECOND, True),  # asked a full grace after the send
        (100, 100 + 30 * SECOND - 1, False),  # the acknowledgement may still be on its way
        (100, 50, False),  # a query begun before the send cannot rule it out
    ],
)
def test_a_not_found_is_definitive_only_a_grace_after_the_send(
    sent_ns: int | None, began_ns: int, absent: bool
) -> None:
    assert is_surely_absent(sent_ns, query_began_ns=began_ns, grace_ns=30 * SECOND) is absent
