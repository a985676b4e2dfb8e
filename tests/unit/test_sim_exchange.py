"""The simulated exchange: random walk, matching rules, positions, and the state it keeps."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.errors import InvalidInput
from aftm.market.products import product_of
from aftm.wire.protocol import OrderUpdated
from aftm_gateway.errors import BrokerRejected, BrokerUnavailable, NotLoggedIn, OrderNotFound
from aftm_gateway.simulated.exchange import Exchange
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.matching import Rules, admit, apply_fill, refusal, resting_fill_price
from aftm_gateway.simulated.replay import FileReplay
from aftm_gateway.simulated.sim import SimBroker
from aftm_gateway.simulated.venue import VenueConfig
from aftm_gateway.simulated.walk import MAX_STEP, RandomWalk, due_count, step

SYMBOLS = ("TXFL6", "MXFL6")
RULES = Rules(frozenset(SYMBOLS), frozenset({"SIM-0001"}), max_quantity=100)
S = 1_000_000_000


def an_order(
    *,
    client_order_id: str = "A1",
    account: str = "SIM-0001",
    symbol: str = "TXFL6",
    side: Side = Side.BUY,
    quantity: int = 1,
    order_type: OrderType = OrderType.MARKET,
    price: Decimal | None = None,
    time_in_force: TimeInForce = TimeInForce.IOC,
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


def a_limit(side: Side, price: int, tif: TimeInForce = TimeInForce.ROD) -> PlaceOrder:
    return an_order(side=side, order_type=OrderType.LIMIT, price=Decimal(price), time_in_force=tif)


# --- the random walk -----------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=50_000), st.integers())
def test_a_step_moves_at_most_three_points_and_never_below_one(price: int, seed: int) -> None:
    moved = step(price, random.Random(seed))

    assert abs(moved - price) <= MAX_STEP or moved == 1
    assert moved >= 1


@pytest.mark.parametrize(
    ("next_due", "now", "expected"),
    [
        (100, 99, (0, 100)),  # not yet
        (100, 100, (1, 110)),  # exactly due
        (100, 135, (4, 140)),  # several due: 100, 110, 120, 130
        (100, 10_000, (5, 10_010)),  # a stall: capped, schedule restarts from now
    ],
)
def test_due_count(next_due: int, now: int, expected: tuple[int, int]) -> None:
    assert due_count(next_due, now, interval_ns=10, max_count=5) == expected


def walk(seed: int = 7, ticks_per_s: float = 20.0) -> RandomWalk:
    return RandomWalk(SYMBOLS, dict.fromkeys(SYMBOLS, 23_000), ticks_per_s=ticks_per_s, seed=seed)


def test_a_walk_ticks_at_its_rate_once_started() -> None:
    feed = walk()
    assert feed.due(10 * S) == []  # not started: no market
    feed.start(0)

    ticks = feed.due(S)

    assert len(ticks) == 20
    assert {tick.symbol for tick in ticks} == set(SYMBOLS)
    assert feed.next_due_ns() == S + S // 20


def test_the_same_seed_walks_the_same_market() -> None:
    feeds = [walk(seed=3), walk(seed=3), walk(seed=4)]
    for feed in feeds:
        feed.start(0)

    first, again, other = (feed.due(S) for feed in feeds)

    assert first == again
    assert other != first


@pytest.mark.parametrize(
    ("symbol", "name", "point_value"),
    [("TXFL6", "臺股期貨", 200), ("MXFA7", "小型臺指", 50), ("TMFL6", "微型臺指", 10)],
)
def test_products_have_taifex_point_values(symbol: str, name: str, point_value: int) -> None:
    product = product_of(symbol)

    assert (product.name, product.point_value_twd) == (name, point_value)


@pytest.mark.parametrize("symbol", ["TXF", "TXFM6", "XYZL6", "txfl6", "TXFL66"])
def test_malformed_or_unlisted_symbols_are_refused(symbol: str) -> None:
    with pytest.raises(InvalidInput, match="symbol"):
        product_of(symbol)


# --- matching ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "last", "reason"),
    [
        (an_order(symbol="XXXL6"), 23_000, "unknown symbol 'XXXL6'"),
        (an_order(account="NOPE"), 23_000, "unknown account 'NOPE'"),
        (an_order(quantity=0), 23_000, "quantity 0 is below the minimum of 1"),
        (an_order(quantity=101), 23_000, "quantity 101 exceeds the maximum of 100 per order"),
        (an_order(order_type=OrderType.LIMIT), 23_000, "a limit order needs a price"),
        (
            an_order(order_type=OrderType.LIMIT, price=Decimal("23000.5")),
            23_000,
            "limit price 23000.5 is not a whole number of points of at least 1",
        ),
        (an_order(), None, "no price has traded in TXFL6 yet, so a market order cannot fill"),
    ],
)
def test_refusals_say_why(order: PlaceOrder, last: int | None, reason: str) -> None:
    assert refusal(order, RULES, last) == reason


def test_a_market_order_fills_at_the_last_price() -> None:
    booked = admit(an_order(quantity=3), "S1", RULES, 23_010, now_ns=5)

    assert (booked.status, booked.filled_quantity, booked.average_price) == (
        OrderStatus.FILLED,
        3,
        Decimal(23_010),
    )


@pytest.mark.parametrize(
    ("side", "limit", "tif", "status", "price"),
    [
        (Side.BUY, 23_005, TimeInForce.ROD, OrderStatus.FILLED, Decimal(23_000)),  # marketable
        (Side.BUY, 22_990, TimeInForce.ROD, OrderStatus.ACCEPTED, None),  # rests
        (Side.BUY, 22_990, TimeInForce.IOC, OrderStatus.CANCELLED, None),
        (Side.BUY, 22_990, TimeInForce.FOK, OrderStatus.CANCELLED, None),
        (Side.SELL, 22_995, TimeInForce.IOC, OrderStatus.FILLED, Decimal(23_000)),
        (Side.SELL, 23_010, TimeInForce.ROD, OrderStatus.ACCEPTED, None),
        (Side.SELL, 23_010, TimeInForce.FOK, OrderStatus.CANCELLED, None),
    ],
)
def test_limit_orders_on_arrival(
    side: Side, limit: int, tif: TimeInForce, status: OrderStatus, price: Decimal | None
) -> None:
    booked = admit(a_limit(side, limit, tif), "S1", RULES, 23_000, now_ns=5)

    assert (booked.status, booked.average_price) == (status, price)


@pytest.mark.parametrize(
    ("side", "limit", "trade", "fill"),
    [
        (Side.BUY, 22_990, 22_991, None),
        (Side.BUY, 22_990, 22_990, 22_990),
        (Side.BUY, 22_990, 22_980, 22_990),  # traded through: filled at the limit
        (Side.SELL, 23_010, 23_009, None),
        (Side.SELL, 23_010, 23_012, 23_010),
    ],
)
def test_a_resting_order_fills_at_its_limit_when_reached(
    side: Side, limit: int, trade: int, fill: int | None
) -> None:
    resting = admit(a_limit(side, limit), "S1", RULES, 23_000, now_ns=5)

    assert resting_fill_price(resting, trade) == fill


@pytest.mark.parametrize(
    ("held", "average", "side", "quantity", "price", "net", "new_average"),
    [
        (0, "0", Side.BUY, 2, 23_000, 2, "23000"),  # open
        (2, "23000", Side.BUY, 1, 23_003, 3, "23001"),  # add: averaged in
        (1, "23000", Side.BUY, 2, 23_001, 3, "23000.6667"),
        (3, "23001", Side.SELL, 1, 23_050, 2, "23001"),  # reduce: average kept
        (2, "23001", Side.SELL, 2, 23_050, 0, "0"),  # flat
        (1, "23000", Side.SELL, 3, 23_020, -2, "23020"),  # flip: new average
        (-2, "23020", Side.SELL, 2, 23_010, -4, "23015"),  # add short
    ],
)
def test_positions_follow_fills(
    held: int, average: str, side: Side, quantity: int, price: int, net: int, new_average: str
) -> None:
    before = Position("SIM-0001", "TXFL6", held, Decimal(average)) if held else None

    after = apply_fill(before, "SIM-0001", "TXFL6", side, quantity, price)

    assert (after.net_quantity, after.average_price) == (net, Decimal(new_average))
    assert str(after.average_price) == new_average


# --- the exchange and its store ------------------------------------------------------------


_OPENED: list[Exchange | SimBroker] = []


@pytest.fixture(autouse=True)
def _close_what_was_opened() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def exchange_at(path: Path, *, reject_all: bool = False) -> Exchange:
    exchange = Exchange(
        ExchangeStore(path),
        RULES,
        start_prices=dict.fromkeys(SYMBOLS, 23_000),
        reject_all=reject_all,
    )
    _OPENED.append(exchange)
    return exchange


def test_a_filled_order_its_fill_and_position_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sim.sqlite"
    exchange = exchange_at(path)

    filled = exchange.place(an_order(quantity=2), now_ns=1)
    events = exchange.take_events()
    exchange.close()  # or a SIGKILL: the transaction was committed before place returned

    reopened = exchange_at(path)
    assert filled.status is OrderStatus.FILLED
    assert filled.broker_order_id == "S00000001"
    assert [type(event) for event in events] == [OrderFilled, OrderUpdated]
    assert reopened.find("A1") == filled
    assert reopened.positions("SIM-0001") == (Position("SIM-0001", "TXFL6", 2, Decimal(23_000)),)
    assert reopened.place(an_order(client_order_id="A2"), 2).broker_order_id == "S00000002"


def test_a_resting_order_fills_on_the_tick_that_reaches_it(tmp_path: Path) -> None:
    exchange = exchange_at(tmp_path / "sim.sqlite")
    exchange.place(a_limit(Side.BUY, 22_995), now_ns=1)
    exchange.take_events()

    quiet = exchange.trade([Tick("TXFL6", 22_996, 1, ts_ns=2), Tick("MXFL6", 22_000, 1, 3)])
    events = exchange.trade([Tick("TXFL6", 22_994, 1, ts_ns=4)])

    assert [type(event) for event in quiet] == [Tick, Tick]
    assert [type(event) for event in events] == [Tick, OrderFilled, OrderUpdated]
    found = exchange.find("A1")
    assert found is not None
    assert (found.status, found.average_price, found.ts_ns) == (
        OrderStatus.FILLED,
        Decimal(22_995),
        4,
    )
    assert exchange.last_price("TXFL6") == 22_994


def stored_prices(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT symbol, price FROM prices").fetchall())


def test_last_prices_are_written_once_a_second_of_trading_and_at_close(tmp_path: Path) -> None:
    path = tmp_path / "sim.sqlite"
    exchange = exchange_at(path)

    exchange.trade([Tick("TXFL6", 22_990, 1, ts_ns=S)])
    exchange.trade([Tick("TXFL6", 22_991, 1, ts_ns=S + 1)])
    within_the_second = stored_prices(path)
    exchange.trade([Tick("TXFL6", 22_992, 1, ts_ns=2 * S)])
    a_second_later = stored_prices(path)
    exchange.trade([Tick("MXFL6", 21_000, 1, ts_ns=2 * S + 1)])
    exchange.close()

    assert within_the_second == {"TXFL6": 22_990}
    assert a_second_later == {"TXFL6": 22_992}
    assert stored_prices(path) == {"TXFL6": 22_992, "MXFL6": 21_000}
    assert exchange_at(path).last_price("MXFL6") == 21_000


def test_a_fill_is_committed_with_the_tick_that_caused_it(tmp_path: Path) -> None:
    path = tmp_path / "sim.sqlite"
    exchange = exchange_at(path)
    exchange.place(a_limit(Side.BUY, 22_995), now_ns=S)
    exchange.trade([Tick("TXFL6", 22_994, 1, ts_ns=S + 1)])  # well within the second

    reopened = exchange_at(path)  # as after a SIGKILL: nothing was closed

    found = reopened.find("A1")
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert reopened.last_price("TXFL6") == 22_994


def test_the_exchange_does_not_deduplicate_notes(tmp_path: Path) -> None:
    """Like a real broker: refusing a second order with the same NOTE is the gateway's job."""
    exchange = exchange_at(tmp_path / "sim.sqlite")

    first = exchange.place(an_order(), 1)
    exchange.place(an_order(), 2)

    assert exchange.find("A1") == first
    assert len(exchange.orders(["SIM-0001"])) == 2


def test_cancel_a_resting_order_and_not_an_unknown_one(tmp_path: Path) -> None:
    exchange = exchange_at(tmp_path / "sim.sqlite")
    exchange.place(a_limit(Side.SELL, 23_100), now_ns=1)
    exchange.place(an_order(client_order_id="A2"), now_ns=1)

    cancelled = exchange.cancel("A1", now_ns=2)

    assert cancelled.status is OrderStatus.CANCELLED
    assert exchange.cancel("A2", now_ns=3).status is OrderStatus.FILLED  # finished: unchanged
    with pytest.raises(OrderNotFound):
        exchange.cancel("nope", now_ns=3)


def test_injected_rejection(tmp_path: Path) -> None:
    exchange = exchange_at(tmp_path / "sim.sqlite", reject_all=True)

    rejected = exchange.place(an_order(), 1)

    assert (rejected.status, rejected.reason) == (OrderStatus.REJECTED, "injected rejection")


# --- the sim broker --------------------------------------------------------------------------


def sim_broker(path: Path, *, reply_delay_ms: int = 0, reply_timeout_ms: int = 5000) -> SimBroker:
    config = VenueConfig(
        SYMBOLS,
        ("SIM-0001",),
        "sim",
        SecretStr("pw"),
        reply_delay_ms=reply_delay_ms,
        reply_timeout_ms=reply_timeout_ms,
    )
    broker = SimBroker(ExchangeStore(path), config, ticks_per_s=100, seed=1, clock=lambda: 7)
    _OPENED.append(broker)
    return broker


def test_the_sim_session(tmp_path: Path) -> None:
    broker = sim_broker(tmp_path / "sim.sqlite")

    with pytest.raises(BrokerRejected, match="login refused"):
        broker.login("sim", "wrong")
    refused = broker.place(an_order())
    with pytest.raises(NotLoggedIn):
        broker.accounts()
    broker.login("sim", "pw")

    assert (refused.status, refused.reason) == (OrderStatus.REJECTED, "not logged in")
    assert broker.find_order("A1") is None  # an order without a session is never recorded
    assert broker.accounts() == ("SIM-0001",)
    assert broker.place(an_order()).status is OrderStatus.FILLED


def test_only_registered_symbols_tick_and_only_while_logged_in(tmp_path: Path) -> None:
    broker = sim_broker(tmp_path / "sim.sqlite")
    broker.register("TXFL6")
    broker.login("sim", "pw")  # the market starts at the first login, at clock() == 7

    ticks = [event for event in broker.poll(7 + S) if isinstance(event, Tick)]
    broker.logout()

    assert ticks
    assert {tick.symbol for tick in ticks} == {"TXFL6"}
    assert broker.poll(7 + 2 * S) == []
    assert [future.registered for future in broker.futures()] == [False, True]  # MXF, TXF
    with pytest.raises(InvalidInput, match="symbol"):
        broker.register("TMFL6")


def test_a_slow_broker_records_the_order_and_then_times_out(tmp_path: Path) -> None:
    broker = sim_broker(tmp_path / "sim.sqlite", reply_delay_ms=50, reply_timeout_ms=20)
    broker.login("sim", "pw")

    with pytest.raises(BrokerUnavailable):
        broker.place(an_order())

    found = broker.find_order("A1")
    assert found is not None
    assert found.status is OrderStatus.FILLED


def test_sim_state_is_a_plain_sqlite_file(tmp_path: Path) -> None:
    broker = sim_broker(tmp_path / "sim.sqlite")
    broker.login("sim", "pw")
    broker.place(an_order())

    with closing(sqlite3.connect(tmp_path / "sim.sqlite")) as db:
        count = db.execute("SELECT COUNT(*) FROM orders WHERE client_order_id = 'A1'")
        assert count.fetchone() == (1,)


# --- replay pacing ---------------------------------------------------------------------------


def test_a_replay_plays_the_file_at_its_speed(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(
        "ts,symbol,price,qty\n"
        "1000000000,TXFL6,23000,1\n"
        "3000000000,XXXL6,1,1\n"  # not listed: skipped
        "3000000000,MXFL6,23001,2\n"
        "5000000000,TXFL6,23002,3\n"
    )
    feed = FileReplay(path, frozenset(SYMBOLS), speed=2.0)
    feed.start(100)

    first = feed.due(100)
    second = feed.due(100 + S)  # file time 1 s + 2 s / speed 2
    third = feed.due(100 + 2 * S - 1)

    assert [(tick.symbol, tick.price, tick.ts_ns) for tick in first] == [("TXFL6", 23_000, 100)]
    assert [(tick.symbol, tick.price) for tick in second] == [("MXFL6", 23_001)]
    assert third == []
    assert feed.next_due_ns() == 100 + 2 * S
    assert [tick.qty for tick in feed.due(100 + 2 * S)] == [3]
    assert feed.next_due_ns() is None
    feed.close()
