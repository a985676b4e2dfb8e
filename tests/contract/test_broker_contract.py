"""The Broker port's contract, run against every adapter (see conftest.py: sim and pfcf).

What the gateway relies on: a session gates everything, registered symbols tick, an order's
answer and its reports agree, NOTE finds an order again (also after a restart), positions are
the broker's, and a slow broker leaves an order recorded but its answer unknown.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.errors import InvalidInput
from aftm.market.products import DEFAULT_SYMBOLS
from aftm.wire.protocol import OrderSnapshot, OrderUpdated
from aftm_gateway.broker import BrokerEvent
from aftm_gateway.errors import BrokerRejected, BrokerUnavailable, NotLoggedIn, OrderNotFound
from tests.contract.conftest import ACCOUNT, PASSWORD, USER, Venue, collect

FAR_BELOW = Decimal(1000)  # a buy limit the market never reaches in a test


def an_order(
    client_order_id: str = "A1",
    side: Side = Side.BUY,
    quantity: int = 1,
    *,
    order_type: OrderType = OrderType.MARKET,
    price: Decimal | None = None,
    time_in_force: TimeInForce = TimeInForce.IOC,
    symbol: str = "TXFL6",
    account: str = ACCOUNT,
) -> PlaceOrder:
    return PlaceOrder(
        client_order_id=client_order_id,
        account=account,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=price,
        time_in_force=time_in_force,
    )


def a_resting_buy(client_order_id: str = "A1") -> PlaceOrder:
    return an_order(
        client_order_id, order_type=OrderType.LIMIT, price=FAR_BELOW, time_in_force=TimeInForce.ROD
    )


def essence(order: OrderSnapshot | None) -> tuple[object, ...] | None:
    """What two answers about one order must agree on (timestamps may differ)."""
    if order is None:
        return None
    return (
        order.client_order_id,
        order.broker_order_id,
        order.status,
        order.filled_quantity,
        order.average_price,
    )


def final_update(events: list[BrokerEvent], client_order_id: str) -> OrderSnapshot | None:
    updates = [
        event.order
        for event in events
        if isinstance(event, OrderUpdated) and event.order.client_order_id == client_order_id
    ]
    return updates[-1] if updates else None


def ticks_of(events: list[BrokerEvent]) -> list[Tick]:
    return [event for event in events if isinstance(event, Tick)]


# --- the session ------------------------------------------------------------------------------


def test_without_a_session_nothing_is_served(venue: Venue) -> None:
    broker = venue.open()

    with pytest.raises(BrokerRejected, match="login refused"):
        broker.login(USER, "wrong")
    refused = broker.place(an_order())

    assert not broker.is_logged_in
    assert (refused.status, refused.reason) == (OrderStatus.REJECTED, "not logged in")
    with pytest.raises(NotLoggedIn):
        broker.accounts()
    with pytest.raises(NotLoggedIn):
        broker.find_order("A1", sent_ns=None)


def test_a_session_lists_its_accounts_and_futures(venue: Venue) -> None:
    broker = venue.logged_in("TXFL6")

    futures = {future.symbol: future for future in broker.futures()}

    assert broker.is_logged_in
    assert broker.accounts() == (ACCOUNT,)
    assert set(futures) == set(DEFAULT_SYMBOLS)
    assert (futures["TXFL6"].registered, futures["MXFL6"].registered) == (True, False)
    assert (futures["TXFL6"].name, futures["TXFL6"].point_value_twd) == ("臺股期貨", 200)
    assert isinstance(broker.next_event_ns(), int)


@pytest.mark.parametrize("symbol", ["TXF", "TXFM6", "XYZL6", "TXFA7"])
def test_malformed_or_unlisted_symbols_cannot_be_registered(venue: Venue, symbol: str) -> None:
    broker = venue.logged_in()

    with pytest.raises(InvalidInput, match="symbol"):
        broker.register(symbol)


def test_registered_symbols_tick_while_logged_in(venue: Venue) -> None:
    broker = venue.logged_in("TXFL6", "MXFL6")
    collect(broker, lambda events: "MXFL6" in {tick.symbol for tick in ticks_of(events)})

    broker.unregister("MXFL6")
    later = ticks_of(collect(broker, lambda events: len(ticks_of(events)) >= 10))
    broker.logout()
    time.sleep(0.1)

    assert {tick.symbol for tick in later} == {"TXFL6"}
    assert all(tick.price >= 1 and tick.seq == 0 for tick in later)
    assert not broker.is_logged_in
    assert ticks_of(broker.poll(time.time_ns())) == []


def test_registrations_outlive_a_logout(venue: Venue) -> None:
    broker = venue.logged_in("TXFL6")
    broker.logout()

    broker.login(USER, PASSWORD)

    assert ticks_of(collect(broker, lambda events: len(ticks_of(events)) >= 3))


# --- orders -----------------------------------------------------------------------------------


def test_a_market_order_fills_and_is_reported_once(venue: Venue) -> None:
    broker = venue.logged_in()

    answer = broker.place(an_order(quantity=2))
    events = collect(broker, lambda got: essence(final_update(got, "A1")) == essence(answer))
    time.sleep(0.1)
    events += broker.poll(time.time_ns())

    assert (answer.status, answer.filled_quantity, answer.quantity) == (OrderStatus.FILLED, 2, 2)
    assert answer.broker_order_id
    assert answer.average_price is not None
    fills = [event for event in events if isinstance(event, OrderFilled)]
    assert [(fill.client_order_id, fill.quantity, fill.price) for fill in fills] == [
        ("A1", 2, answer.average_price)
    ]
    assert fills[0].broker_order_id == answer.broker_order_id


def test_an_order_is_found_again_by_its_note(venue: Venue) -> None:
    broker = venue.logged_in()
    answer = broker.place(an_order())

    assert essence(broker.find_order("A1", sent_ns=None)) == essence(answer)
    assert broker.find_order("A-never-sent", sent_ns=None) is None


def test_positions_follow_fills(venue: Venue) -> None:
    broker = venue.logged_in()

    opened = broker.place(an_order("A1", Side.BUY, 2))
    broker.place(an_order("A2", Side.SELL, 1))
    reduced = broker.positions(ACCOUNT)
    flipped_at = broker.place(an_order("A3", Side.SELL, 3)).average_price
    flipped = broker.positions(ACCOUNT)
    broker.place(an_order("A4", Side.BUY, 2))

    assert opened.average_price is not None
    assert flipped_at is not None
    assert reduced == (Position(ACCOUNT, "TXFL6", 1, opened.average_price),)
    assert flipped == (Position(ACCOUNT, "TXFL6", -2, flipped_at),)
    assert broker.positions(ACCOUNT) == ()
    with pytest.raises(InvalidInput, match="account"):
        broker.positions("NOT-MINE")


def test_a_resting_order_is_cancelled_and_a_finished_one_is_not(venue: Venue) -> None:
    broker = venue.logged_in()
    resting = broker.place(a_resting_buy("A1"))
    filled = broker.place(an_order("A2"))

    cancelled = broker.cancel("A1", sent_ns=None)

    assert resting.status is OrderStatus.ACCEPTED
    assert cancelled.status is OrderStatus.CANCELLED
    assert broker.cancel("A1", sent_ns=None).status is OrderStatus.CANCELLED
    assert essence(broker.cancel("A2", sent_ns=None)) == essence(filled)
    assert essence(broker.find_order("A1", sent_ns=None)) == essence(cancelled)
    with pytest.raises(OrderNotFound):
        broker.cancel("A-never-sent", sent_ns=None)


@pytest.mark.parametrize("time_in_force", [TimeInForce.IOC, TimeInForce.FOK])
def test_an_unreachable_ioc_or_fok_limit_is_cancelled(
    venue: Venue, time_in_force: TimeInForce
) -> None:
    broker = venue.logged_in()
    order = an_order(order_type=OrderType.LIMIT, price=FAR_BELOW, time_in_force=time_in_force)

    answer = broker.place(order)

    assert (answer.status, answer.filled_quantity) == (OrderStatus.CANCELLED, 0)
    assert "not reachable" in answer.reason


def test_a_marketable_limit_order_fills(venue: Venue) -> None:
    broker = venue.logged_in()
    order = an_order(
        order_type=OrderType.LIMIT, price=Decimal(40_000), time_in_force=TimeInForce.ROD
    )

    answer = broker.place(order)  # accepted first, or filled at once: both are answers
    events = collect(broker, lambda got: any(isinstance(event, OrderFilled) for event in got))

    assert answer.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED)
    found = broker.find_order("A1", sent_ns=None)
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.average_price is not None
    assert found.average_price <= 40_000
    assert essence(final_update(events, "A1")) == essence(found)


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (an_order(quantity=101), "quantity 101 exceeds the maximum of 100 per order"),
        (an_order(symbol="TXFA7"), "unknown symbol 'TXFA7'"),
        (an_order(account="NOT-MINE"), "unknown account"),
    ],
)
def test_refused_orders_say_why(venue: Venue, order: PlaceOrder, reason: str) -> None:
    broker = venue.logged_in()

    answer = broker.place(order)

    assert answer.status is OrderStatus.REJECTED
    assert reason in answer.reason


def test_injected_rejection(venue: Venue) -> None:
    broker = venue.logged_in(reject_all=True)

    answer = broker.place(an_order())

    assert (answer.status, answer.reason) == (OrderStatus.REJECTED, "injected rejection")


def test_orders_lists_every_order_oldest_first(venue: Venue) -> None:
    broker = venue.logged_in()
    broker.place(an_order("A1"))
    broker.place(a_resting_buy("A2"))
    broker.place(an_order("A3", order_type=OrderType.LIMIT, price=FAR_BELOW))

    listed = [(order.client_order_id, order.status) for order in broker.orders()]

    assert listed == [
        ("A1", OrderStatus.FILLED),
        ("A2", OrderStatus.ACCEPTED),
        ("A3", OrderStatus.CANCELLED),
    ]


def test_a_slow_broker_records_the_order_and_leaves_its_answer_unknown(venue: Venue) -> None:
    broker = venue.logged_in(reply_delay_ms=400, timeout_ms=100)

    with pytest.raises(BrokerUnavailable):
        broker.place(an_order())

    found = broker.find_order("A1", sent_ns=None)
    assert found is not None
    assert found.status is OrderStatus.FILLED


def test_orders_and_positions_outlive_the_broker_process(venue: Venue) -> None:
    broker = venue.logged_in()
    filled = broker.place(an_order("A1", quantity=2))
    broker.place(a_resting_buy("A2"))
    positions = broker.positions(ACCOUNT)
    broker.close()

    again = venue.logged_in()

    assert essence(again.find_order("A1", sent_ns=None)) == essence(filled)
    assert again.positions(ACCOUNT) == positions
    assert again.cancel("A2", sent_ns=None).status is OrderStatus.CANCELLED
    assert [order.client_order_id for order in again.orders()] == ["A1", "A2"]


def test_fills_list_every_fill_once_and_outlive_the_broker_process(venue: Venue) -> None:
    broker = venue.logged_in()
    first = broker.place(an_order("A1", Side.BUY, 2))
    second = broker.place(an_order("A2", Side.SELL, 1))
    broker.place(a_resting_buy("A3"))  # no fill: not listed
    events = collect(broker, lambda got: sum(isinstance(e, OrderFilled) for e in got) >= 2)
    heard = [event for event in events if isinstance(event, OrderFilled)]
    broker.close()

    listed = venue.logged_in().fills()

    assert [(f.client_order_id, f.side, f.quantity) for f in listed] == [
        ("A1", Side.BUY, 2),
        ("A2", Side.SELL, 1),
    ]
    assert [f.price for f in listed] == [first.average_price, second.average_price]
    assert [f.broker_order_id for f in listed] == [first.broker_order_id, second.broker_order_id]
    # The same fill ids as the live reports, so a listener can tell what it already has.
    assert {f.fill_id for f in listed} == {f.fill_id for f in heard}
