"""The sim gateway following TAIFEX's hours (AFTM_GATEWAY_SIM_CALENDAR=taifex), as a process.

Its market clock is faked with AFTM_MARKET_CLOCK_START and then runs at real speed, so a test
stands seconds before the regular session's 13:45 close and watches it pass. What the broker
did is read from its own SQLite store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import zmq

from aftm.domain.types import OrderStatus
from aftm.market.sessions import TAIPEI
from aftm.wire.protocol import SESSION_TOPIC, GetMarketSession, MarketSession, ProductSession
from tests.integration.test_gateway import Gateway, an_order, receive, snapshot_of

pytestmark = pytest.mark.slow
Context = zmq.Context[zmq.Socket[bytes]]
S = 1_000_000_000


def at_ns(taipei_time: str) -> int:
    return round(datetime.fromisoformat(taipei_time).replace(tzinfo=TAIPEI).timestamp()) * S


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[[str], Gateway]]:
    context: Context = zmq.Context()
    started: list[Gateway] = []

    def start(clock_start: str) -> Gateway:
        env = {
            "AFTM_GATEWAY_SIM_CALENDAR": "taifex",
            "AFTM_MARKET_CLOCK_START": clock_start,
        }
        folder = tmp_path / f"gateway-{len(started)}"
        folder.mkdir()
        gateway = Gateway(folder, context, **env)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.close()
    context.destroy(linger=0)


def next_session(sub: zmq.Socket[bytes], timeout_s: float = 15.0) -> MarketSession:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topic, message = receive(sub, 5000)
        if topic == SESSION_TOPIC:
            assert isinstance(message, MarketSession)
            return message
    raise AssertionError("no session message")


def txf(session: MarketSession) -> ProductSession:
    assert session.calendar == "taifex"
    return next(product for product in session.products if product.product == "TXF")


def test_orders_fill_until_the_1345_close_and_are_refused_after_it(
    start_gateway: Callable[[str], Gateway],
) -> None:
    gateway = start_gateway("2026-12-02T13:44:50+08:00").wait_healthy()
    sub = gateway.subscriber(SESSION_TOPIC)

    reply = gateway.ask(GetMarketSession())
    assert reply.ok, reply
    assert isinstance(reply.body, MarketSession)
    before = txf(reply.body)
    assert (before.phase, before.next_close_ns) == ("regular", at_ns("2026-12-02T13:45:00"))
    filled = snapshot_of(gateway.ask(an_order("BEFORE-CLOSE")))
    assert filled.status is OrderStatus.FILLED
    assert gateway.metric('aftm_gateway_market_session{phase="regular",product="TXF"}') == 1

    session = next_session(sub)
    while txf(session).phase != "closed":
        session = next_session(sub)
    closed = txf(session)
    refused = snapshot_of(gateway.ask(an_order("AFTER-CLOSE")))

    assert closed.next_open_ns == at_ns("2026-12-02T15:00:00")
    assert (refused.status, refused.reason) == (
        OrderStatus.REJECTED,
        "market closed (TXFL6): next open 2026-12-02T15:00+08:00",
    )
    assert gateway.orders_at_exchange("AFTER-CLOSE") == []
    assert len(gateway.orders_at_exchange("BEFORE-CLOSE")) == 1
    assert gateway.metric('aftm_gateway_orders_total{result="market_closed"}') == 1
    assert gateway.metric('aftm_gateway_market_session{phase="closed",product="TXF"}') == 1
    assert gateway.metric('aftm_gateway_market_session{phase="regular",product="TXF"}') == 0
    assert gateway.health()[0] == 200  # no ticks while closed is not a sick broker


def test_a_holiday_evening_refuses_every_order(start_gateway: Callable[[str], Gateway]) -> None:
    # 2026-10-09 (a Friday) is in the packaged holiday file: no after-hours session that night.
    gateway = start_gateway("2026-10-09T23:00:00+08:00").wait_healthy()

    refused = snapshot_of(gateway.ask(an_order("HOLIDAY")))
    reply = gateway.ask(GetMarketSession())

    assert (refused.status, refused.reason) == (
        OrderStatus.REJECTED,
        "market closed (TXFL6): next open 2026-10-12T08:45+08:00",
    )
    assert gateway.orders_at_exchange("HOLIDAY") == []
    assert isinstance(reply.body, MarketSession)
    assert (txf(reply.body).phase, txf(reply.body).next_open_ns) == (
        "closed",
        at_ns("2026-10-12T08:45:00"),
    )


def test_the_default_sim_says_it_is_always_open(tmp_path: Path) -> None:
    context: Context = zmq.Context()
    gateway = Gateway(tmp_path, context)
    try:
        gateway.wait_healthy()
        sub = gateway.subscriber(SESSION_TOPIC)
        session = next_session(sub)
        asked = gateway.ask(GetMarketSession())
    finally:
        gateway.close()
        context.destroy(linger=0)

    assert session.calendar == "always_open"
    assert {(p.product, p.phase, p.next_open_ns) for p in session.products} == {
        ("TXF", "regular", 0),
        ("MXF", "regular", 0),
        ("TMF", "regular", 0),
    }
    assert isinstance(asked.body, MarketSession)
    assert asked.body.calendar == "always_open"
