"""The sim following TAIFEX's hours: what it refuses, when it ticks, what session it reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from aftm.domain.market import Tick
from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.market.calendar import load_calendar
from aftm.market.clock import MarketClock
from aftm.market.sessions import TAIPEI
from aftm.wire.protocol import MarketSession, ProductSession
from aftm_gateway.market_session import result_of
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.hours import AlwaysOpen
from aftm_gateway.simulated.replay import ReplayBroker
from aftm_gateway.simulated.sim import SimBroker
from aftm_gateway.simulated.venue import ExchangeBroker, VenueConfig

S = 1_000_000_000
SYMBOLS = ("TXFL6", "MXFL6")
CALENDAR = load_calendar()


class FakeMonotonic:
    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


@pytest.fixture
def opened() -> Iterator[list[ExchangeBroker]]:
    brokers: list[ExchangeBroker] = []
    yield brokers
    for broker in brokers:
        broker.close()


def taifex_sim(
    path: Path, start: str, opened: list[ExchangeBroker], monotonic: FakeMonotonic | None = None
) -> SimBroker:
    config = VenueConfig(SYMBOLS, ("SIM-0001",), "demo", SecretStr("demo"))
    clock = MarketClock(taipei(start), monotonic or FakeMonotonic())
    broker = SimBroker(
        ExchangeStore(path),
        config,
        ticks_per_s=100,
        seed=1,
        start_price=23_000,
        clock=lambda: 0,  # the feed starts at 0 ns; polls say how much time has passed
        calendar=CALENDAR,
        market_clock=clock,
    )
    opened.append(broker)
    broker.login("demo", "demo")
    return broker


def an_order(
    order_type: OrderType = OrderType.MARKET,
    price: int | None = None,
    time_in_force: TimeInForce = TimeInForce.IOC,
    client_order_id: str = "A1",
) -> PlaceOrder:
    return PlaceOrder(
        client_order_id=client_order_id,
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        order_type=order_type,
        price=None if price is None else Decimal(price),
        time_in_force=time_in_force,
    )


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("2026-12-02T13:45:00", "market closed (TXFL6): next open 2026-12-02T15:00+08:00"),
        ("2026-12-02T05:00:00", "market closed (TXFL6): next open 2026-12-02T08:45+08:00"),
        ("2026-10-09T23:00:00", "market closed (TXFL6): next open 2026-10-12T08:45+08:00"),
        ("2026-12-25T23:00:00", "market closed (TXFL6): no session ahead"),  # expired 12-16
        ("2026-12-16T13:30:00", "market closed (TXFL6): no session ahead"),  # its last day
        ("2026-12-16T13:29:59", None),
    ],
)
def test_a_closed_market_refuses_and_records_nothing(
    tmp_path: Path, opened: list[ExchangeBroker], start: str, reason: str | None
) -> None:
    broker = taifex_sim(tmp_path / "sim.sqlite", start, opened)

    answer = broker.place(an_order())

    if reason is None:
        assert answer.status is OrderStatus.FILLED
        return
    assert (answer.status, answer.reason, answer.broker_order_id) == (
        OrderStatus.REJECTED,
        reason,
        "",
    )
    assert broker.find_order("A1") is None
    assert result_of(answer.reason) == "market_closed"


@pytest.mark.parametrize(
    "start", ["2026-12-02T08:45:00", "2026-12-02T13:44:59", "2026-12-03T04:59:59"]
)
def test_an_open_market_fills(tmp_path: Path, opened: list[ExchangeBroker], start: str) -> None:
    broker = taifex_sim(tmp_path / "sim.sqlite", start, opened)

    assert broker.place(an_order()).status is OrderStatus.FILLED


def test_pre_open_takes_only_rod_limits_which_rest_until_the_open(
    tmp_path: Path, opened: list[ExchangeBroker]
) -> None:
    monotonic = FakeMonotonic()
    broker = taifex_sim(tmp_path / "sim.sqlite", "2026-12-02T14:55:00", opened, monotonic)
    broker.register("TXFL6")

    market = broker.place(an_order())
    ioc = broker.place(an_order(OrderType.LIMIT, 23_100, client_order_id="A2"))
    rod = broker.place(an_order(OrderType.LIMIT, 23_100, TimeInForce.ROD, client_order_id="A3"))

    assert market.status is OrderStatus.REJECTED
    assert market.reason.startswith("market in pre-open (TXFL6)")
    assert "2026-12-02T15:00+08:00" in market.reason
    assert ioc.status is OrderStatus.REJECTED
    assert rod.status is OrderStatus.ACCEPTED  # marketable at 23000, yet it waits for the open
    assert [e for e in broker.poll(10 * S) if isinstance(e, Tick)] == []
    monotonic.s = 301.0  # 15:00:01
    broker.poll(11 * S)
    ticks = broker.poll(12 * S)
    assert any(isinstance(event, Tick) for event in ticks)
    assert broker.find_order("A3").status is OrderStatus.FILLED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("price", "status"),
    [
        (25_300, OrderStatus.FILLED),  # 23000 + 10%: the upper limit itself
        (25_301, OrderStatus.REJECTED),
        (20_700, OrderStatus.ACCEPTED),  # the lower limit rests below the market
        (20_699, OrderStatus.REJECTED),
    ],
)
def test_limit_prices_beyond_the_daily_limit_are_refused(
    tmp_path: Path, opened: list[ExchangeBroker], price: int, status: OrderStatus
) -> None:
    broker = taifex_sim(tmp_path / "sim.sqlite", "2026-12-02T10:00:00", opened)

    answer = broker.place(an_order(OrderType.LIMIT, price, TimeInForce.ROD))

    assert answer.status is status
    if status is OrderStatus.REJECTED:
        assert answer.reason == (
            f"limit price {price} beyond the daily price limit 20700-25300 (TXFL6, reference 23000)"
        )
        assert result_of(answer.reason) == "price_limit"
        assert broker.find_order("A1") is None


def test_the_walk_pauses_while_closed_and_the_reference_moves_at_the_close(
    tmp_path: Path, opened: list[ExchangeBroker]
) -> None:
    monotonic = FakeMonotonic()
    broker = taifex_sim(tmp_path / "sim.sqlite", "2026-12-02T13:44:00", opened, monotonic)
    broker.register("TXFL6")
    broker.register("MXFL6")
    traded = [e for t in range(1, 30) for e in broker.poll(t * S // 10) if isinstance(e, Tick)]
    assert traded
    monotonic.s = 61.0  # 13:45:01
    broker.poll(3 * S)  # the hours are read every 200 ms of polling
    broker.poll(33 * S // 10)

    closed = [e for t in range(34, 60) for e in broker.poll(t * S // 10) if isinstance(e, Tick)]

    assert closed == []
    assert broker.next_event_ns() is not None
    last = {future.symbol: future.last_price for future in broker.futures()}
    assert last["TXFL6"] != 23_000
    assert broker.hours.reference("TXFL6") == last["TXFL6"]  # type: ignore[attr-defined]


def test_the_session_names_each_product_phase_and_next_open_and_close(
    tmp_path: Path, opened: list[ExchangeBroker]
) -> None:
    broker = taifex_sim(tmp_path / "sim.sqlite", "2026-12-02T13:44:30", opened)

    session = broker.hours.session(5)

    close = round(taipei("2026-12-02T13:45:00").timestamp()) * S
    evening = round(taipei("2026-12-02T15:00:00").timestamp()) * S
    assert session == MarketSession(
        "taifex",
        (
            ProductSession("MXF", "regular", evening, close),
            ProductSession("TXF", "regular", evening, close),
        ),
        5,
    )


def test_always_open_says_so() -> None:
    assert AlwaysOpen(SYMBOLS).session(9) == MarketSession(
        "always_open",
        (ProductSession("MXF", "regular", 0, 0), ProductSession("TXF", "regular", 0, 0)),
        9,
    )


def test_a_replay_reports_the_session_of_the_recorded_time(
    tmp_path: Path, opened: list[ExchangeBroker]
) -> None:
    regular = at_ns("2026-12-02T13:44:59")
    evening = at_ns("2026-12-02T15:00:01")
    path = tmp_path / "ticks.csv"
    path.write_text(f"ts,symbol,price,qty\n{regular},TXFL6,23000,1\n{evening},TXFL6,23001,1\n")
    config = VenueConfig(SYMBOLS, ("SIM-0001",), "demo", SecretStr("demo"))
    broker = ReplayBroker(
        ExchangeStore(tmp_path / "sim.sqlite"), config, path=path, speed=1e6, clock=lambda: 0
    )
    opened.append(broker)

    assert broker.hours.session(1) == MarketSession("replay", (), 1)  # nothing read yet
    broker.login("demo", "demo")
    before = broker.hours.session(2)
    broker.poll(0)
    at_the_close = broker.hours.session(3)
    broker.poll(S)
    in_the_evening = broker.hours.session(4)

    assert [(p.product, p.phase) for p in before.products] == [
        ("MXF", "regular"),
        ("TXF", "regular"),
    ]
    assert before.calendar == "replay"
    assert at_the_close.products[1].next_close_ns == at_ns("2026-12-02T13:45:00")
    assert in_the_evening.products[1].phase == "after_hours"
    assert broker.place(an_order()).status is OrderStatus.FILLED  # a replay refuses nothing


def at_ns(taipei_time: str) -> int:
    return round(taipei(taipei_time).timestamp()) * S
