"""The gateway process on the PFCF adapter over the .NET test double (AFTM_GATEWAY_BROKER=pfcf).

The same gateway as test_gateway.py, with the vendor DLL's double loaded through pythonnet on
Mono: it logs in, trades, reports, answers a repeated order from its journal without a second
broker order, and stops cleanly on SIGTERM. A broker that acknowledges an order late (after the
gateway's timeout) is asked, never sent the order again; reports the gateway cannot match, and a
second broker order under one NOTE, are counted and alarmed. What the broker was sent is read
from the double's own state file. A soak run checks 100,000 ticks from the DLL's thread against
orders from the loop's (bench/pfcf_soak.py runs it 20 times).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ErrorCode,
    GatewayHealth,
    GatewayHeartbeat,
    GetHealth,
    ListPositions,
    OrderSnapshot,
    PositionList,
    QueryOrder,
    Reply,
)
from tests.integration.test_gateway import Context, Gateway, an_order, receive
from tests.support import dotnet

pytestmark = pytest.mark.slow
CLEAN_STOP_S = 1.5
STATE = "pfcf-double-state.tsv"
WAIT_S = 20.0


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def gateway(tmp_path: Path, context: Context) -> Iterator[Gateway]:
    env = dotnet.gateway_env(dotnet.double_dll(), tmp_path / "pfcf-double-state.tsv")
    opened = Gateway(tmp_path, context, **env)
    yield opened
    opened.close()


@pytest.fixture
def gateway_on(tmp_path: Path, context: Context) -> Iterator[Callable[..., Gateway]]:
    """Start a gateway on the double with extra AFTM_GATEWAY_* / PFCF_DOUBLE_* settings."""
    started: list[Gateway] = []

    def start(**extra: str) -> Gateway:
        env = {**dotnet.gateway_env(dotnet.double_dll(), tmp_path / STATE), **extra}
        started.append(Gateway(tmp_path, context, **env))
        return started[-1].wait_healthy()

    yield start
    for opened in started:
        opened.close()


def wait_for(what: str, check: Callable[[], bool], gateway: Gateway) -> None:
    """Wait until `check()`; fails with the gateway's log instead of hanging."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_S}s\n{gateway.process.log()}")
        time.sleep(0.05)


def health_of(gateway: Gateway) -> GatewayHealth:
    health = gateway.ask(GetHealth()).body
    assert isinstance(health, GatewayHealth)
    return health


def test_the_gateway_trades_on_the_double_once_per_client_order_id(gateway: Gateway) -> None:
    gateway.wait_healthy()
    fills = gateway.subscriber(FILL_TOPIC)
    status, details = gateway.health()

    first = gateway.ask(an_order("A1", quantity=2))
    again = gateway.ask(an_order("A1", quantity=2))
    topic, fill = receive(fills)
    positions = gateway.ask(ListPositions(dotnet.ACCOUNT)).body
    fills.close()

    assert (status, details["broker"], details["logged_in"]) == (200, "pfcf", True)
    assert isinstance(first.body, OrderSnapshot)
    assert (first.body.status, first.body.filled_quantity) == (OrderStatus.FILLED, 2)
    assert again.body == first.body  # from the journal: the broker is not asked twice
    assert [
        order.client_order_id
        for order in dotnet.read_orders(gateway.folder / "pfcf-double-state.tsv")
    ] == ["A1"]
    assert topic == FILL_TOPIC
    assert isinstance(fill, OrderFilled)
    assert (fill.client_order_id, fill.quantity) == ("A1", 2)
    assert isinstance(positions, PositionList)
    assert positions.positions == (
        Position(dotnet.ACCOUNT, "TXFL6", 2, first.body.average_price or fill.price),
    )


def test_the_gateway_on_the_double_stops_cleanly(gateway: Gateway) -> None:
    gateway.wait_healthy()

    started = time.monotonic()
    code = gateway.process.stop()

    assert code == 0
    assert time.monotonic() - started < CLEAN_STOP_S
    assert "gateway stopped" in gateway.process.log()


def test_a_file_that_is_not_the_vendor_dll_stops_the_start_with_a_reason(
    tmp_path: Path, context: Context
) -> None:
    dotnet.double_dll()  # skips without Mono: the failure is the runtime's to report
    fake = tmp_path / "PFCFAPI.dll"
    fake.write_text("not an assembly")
    env = dotnet.gateway_env(fake, tmp_path / "state.tsv")
    gateway = Gateway(tmp_path, context, **env)

    assert gateway.process.process is not None
    code = gateway.process.process.wait(30)

    assert code == 1
    assert "gateway could not start" in gateway.process.log()
    assert "could not load PFCFAPI" in gateway.process.log()


def test_a_soak_of_100000_ticks_completes(tmp_path: Path) -> None:
    dll = dotnet.double_dll()
    command = [sys.executable, "-m", "bench.pfcf_soak", "--child", str(dll)]

    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["ok"], figures
    assert figures["ticks"] == 100_000


def test_a_late_acknowledgement_is_awaited_and_the_order_is_never_sent_twice(
    gateway_on: Callable[..., Gateway], tmp_path: Path
) -> None:
    hold = tmp_path / "hold-orders"
    hold.touch()  # the double takes orders but books and reports them only once this is gone
    gateway = gateway_on(
        AFTM_GATEWAY_BROKER_TIMEOUT_MS="300",
        AFTM_GATEWAY_PFCF_NOT_FOUND_GRACE_MS="600000",
        PFCF_DOUBLE_HOLD_ORDERS_PATH=str(hold),
    )
    order = an_order("L1", account=dotnet.ACCOUNT)

    first = gateway.ask(order)
    again = gateway.ask(order)
    queried = gateway.ask(QueryOrder("L1"))
    taken_while_held = dotnet.read_taken(tmp_path / STATE)
    booked_while_held = dotnet.read_orders(tmp_path / STATE)
    hold.unlink()  # the broker's acknowledgement arrives, long after the gateway's timeout
    answers: list[Reply] = []

    def is_found() -> bool:
        answers.append(gateway.ask(QueryOrder("L1")))
        return answers[-1].ok

    wait_for("the late order is found", is_found, gateway)
    repeated = gateway.ask(order)

    assert [reply.error_code for reply in (first, again, queried)] == [ErrorCode.UNAVAILABLE] * 3
    assert taken_while_held == ["L1"]
    assert booked_while_held == []
    assert all(reply.error_code is ErrorCode.UNAVAILABLE for reply in answers[:-1])
    found = answers[-1].body
    assert isinstance(found, OrderSnapshot)
    assert found.status is OrderStatus.FILLED
    assert repeated.body == found
    assert dotnet.read_taken(tmp_path / STATE) == ["L1"]
    booked = dotnet.read_orders(tmp_path / STATE)
    assert [(o.client_order_id, o.broker_order_id) for o in booked] == [
        ("L1", found.broker_order_id)
    ]


def test_a_second_broker_order_for_one_note_raises_the_alarm(
    gateway_on: Callable[..., Gateway], tmp_path: Path
) -> None:
    gateway = gateway_on(PFCF_DOUBLE_DUPLICATE_ORDERS="true")
    heartbeats = gateway.subscriber()

    answer = gateway.ask(an_order("D1", account=dotnet.ACCOUNT))
    wait_for("the duplicate alarm", lambda: health_of(gateway).duplicate_orders == 1, gateway)
    beat: object = None
    while not (isinstance(beat, GatewayHeartbeat) and beat.health.duplicate_orders):
        topic, beat = receive(heartbeats)
        assert topic == HEARTBEAT_TOPIC
    heartbeats.close()

    booked = dotnet.read_orders(tmp_path / STATE)
    assert answer.ok
    assert [order.client_order_id for order in booked] == ["D1", "D1"]  # the injected fault
    assert gateway.metric("aftm_gateway_duplicate_broker_orders_total") == 1.0
    alarms = [line for line in gateway.process.log().splitlines() if "ERROR" in line]
    assert any(
        "client_order_id=D1" in line and all(o.broker_order_id in line for o in booked)
        for line in alarms
    ), alarms
    assert gateway.metric("aftm_gateway_unmatched_reports_total") == 0.0


def test_reports_of_an_order_the_gateway_never_placed_are_counted_and_logged_once(
    gateway_on: Callable[..., Gateway], tmp_path: Path
) -> None:
    # An order another terminal left resting at the broker; the market reaches it at once.
    elsewhere = ["O", "D0000009", "X-ELSEWHERE", dotnet.ACCOUNT, "TXFL6", "buy", "1", "limit"]
    elsewhere += ["23010", "rod", "accepted", "0", "", "1"]
    (tmp_path / STATE).write_text("\t".join(elsewhere) + "\n", encoding="utf-8")
    gateway = gateway_on()

    def counted() -> bool:
        return all(
            gateway.metric(f'aftm_gateway_unmatched_reports_total{{kind="{kind}"}}') >= 1
            for kind in ("order", "fill")
        )

    wait_for("unmatched reports counted", counted, gateway)

    logged = [line for line in gateway.process.log().splitlines() if "X-ELSEWHERE" in line]
    assert len(logged) == 1, logged
    assert "unmatched" in logged[0]
    assert health_of(gateway).duplicate_orders == 0
