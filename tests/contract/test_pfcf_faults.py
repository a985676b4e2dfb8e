"""PfcfBroker over the .NET double under the faults a real broker DLL shows.

The double raises its events from its own threads; these tests switch its faults on and check
that the adapter neither loses nor doubles anything, and never lets an exception reach .NET.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus
from aftm.wire.protocol import OrderUpdated
from aftm_gateway.broker import Broker, BrokerEvent, DuplicateOrder
from aftm_gateway.errors import BrokerRejected, BrokerUnavailable, OrderInDoubt
from aftm_gateway.pfcf import PfcfBroker
from tests.contract.conftest import ACCOUNT, PASSWORD, USER, Venue, collect
from tests.contract.test_broker_contract import an_order, final_update, ticks_of

_RANK = {
    OrderStatus.PENDING: 0,
    OrderStatus.ACCEPTED: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
    OrderStatus.FILLED: 3,
    OrderStatus.CANCELLED: 3,
    OrderStatus.REJECTED: 3,
}


@pytest.fixture
def venue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Venue]:
    opened = Venue("pfcf", tmp_path, monkeypatch)
    yield opened
    for broker in opened.opened:
        assert opened.double(broker).HandlerErrors == 0, "an exception reached .NET"
    opened.close_all()


def pfcf(broker: Broker) -> PfcfBroker:
    assert isinstance(broker, PfcfBroker)
    return broker


def statuses(events: list[BrokerEvent]) -> list[OrderStatus]:
    return [event.order.status for event in events if isinstance(event, OrderUpdated)]


def test_a_duplicated_match_never_doubles_a_fill_or_a_position(venue: Venue) -> None:
    broker = venue.logged_in()
    venue.double(broker).DuplicateMatches = True

    answer = broker.place(an_order(quantity=2))
    events = collect(broker, lambda got: pfcf(broker).duplicate_matches >= 1)

    fills = [event for event in events if isinstance(event, OrderFilled)]
    assert (answer.status, answer.filled_quantity) == (OrderStatus.FILLED, 2)
    assert [(fill.fill_id, fill.quantity) for fill in fills] == [(f"{answer.broker_order_id}-1", 2)]
    assert broker.positions(ACCOUNT) == (Position(ACCOUNT, "TXFL6", 2, fills[0].price),)


def test_reports_out_of_order_never_move_an_order_back(venue: Venue) -> None:
    broker = venue.logged_in()
    venue.double(broker).OutOfOrder = True  # match, then "filled", then "accepted"

    answer = broker.place(an_order(quantity=3))
    time.sleep(0.2)
    events = broker.poll(time.time_ns())

    assert (answer.status, answer.filled_quantity) == (OrderStatus.FILLED, 3)
    ranks = [_RANK[status] for status in statuses(events)]
    assert ranks == sorted(ranks)
    assert final_update(events, "A1") in (None, answer)
    assert len([event for event in events if isinstance(event, OrderFilled)]) == 1


def test_late_reports_still_reach_the_gateway_after_a_timeout(venue: Venue) -> None:
    broker = venue.logged_in(reply_delay_ms=300, timeout_ms=100)

    with pytest.raises(BrokerUnavailable):
        broker.place(an_order())
    events = collect(broker, lambda got: final_update(got, "A1") is not None)

    update = final_update(events, "A1")
    assert update is not None
    assert update.status is OrderStatus.FILLED
    assert [type(event) for event in events if not isinstance(event, OrderUpdated)] == [OrderFilled]


def test_a_dropped_connection_is_unhealthy_until_it_returns_with_its_subscriptions(
    venue: Venue,
) -> None:
    broker = venue.logged_in("TXFL6")
    collect(broker, lambda got: bool(ticks_of(got)))

    venue.double(broker).Disconnect(300)
    collect(broker, lambda got: not broker.is_logged_in)
    refused = broker.place(an_order())
    collect(broker, lambda got: broker.is_logged_in)
    after = collect(broker, lambda got: len(ticks_of(got)) >= 3)

    assert (refused.status, refused.reason) == (OrderStatus.REJECTED, "broker connection down")
    assert {tick.symbol for tick in ticks_of(after)} == {"TXFL6"}
    # Refused before it left: the broker never saw it (and the gateway journal has no send).
    assert broker.find_order("A1", sent_ns=None) is None


def test_a_failed_login_is_refused_and_a_later_one_succeeds(venue: Venue) -> None:
    broker = venue.open()
    venue.double(broker).FailLogin = True

    with pytest.raises(BrokerRejected, match="injected login failure"):
        broker.login(USER, PASSWORD)
    assert not broker.is_logged_in
    venue.double(broker).FailLogin = False
    broker.login(USER, PASSWORD)

    assert broker.is_logged_in


def test_unreadable_events_are_counted_and_dropped_not_raised(venue: Venue) -> None:
    broker = venue.logged_in("TXFL6")
    double: Any = venue.double(broker)

    double.InjectTick("TXFL6", "not-a-price")
    double.InjectTick("TXFL6", "23000.5")
    double.InjectError("something the broker wanted to say")
    collect(broker, lambda got: pfcf(broker).callback_errors >= 2)
    later = collect(broker, lambda got: len(ticks_of(got)) >= 3)

    assert pfcf(broker).callback_errors == 2
    assert all(isinstance(tick.price, int) for tick in ticks_of(later))
    assert double.HandlerErrors == 0


def test_an_order_not_acknowledged_yet_is_in_doubt_not_absent(venue: Venue) -> None:
    broker = venue.logged_in(timeout_ms=100)
    venue.double(broker).HoldOrders = True  # taken, listed and reported only when released
    sent_ns = time.time_ns()

    with pytest.raises(BrokerUnavailable):
        broker.place(an_order())
    with pytest.raises(OrderInDoubt):
        broker.find_order("A1", sent_ns=sent_ns)
    with pytest.raises(OrderInDoubt):
        broker.cancel("A1", sent_ns=sent_ns)
    never_sent = broker.find_order("A2", sent_ns=None)  # the gateway never sent A2
    venue.double(broker).HoldOrders = False
    collect(broker, lambda got: final_update(got, "A1") is not None)
    found = broker.find_order("A1", sent_ns=sent_ns)

    assert never_sent is None
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert venue.double(broker).OrdersTaken == 1


def test_a_second_broker_order_under_one_note_is_shown_not_dropped(venue: Venue) -> None:
    broker = venue.logged_in()
    venue.double(broker).DuplicateOrders = True

    answer = broker.place(an_order())
    # Both live reports of the extra order (its reply and its match), which come on the
    # double's threads: under load the second may still be on its way after the first.
    events = collect(broker, lambda got: _duplicate_sources(got) == {"order", "fill"})
    broker.orders()
    listed = collect(broker, lambda got: any(isinstance(event, DuplicateOrder) for event in got))

    extra = [event for event in events if isinstance(event, DuplicateOrder)]
    assert extra
    assert {event.broker_order_ids for event in extra} == {(answer.broker_order_id, "D0000002")}
    assert {event.source for event in extra} == {"order", "fill"}
    assert [event for event in listed if isinstance(event, DuplicateOrder)] == [
        DuplicateOrder("A1", (answer.broker_order_id, "D0000002"), "query")
    ]
    fills = [event for event in events + listed if isinstance(event, OrderFilled)]
    assert [fill.broker_order_id for fill in fills] == [answer.broker_order_id]


def _duplicate_sources(events: list[BrokerEvent]) -> set[str]:
    return {event.source for event in events if isinstance(event, DuplicateOrder)}
