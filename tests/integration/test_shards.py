"""Strategy shards as real processes behind a real gateway (the sim): each hears only its own
symbols' ticks, takes conditions only on them and only under ids carrying its name, says who it
is (GetShard), and pushes every signal to every executor listed.

`Fleet` is the rig the console's shard tests use too: a gateway, N strategy shards and M
executors on free ports, plain TCP (tests/conftest.py), state files in the test's folder.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import zmq
from prometheus_client import CollectorRegistry

from aftm.domain.conditions import Stage
from aftm.domain.market import Tick
from aftm.wire.codec import decode
from aftm.wire.protocol import (
    HEARTBEAT_TOPIC,
    TICK_TOPIC,
    AddCondition,
    ConditionList,
    ErrorCode,
    GetShard,
    ListConditions,
    Reply,
    ShardInfo,
)
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import bound_endpoint, make_socket
from aftm_strategy.service import StrategyService
from aftm_strategy.store import StrategyStore
from aftm_strategy.telemetry import StrategyMetrics
from tests.builders import a_condition
from tests.integration.test_strategy_service import GatewayStandIn, receive_signal
from tests.support.processes import ServiceProcess, endpoint, free_port, http_json

T = TypeVar("T")
Context = zmq.Context[zmq.Socket[bytes]]
SYMBOLS = ("TXFL6", "MXFL6", "TMFL6")  # the sim's default listing
ACCOUNTS = ("SIM-0001", "SIM-0002")


class Fleet:
    """A sim gateway, strategy shards {name: symbols} and executors, one per account."""

    def __init__(
        self,
        folder: Path,
        context: Context,
        shards: dict[str, tuple[str, ...]],
        accounts: tuple[str, ...] = ACCOUNTS[:1],
        gateway_env: dict[str, str] | None = None,
    ) -> None:
        self.folder, self.context = folder, context
        self.gateway_extra = gateway_env or {}
        self.pub, self.router = endpoint(), endpoint()
        self.shards = shards
        self.controls = {name: endpoint() for name in shards}
        self.accounts = accounts
        self.pulls = {account: endpoint() for account in accounts}
        self.executor_controls = {account: endpoint() for account in accounts}
        self.ports: dict[str, int] = {}
        self.processes: dict[str, ServiceProcess] = {}

    def start(self) -> Fleet:
        self._run("gateway", "aftm_gateway", self._gateway_env())
        for name in self.shards:
            self._run(f"strategy-{name}", "aftm_strategy", self.strategy_env(name))
        for number, account in enumerate(self.accounts, start=1):
            self._run(f"executor-{number}", "aftm_executor", self._executor_env(account))
        return self

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            process.kill()

    def _run(self, name: str, module: str, env: dict[str, str]) -> None:
        prefix = "AFTM_" + module.removeprefix("aftm_").upper()
        self.ports[name] = free_port()
        env = {**env, f"{prefix}_METRICS_PORT": str(self.ports[name])}
        process = ServiceProcess(module, env, self.folder / f"{name}.log").start()
        self.processes[name] = process
        process.wait_healthy(self.ports[name])

    def _gateway_env(self) -> dict[str, str]:
        return {
            "AFTM_GATEWAY_PUB_BIND": self.pub,
            "AFTM_GATEWAY_ROUTER_BIND": self.router,
            "AFTM_GATEWAY_JOURNAL_PATH": str(self.folder / "gateway-journal.sqlite"),
            "AFTM_GATEWAY_SIM_STATE_PATH": str(self.folder / "sim.sqlite"),
            "AFTM_GATEWAY_SIM_ACCOUNTS": ",".join(ACCOUNTS),
            "AFTM_GATEWAY_SIM_TICKS_PER_S": "200",
            "AFTM_GATEWAY_HEARTBEAT_S": "0.2",
            **self.gateway_extra,
        }

    def strategy_env(self, name: str) -> dict[str, str]:
        return {
            "AFTM_STRATEGY_TICK_CONNECT": self.pub,
            "AFTM_STRATEGY_SIGNAL_CONNECT": ",".join(self.pulls.values()),
            "AFTM_STRATEGY_CONTROL_BIND": self.controls[name],
            "AFTM_STRATEGY_STORE_PATH": str(self.folder / f"strategy-{name}.sqlite"),
            "AFTM_STRATEGY_SHARD": name,
            "AFTM_STRATEGY_SYMBOLS": ",".join(self.shards[name]),
        }

    def _executor_env(self, account: str) -> dict[str, str]:
        return {
            "AFTM_EXECUTOR_SIGNAL_BIND": self.pulls[account],
            "AFTM_EXECUTOR_CONTROL_BIND": self.executor_controls[account],
            "AFTM_EXECUTOR_GATEWAY_CONNECT": self.router,
            "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": self.pub,
            "AFTM_EXECUTOR_STRATEGY_CONNECT": strategy_connect(list(self.controls.values())),
            "AFTM_EXECUTOR_JOURNAL_PATH": str(self.folder / f"executor-{account}.sqlite"),
            "AFTM_EXECUTOR_ACCOUNT": account,
            "AFTM_EXECUTOR_REQUEST_TIMEOUT_MS": "1000",
        }

    def console_env(self) -> dict[str, str]:
        return {
            "AFTM_CONSOLE_GATEWAY_CONNECT": self.router,
            "AFTM_CONSOLE_GATEWAY_PUB_CONNECT": self.pub,
            "AFTM_CONSOLE_STRATEGY_CONNECT": ",".join(self.controls.values()),
            "AFTM_CONSOLE_EXECUTOR_CONNECT": ",".join(self.executor_controls.values()),
            "AFTM_CONSOLE_TIMEOUT_MS": "5000",
        }

    def ask(self, target: str, body: object) -> Reply:
        """One request straight to a service's socket (a strategy shard's name, "gateway", or
        an account's executor), past the console."""
        where = {
            "gateway": self.router,
            **self.controls,
            **self.executor_controls,
        }[target]
        client = ReliableClient(self.context, where, timeout_ms=5000)
        try:
            return client.request(body, retries=1)
        finally:
            client.close()

    def metric(self, name: str, sample: str) -> float:
        """A sample from a process's /metrics, 0 when it is not exported."""
        url = f"http://127.0.0.1:{self.ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[1])
        return 0.0

    def last_prices(self, timeout_s: float = 10.0) -> dict[str, int]:
        """The last price of every listed symbol, from the gateway's own PUB."""
        sub = make_socket(self.context, zmq.SUB, connect=self.pub, subscribe=(TICK_TOPIC,))
        prices: dict[str, int] = {}
        listed = self.gateway_extra.get("AFTM_GATEWAY_SIM_SYMBOLS", ",".join(SYMBOLS))
        try:
            deadline = time.monotonic() + timeout_s
            while len(prices) < len(listed.split(",")) and time.monotonic() < deadline:
                if sub.poll(100):
                    tick = decode(sub.recv_multipart()[1])
                    if isinstance(tick, Tick):
                        prices[tick.symbol] = tick.price
        finally:
            sub.close()
        assert len(prices) == len(listed.split(",")), f"ticks seen only for {sorted(prices)}"
        return prices

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log()}" for name, p in self.processes.items())


def strategy_connect(controls: list[str]) -> str:
    """Every shard's control endpoint where the executor's setting takes a list (A's part of
    the issue); the first shard's where it still takes one endpoint."""
    from aftm_executor.settings import ExecutorSettings

    try:
        ExecutorSettings.model_validate({"strategy_connect": ",".join(controls), "insecure": True})
    except ValueError:
        return controls[0]
    return ",".join(controls)


def wait_until(what: str, probe: Callable[[], T | None], fleet: Fleet, timeout_s: float = 20) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{fleet.logs()}")


@pytest.fixture
def context() -> Iterator[Context]:
    made: Context = zmq.Context()
    yield made
    made.destroy(0)


@pytest.fixture
def two_shards(tmp_path: Path, context: Context) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, context, {"s1": ("TXFL6", "MXFL6"), "s2": ("TMFL6",)})
    try:
        yield fleet.start()
    finally:
        fleet.stop()


# --- ticks ---------------------------------------------------------------------------------------


def test_each_shard_hears_its_own_symbols_ticks_and_no_other(two_shards: Fleet) -> None:
    two_shards.last_prices()  # the gateway publishes every symbol
    heard = "aftm_strategy_ticks_received_total"
    unowned = "aftm_strategy_ticks_unowned_total"

    def both_heard_many() -> bool:
        return all(
            two_shards.metric(f"strategy-{name}", heard) >= 200 for name in two_shards.shards
        )

    wait_until("both shards hearing ticks", both_heard_many, two_shards)
    for name in two_shards.shards:
        assert two_shards.metric(f"strategy-{name}", unowned) == 0, name
    # The one-symbol shard hears about a third of what the two-symbol one does: not all ticks.
    one = two_shards.metric("strategy-s2", heard)
    gateway_ticks = two_shards.metric("gateway", "aftm_gateway_ticks_published_total")
    assert one < gateway_ticks * 0.6, (one, gateway_ticks)


def test_a_shard_says_who_it_is(two_shards: Fleet) -> None:
    for name, symbols in two_shards.shards.items():
        reply = two_shards.ask(name, GetShard())
        assert reply.ok, reply
        assert reply.body == ShardInfo(name, symbols)


# --- conditions ----------------------------------------------------------------------------------


def test_a_shard_refuses_a_symbol_it_does_not_own_naming_itself_and_its_symbols(
    two_shards: Fleet,
) -> None:
    reply = two_shards.ask("s1", AddCondition(a_condition(id="s1.c-1", symbol="TMFL6")))

    assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID)
    assert "shard 's1' owns TXFL6, MXFL6, not 'TMFL6'" in reply.error


def test_a_shard_refuses_an_id_without_its_name(two_shards: Fleet) -> None:
    reply = two_shards.ask("s2", AddCondition(a_condition(id="s1.c-1", symbol="TMFL6")))

    assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID)
    assert "starts with 's2.'" in reply.error


def test_a_shard_takes_a_condition_on_its_symbol_under_its_name(two_shards: Fleet) -> None:
    condition = a_condition(id="s2.c-1", symbol="TMFL6")

    reply = two_shards.ask("s2", AddCondition(condition))

    assert reply.ok, reply
    assert reply.body == condition
    assert condition.stage is Stage.WAITING


# --- settings ------------------------------------------------------------------------------------

# 10,000 short endpoints: one environment string may hold at most 128 KiB.
TEN_THOUSAND = ",".join(f"tcp://h:{1 + n}" for n in range(10_000))


@pytest.mark.parametrize(
    ("env", "variable", "why"),
    [
        ({"AFTM_STRATEGY_SHARD": "S1"}, "AFTM_STRATEGY_SHARD", "a-z 0-9"),
        ({"AFTM_STRATEGY_SHARD": "s.1"}, "AFTM_STRATEGY_SHARD", "a-z 0-9"),
        ({"AFTM_STRATEGY_SHARD": "x" * 17}, "AFTM_STRATEGY_SHARD", "1 to 16"),
        ({"AFTM_STRATEGY_SHARD": "s 1"}, "AFTM_STRATEGY_SHARD", "a-z 0-9"),
        ({"AFTM_STRATEGY_SHARD": "s1"}, "AFTM_STRATEGY_SYMBOLS", "at least one symbol"),
        (
            {"AFTM_STRATEGY_SHARD": "s1", "AFTM_STRATEGY_SYMBOLS": " , "},
            "AFTM_STRATEGY_SYMBOLS",
            "is empty",
        ),
        (
            {"AFTM_STRATEGY_SHARD": "s1", "AFTM_STRATEGY_SYMBOLS": "TXFL6,,MXFL6"},
            "AFTM_STRATEGY_SYMBOLS",
            "symbol 2 of 3 is empty",
        ),
        (
            {"AFTM_STRATEGY_SHARD": "s1", "AFTM_STRATEGY_SYMBOLS": "TXFL6,TXFL6"},
            "AFTM_STRATEGY_SYMBOLS",
            "listed twice",
        ),
        (
            {"AFTM_STRATEGY_SHARD": "s1", "AFTM_STRATEGY_SYMBOLS": "txfl6"},
            "AFTM_STRATEGY_SYMBOLS",
            "not a symbol",
        ),
        (
            {"AFTM_STRATEGY_SHARD": "s1", "AFTM_STRATEGY_SYMBOLS": ",".join(["TXFL6"] * 10_000)},
            "AFTM_STRATEGY_SYMBOLS",
            "at most 256",
        ),
        ({"AFTM_STRATEGY_SYMBOLS": "TXFL6"}, "AFTM_STRATEGY_SYMBOLS", "AFTM_STRATEGY_SHARD"),
        ({"AFTM_STRATEGY_SIGNAL_CONNECT": ""}, "AFTM_STRATEGY_SIGNAL_CONNECT", "empty"),
        (
            {"AFTM_STRATEGY_SIGNAL_CONNECT": "tcp://127.0.0.1:1,"},
            "AFTM_STRATEGY_SIGNAL_CONNECT",
            "endpoint 2 of 2 is empty",
        ),
        (
            {"AFTM_STRATEGY_SIGNAL_CONNECT": "tcp://127.0.0.1:1,tcp://127.0.0.1:1"},
            "AFTM_STRATEGY_SIGNAL_CONNECT",
            "listed twice",
        ),
        ({"AFTM_STRATEGY_SIGNAL_CONNECT": TEN_THOUSAND}, "AFTM_STRATEGY_SIGNAL_CONNECT", "10000"),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, str) else None,
)
def test_a_bad_shard_setting_exits_2_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str, why: str
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "aftm_strategy"],
        env={"PATH": "/usr/bin:/bin", "AFTM_STRATEGY_INSECURE": "true", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2, finished.stderr
    assert f"invalid setting {variable}:" in finished.stderr
    assert why in finished.stderr
    assert len(finished.stderr) < 2000  # a 10,000-entry value is not echoed back
    assert not (tmp_path / "var").exists()


def test_an_unsharded_strategy_says_so(tmp_path: Path, context: Context) -> None:
    control, port = endpoint(), free_port()
    env = {
        "AFTM_STRATEGY_CONTROL_BIND": control,
        "AFTM_STRATEGY_METRICS_PORT": str(port),
        "AFTM_STRATEGY_STORE_PATH": str(tmp_path / "strategy.sqlite"),
        "AFTM_STRATEGY_TICK_CONNECT": endpoint(),
        "AFTM_STRATEGY_SIGNAL_CONNECT": endpoint(),
    }
    process = ServiceProcess("aftm_strategy", env, tmp_path / "strategy.log").start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # unhealthy without a gateway: wait for /health
            process.assert_running()
            try:
                http_json(f"http://127.0.0.1:{port}/health", timeout_s=0.5)
                break
            except OSError:
                time.sleep(0.05)
        client = ReliableClient(context, control, timeout_ms=5000)
        try:
            reply = client.request(GetShard(), retries=1)
        finally:
            client.close()
    finally:
        process.kill()

    assert reply.ok, reply
    assert reply.body == ShardInfo("", ())


# --- signals to several executors --------------------------------------------------------------


def test_every_signal_reaches_every_executor_and_a_stopped_one_holds_back_no_other(
    context: Context, tmp_path: Path
) -> None:
    """The loop in a thread, pushing to two executors: one listening, one not started yet."""
    gateway = GatewayStandIn(context)
    store = StrategyStore.open(tmp_path / "strategy.sqlite")
    store.add(a_condition(id="a", trigger_price=1000))
    store.add(a_condition(id="b", trigger_price=1010))
    live_pull = make_socket(context, zmq.PULL, bind="tcp://127.0.0.1:*")
    absent_endpoint = endpoint()
    absent, live = make_socket(context, zmq.PUSH), make_socket(context, zmq.PUSH)
    absent.setsockopt(zmq.IMMEDIATE, 1)  # no peer, no queue: every send would block
    absent.connect(absent_endpoint)
    live.connect(bound_endpoint(live_pull))
    registry = CollectorRegistry()
    service = StrategyService(
        store=store,
        ticks=make_socket(
            context, zmq.SUB, connect=gateway.endpoint, subscribe=(TICK_TOPIC, HEARTBEAT_TOPIC)
        ),
        signals=[absent, live],
        control=make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:*"),
        metrics=StrategyMetrics(registry),
        heartbeat_timeout_s=3.0,
    )
    stop = threading.Event()
    loop = threading.Thread(target=service.run, args=(stop,), daemon=True)
    loop.start()

    def pending() -> float | None:
        return registry.get_sample_value("aftm_strategy_signals_pending")

    try:
        deadline = time.monotonic() + 5
        while not service.health()[0]:
            assert time.monotonic() < deadline, "never healthy"
            gateway.heartbeat()
            time.sleep(0.02)
        gateway.tick(1000)
        gateway.tick(1025)  # both enter on one tick

        assert [receive_signal(live_pull).id for _ in range(2)] == ["a:entry", "b:entry"]
        while pending() != 2:  # the absent executor's backlog, in memory and in the store
            assert time.monotonic() < deadline + 5, pending()
            time.sleep(0.02)

        late_pull = make_socket(context, zmq.PULL, bind=absent_endpoint)

        assert [receive_signal(late_pull).id for _ in range(2)] == ["a:entry", "b:entry"]
        while pending() != 0:
            assert time.monotonic() < deadline + 10, pending()
            time.sleep(0.02)
        assert live_pull.poll(200) == 0  # the live one got each signal once, no repeat
    finally:
        stop.set()
        loop.join(2)
        store.close()
    assert not loop.is_alive()


def test_a_store_moved_to_a_shard_keeps_its_ids_and_names_what_hears_no_ticks(
    tmp_path: Path, context: Context
) -> None:
    store_path = tmp_path / "strategy.sqlite"
    store = StrategyStore.open(store_path)
    store.add(a_condition(id="old-tx", symbol="TXFL6"))
    store.add(a_condition(id="old-tm", symbol="TMFL6"))
    store.close()
    control = endpoint()
    env = {
        "AFTM_STRATEGY_CONTROL_BIND": control,
        "AFTM_STRATEGY_METRICS_PORT": str(free_port()),
        "AFTM_STRATEGY_STORE_PATH": str(store_path),
        "AFTM_STRATEGY_TICK_CONNECT": endpoint(),
        "AFTM_STRATEGY_SIGNAL_CONNECT": endpoint(),
        "AFTM_STRATEGY_SHARD": "s1",
        "AFTM_STRATEGY_SYMBOLS": "TXFL6",
    }
    process = ServiceProcess("aftm_strategy", env, tmp_path / "strategy.log").start()
    try:
        client = ReliableClient(context, control, timeout_ms=5000)
        try:
            listed = client.request(ListConditions(), retries=2)
        finally:
            client.close()
        log = process.log()
    finally:
        process.kill()

    assert isinstance(listed.body, ConditionList), listed
    assert [c.id for c in listed.body.conditions] == ["old-tx", "old-tm"]
    assert "condition hears no ticks id=old-tm symbol=TMFL6" in log
    assert "id=old-tx" not in log
