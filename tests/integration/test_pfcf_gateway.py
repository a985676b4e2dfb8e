"""The gateway process on the PFCF adapter over the .NET test double (AFTM_GATEWAY_BROKER=pfcf).

The same gateway as test_gateway.py, with the vendor DLL's double loaded through pythonnet on
Mono: it logs in, trades, reports, answers a repeated order from its journal without a second
broker order, and stops cleanly on SIGTERM. A soak run checks 100,000 ticks from the DLL's
thread against orders from the loop's (bench/pfcf_soak.py runs it 20 times).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus
from aftm.wire.protocol import FILL_TOPIC, ListPositions, OrderSnapshot, PositionList
from tests.integration.test_gateway import Context, Gateway, an_order, receive
from tests.support import dotnet

pytestmark = pytest.mark.slow
CLEAN_STOP_S = 1.5


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
