"""CURVE as shipped, attacked through real sockets: the three services run as processes with a key
pair per role (tests/support/pipeline.py), and each test speaks to them with no key, an unknown
key, or another role's key. What counts is the effect where it lands: the broker's own orders,
the executor's journal on disk, the strategy's conditions, the executor's mode.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import zmq

from aftm.domain.orders import PlaceOrder
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm.security import keys
from aftm.security.curve import connect_as
from aftm.security.keys import KeyPair
from aftm.security.roles import Role
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    TICK_TOPIC,
    AddCondition,
    CancelOrder,
    ConditionList,
    ErrorCode,
    ExecutorStatus,
    Flatten,
    GatewayHealth,
    GetExecutorStatus,
    GetHealth,
    ListConditions,
    Login,
    Logout,
    ManualOrder,
    Reconcile,
    RemoveCondition,
    SelectAccount,
    SetTradingMode,
    TradingMode,
    UnregisterItem,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import SocketSetup, make_socket
from aftm_executor.trades import client_order_id
from tests.builders import a_condition
from tests.support.pipeline import Pipeline
from tests.support.processes import ServiceProcess, free_port, keyed_env

pytestmark = pytest.mark.slow
Context = zmq.Context[zmq.Socket[bytes]]
REFUSED_WITHIN_MS = 700  # a refused handshake never answers; a served request takes ~1 ms


@pytest.fixture(scope="module")
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, context: Context) -> Iterator[Pipeline]:
    running = Pipeline(tmp_path_factory.mktemp("curve"), context).start_all()
    yield running
    running.stop_all()


def stranger() -> KeyPair:
    """A well-formed key pair that no service trusts."""
    public, secret = zmq.curve_keypair()
    return KeyPair(Role.CONSOLE, public, secret)


def as_stranger(pipeline: Pipeline, server: Role) -> SocketSetup:
    pair = stranger()
    server_public = pipeline.curve().trusted[server]
    return lambda socket: connect_as(socket, pair, server_public)


def ask(
    pipeline: Pipeline, endpoint: str, body: object, setup: SocketSetup | None
) -> object | None:
    """The reply, or None when nothing came back (a refused handshake answers nothing)."""
    client = ReliableClient(pipeline.context, endpoint, timeout_ms=REFUSED_WITHIN_MS, setup=setup)
    try:
        return client.request(body)
    except RequestTimedOut:
        return None
    finally:
        client.close()


def refusals(pipeline: Pipeline, service: str, reason: str, socket: str) -> float:
    url = f"http://127.0.0.1:{pipeline.metrics_ports[service]}/metrics"
    with urllib.request.urlopen(url, timeout=2) as response:
        text = response.read().decode()
    pattern = (
        rf'aftm_{service}_curve_refusals_total{{reason="{reason}",socket="{re.escape(socket)}"}}'
        r" ([0-9.e+]+)"
    )
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def journaled_signals(pipeline: Pipeline) -> set[str]:
    with closing(sqlite3.connect(pipeline.folder / "executor-journal.sqlite", timeout=5)) as db:
        return {row[0] for row in db.execute("SELECT signal_id FROM signals")}


def a_forged_exit(condition_id: str) -> Signal:
    """What an attacker would push: an entry-side 'exit' for a condition of their own."""
    return Signal(
        id=signal_id(condition_id, SignalKind.ENTRY),
        condition_id=condition_id,
        symbol="TXFL6",
        side=Side.BUY,
        kind=SignalKind.ENTRY,
        quantity=1,
        price=23_000,
        ts_ns=time.time_ns(),
    )


def push(pipeline: Pipeline, signal: Signal, setup: SocketSetup | None) -> None:
    pusher = make_socket(pipeline.context, zmq.PUSH, connect=pipeline.executor_signals, setup=setup)
    try:
        pusher.send(encode(signal), zmq.NOBLOCK)
    except zmq.Again:
        pass  # no handshake completed: nothing could be queued to the executor at all
    finally:
        time.sleep(0.5)  # room for a delivery, had the executor admitted it
        pusher.close()


def test_an_unknown_key_is_refused_at_every_request_socket(pipeline: Pipeline) -> None:
    probes = (
        ("gateway", pipeline.gateway_router, Role.GATEWAY, GetHealth(), "gateway.router"),
        (
            "strategy",
            pipeline.strategy_control,
            Role.STRATEGY,
            ListConditions(),
            "strategy.control",
        ),
        (
            "executor",
            pipeline.executor_control,
            Role.EXECUTOR,
            GetExecutorStatus(),
            "executor.control",
        ),
    )
    for service, endpoint, server, body, socket in probes:
        before = refusals(pipeline, service, "unknown_key", socket)
        assert ask(pipeline, endpoint, body, as_stranger(pipeline, server)) is None, service
        assert ask(pipeline, endpoint, body, None) is None, f"{service} answered plain TCP"
        assert refusals(pipeline, service, "unknown_key", socket) > before, service
        # The right key is answered on the same socket: the refusal was the key's doing.
        assert ask(pipeline, endpoint, body, pipeline.curve().client(server)) is not None


def test_an_unknown_key_hears_no_ticks(pipeline: Pipeline) -> None:
    before = refusals(pipeline, "gateway", "unknown_key", "gateway.pub")
    listeners = {
        "stranger": as_stranger(pipeline, Role.GATEWAY),
        "plain": None,
        "console": pipeline.curve().client(Role.GATEWAY),
    }
    heard = {}
    for name, setup in listeners.items():
        sub = make_socket(
            pipeline.context,
            zmq.SUB,
            connect=pipeline.gateway_pub,
            subscribe=(TICK_TOPIC,),
            setup=setup,
        )
        heard[name] = bool(sub.poll(1500))  # the sim publishes 200 ticks a second
        sub.close()
    assert heard == {"stranger": False, "plain": False, "console": True}
    assert refusals(pipeline, "gateway", "unknown_key", "gateway.pub") > before


def test_the_strategy_key_cannot_place_an_order_or_change_the_executor_mode(
    pipeline: Pipeline,
) -> None:
    order = PlaceOrder(
        client_order_id="forged-by-strategy",
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
    )
    as_strategy = pipeline.curve(Role.STRATEGY)
    before = refusals(pipeline, "gateway", "role", "gateway.router")
    assert ask(pipeline, pipeline.gateway_router, order, as_strategy.client(Role.GATEWAY)) is None
    assert refusals(pipeline, "gateway", "role", "gateway.router") > before
    halt = SetTradingMode(TradingMode.HALTED)
    to_executor = as_strategy.client(Role.EXECUTOR)
    assert ask(pipeline, pipeline.executor_control, halt, to_executor) is None

    assert "forged-by-strategy" not in {o.client_order_id for o in pipeline.broker_orders()}
    status = pipeline.client("executor").request(GetExecutorStatus()).body
    assert isinstance(status, ExecutorStatus)
    assert status.mode is not TradingMode.HALTED


def test_a_role_that_may_connect_may_still_only_send_its_own_requests(
    pipeline: Pipeline,
) -> None:
    order = PlaceOrder(
        client_order_id="forged-by-console",
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
    )
    reply = pipeline.client("gateway").request(order)  # the console may query, not place
    assert not reply.ok
    assert reply.error_code is ErrorCode.FORBIDDEN
    assert "console may not send PlaceOrder" in (reply.error or "")
    assert "forged-by-console" not in {o.client_order_id for o in pipeline.broker_orders()}

    condition = a_condition(id="c-forged-by-executor")
    added = pipeline.client("strategy", role=Role.EXECUTOR).request(AddCondition(condition))
    assert added.error_code is ErrorCode.FORBIDDEN
    listed = pipeline.client("strategy").request(ListConditions()).body
    assert isinstance(listed, ConditionList)
    assert condition.id not in {c.id for c in listed.conditions}


def test_a_forged_signal_never_reaches_the_journal(pipeline: Pipeline) -> None:
    for name, setup in {
        "console": pipeline.curve(Role.CONSOLE).client(Role.EXECUTOR),
        "gateway": pipeline.curve(Role.GATEWAY).client(Role.EXECUTOR),
        "stranger": as_stranger(pipeline, Role.EXECUTOR),
        "plain": None,
    }.items():
        forged = a_forged_exit(f"c-forged-{name}")
        push(pipeline, forged, setup)
        assert forged.id not in journaled_signals(pipeline), name

    # The same frame from the strategy's key is journaled: the key, not the frame, was refused.
    genuine = a_forged_exit("c-from-strategy")
    push(pipeline, genuine, pipeline.curve(Role.STRATEGY).client(Role.EXECUTOR))
    deadline = time.monotonic() + 5
    while genuine.id not in journaled_signals(pipeline):
        assert time.monotonic() < deadline, pipeline.logs()
        time.sleep(0.1)


def console(pipeline: Pipeline, keys_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")} | {
        "AFTM_CONSOLE_KEYS_DIR": str(keys_dir),
        "AFTM_CONSOLE_INSECURE": "false",
        "AFTM_CONSOLE_GATEWAY_CONNECT": pipeline.gateway_router,
        "AFTM_CONSOLE_STRATEGY_CONNECT": pipeline.strategy_control,
        "AFTM_CONSOLE_EXECUTOR_CONNECT": pipeline.executor_control,
        "AFTM_CONSOLE_TIMEOUT_MS": "2000",
    }
    return subprocess.run(
        [sys.executable, "-m", "aftm_console", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_console_works_with_the_stack_keys_and_names_a_refused_key(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    listed = console(pipeline, pipeline.keys, "conditions", "list", "--json")
    assert listed.returncode == 0, listed.stderr

    other_keys = tmp_path / "other-keys"
    keys.create(other_keys)  # a valid folder, but of another installation
    refused = console(pipeline, other_keys, "conditions", "list")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert "refused the console's key from" in refused.stderr

    missing = console(pipeline, tmp_path / "no-keys", "conditions", "list")
    assert missing.returncode == 2
    assert "console.key_secret: missing (create keys with: aftm keys init)" in missing.stderr


@pytest.mark.parametrize("service", ["gateway", "strategy", "executor"])
def test_a_service_without_its_secret_key_exits_2_naming_the_file(
    tmp_path: Path, service: str
) -> None:
    folder = tmp_path / "keys"
    keys.create(folder, [role for role in Role if role.value != service])
    prefix = f"AFTM_{service.upper()}_"
    (tmp_path / "no-secrets").mkdir()
    env = {
        **keyed_env(f"aftm_{service}", folder),
        "AFTM_SECRETS_DIR": str(tmp_path / "no-secrets"),
        f"{prefix}METRICS_PORT": str(free_port()),
        "AFTM_GATEWAY_JOURNAL_PATH": str(tmp_path / "gateway.sqlite"),
        "AFTM_GATEWAY_SIM_STATE_PATH": str(tmp_path / "sim.sqlite"),
        "AFTM_STRATEGY_STORE_PATH": str(tmp_path / "strategy.sqlite"),
        "AFTM_EXECUTOR_JOURNAL_PATH": str(tmp_path / "executor.sqlite"),
    }
    process = ServiceProcess(f"aftm_{service}", env, tmp_path / "service.log").start()

    assert process.process is not None
    assert process.process.wait(30) == 2
    log = process.log()
    assert f"{prefix}KEYS_DIR: key file {folder}/{service}.key_secret: missing" in log
    assert "Traceback" not in log


def order_changing_requests(pipeline: Pipeline) -> list[tuple[str, str, Role, object]]:
    """(service, endpoint, server role, body) for every request that changes orders, the
    broker session or trading, at every request socket."""
    gateway, strategy, executor = (
        pipeline.gateway_router,
        pipeline.strategy_control,
        pipeline.executor_control,
    )
    place = PlaceOrder(
        client_order_id="forged-order",
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
    )
    return [
        ("gateway", gateway, Role.GATEWAY, place),
        ("gateway", gateway, Role.GATEWAY, CancelOrder("forged-order")),
        ("gateway", gateway, Role.GATEWAY, Logout()),
        ("gateway", gateway, Role.GATEWAY, Login("sim", "sim")),
        ("gateway", gateway, Role.GATEWAY, UnregisterItem("TXFL6")),
        ("strategy", strategy, Role.STRATEGY, AddCondition(a_condition(id="c-forged"))),
        ("strategy", strategy, Role.STRATEGY, RemoveCondition("c-forged")),
        ("executor", executor, Role.EXECUTOR, SetTradingMode(TradingMode.HALTED)),
        ("executor", executor, Role.EXECUTOR, SelectAccount("SIM-0002")),
        ("executor", executor, Role.EXECUTOR, ManualOrder("m-forged", "TXFL6", Side.BUY, 1)),
        ("executor", executor, Role.EXECUTOR, Flatten()),
        ("executor", executor, Role.EXECUTOR, Reconcile(accept=True)),
    ]


def test_no_key_an_unknown_key_and_the_strategys_key_change_nothing_anywhere(
    pipeline: Pipeline,
) -> None:
    orders_before = pipeline.broker_orders()
    answered: list[str] = []
    for service, endpoint, server, body in order_changing_requests(pipeline):
        for key, setup in {
            "no key": None,
            "unknown key": as_stranger(pipeline, server),
            "strategy key": pipeline.curve(Role.STRATEGY).client(server),
        }.items():
            reply = ask(pipeline, endpoint, body, setup)
            if reply is not None:
                answered.append(f"{key} {type(body).__name__} at the {service}: {reply}")
        forged = a_forged_exit("c-forged-push")  # and the signal socket, but for the strategy
        for setup in (None, as_stranger(pipeline, Role.EXECUTOR)):
            push(pipeline, forged, setup)

    assert answered == []
    # Only the genuine signal of an earlier test may still have reached the broker meanwhile.
    genuine = client_order_id("SIM-0001", signal_id("c-from-strategy", SignalKind.ENTRY))
    new = [o for o in pipeline.broker_orders() if o not in orders_before]
    assert [o.client_order_id for o in new if o.client_order_id != genuine] == []
    assert "c-forged-push:entry" not in journaled_signals(pipeline)
    status = pipeline.client("executor").request(GetExecutorStatus()).body
    assert isinstance(status, ExecutorStatus)
    assert (status.mode, status.account) == (TradingMode.ACTIVE, "SIM-0001")
    health = pipeline.client("gateway").request(GetHealth()).body
    assert isinstance(health, GatewayHealth)
    assert health.logged_in
    listed = pipeline.client("strategy").request(ListConditions()).body
    assert isinstance(listed, ConditionList)
    assert "c-forged" not in {condition.id for condition in listed.conditions}
