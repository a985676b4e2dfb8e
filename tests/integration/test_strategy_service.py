"""`python -m aftm_strategy` as a real process between a test-owned PUB and PULL.

The test stands where the gateway's PUB and the executor's PULL will be and publishes real Tick
frames exactly as the gateway does: [tick_topic(symbol), encode(Tick)] and heartbeats
[HEARTBEAT_TOPIC, encode(GatewayHeartbeat)]. The strategy reports healthy only once it has
received a heartbeat, which also proves the subscription is live before a test publishes ticks.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
import zmq
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from aftm.domain.conditions import Condition, Stage
from aftm.domain.market import Tick
from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import Side
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import (
    HEARTBEAT_TOPIC,
    TICK_TOPIC,
    AddCondition,
    ConditionList,
    ErrorCode,
    GatewayHealth,
    GatewayHeartbeat,
    GetHealth,
    GetSignals,
    ListConditions,
    ListSignalIds,
    ListSignals,
    RemoveCondition,
    Reply,
    Request,
    SignalIdList,
    SignalList,
    tick_topic,
)
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import bound_endpoint, make_socket
from aftm_strategy.service import STAGE_SAVE_S, StrategyService
from aftm_strategy.store import StrategyStore
from aftm_strategy.telemetry import StrategyMetrics
from tests.builders import a_condition
from tests.support.forged import ask_forged, forged
from tests.support.processes import ServiceProcess, endpoint, free_port, http_json

Context = zmq.Context[zmq.Socket[bytes]]
SYMBOL = "TXFL6"


class GatewayStandIn:
    """Binds where the gateway's PUB will be and publishes what it publishes."""

    def __init__(self, context: Context) -> None:
        self.pub = make_socket(context, zmq.PUB, bind="tcp://127.0.0.1:*")
        self.endpoint = bound_endpoint(self.pub)
        self.seq: defaultdict[str, int] = defaultdict(int)

    def tick(self, price: int, *, symbol: str = SYMBOL, seq: int | None = None) -> Tick:
        self.seq[symbol] = self.seq[symbol] + 1 if seq is None else seq
        tick = Tick(symbol=symbol, price=price, qty=1, ts_ns=time.time_ns(), seq=self.seq[symbol])
        self.pub.send_multipart([tick_topic(symbol), encode(tick)])
        return tick

    def heartbeat(self, symbols: tuple[str, ...] = ()) -> None:
        now = time.time_ns()
        health = GatewayHealth(
            broker="sim", logged_in=True, last_broker_event_ns=now, ts_ns=now, symbols=symbols
        )
        self.pub.send_multipart([HEARTBEAT_TOPIC, encode(GatewayHeartbeat(health))])


class Strategy:
    """The real process on free ports, its store in the test's folder."""

    def __init__(self, context: Context, tmp_path: Path, gateway: GatewayStandIn, pull: str):
        self.context, self.gateway = context, gateway
        self.metrics_port = free_port()
        self.control_endpoint = endpoint()
        env = {
            "AFTM_STRATEGY_TICK_CONNECT": gateway.endpoint,
            "AFTM_STRATEGY_SIGNAL_CONNECT": pull,
            "AFTM_STRATEGY_CONTROL_BIND": self.control_endpoint,
            "AFTM_STRATEGY_METRICS_PORT": str(self.metrics_port),
            "AFTM_STRATEGY_STORE_PATH": str(tmp_path / "var" / "strategy.sqlite"),
            "AFTM_STRATEGY_LOG_LEVEL": "DEBUG",
        }
        self.process = ServiceProcess("aftm_strategy", env, tmp_path / "strategy.log")
        self.client: ReliableClient | None = None

    def start(self) -> Strategy:
        self.process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.process.assert_running()
            self.gateway.heartbeat()
            try:
                if http_json(f"{self.url}/health", timeout_s=0.5)[0] == 200:
                    self.client = ReliableClient(
                        self.context, self.control_endpoint, timeout_ms=3000
                    )
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"strategy never saw a heartbeat:\n{self.process.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def request(self, body: object) -> Reply:
        assert self.client is not None, "start() first"
        return self.client.request(body)

    def add(self, condition: Condition) -> None:
        reply = self.request(AddCondition(condition))
        assert reply.ok, reply.error

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=2) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        raise AssertionError(f"no sample {name}{labels}")

    def wait_metric(self, name: str, value: float, timeout_s: float = 5.0, **labels: str) -> None:
        """Ticks are fire-and-forget: a counter tells when the strategy has taken them all."""
        deadline = time.monotonic() + timeout_s
        while (seen := self.metric(name, **labels)) != value:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}{labels} is {seen}, expected {value}")
            time.sleep(0.02)

    def close_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def kill(self) -> None:
        self.close_client()
        self.process.kill()

    def stop(self) -> int:
        self.close_client()
        return self.process.stop()


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def gateway(context: Context) -> GatewayStandIn:
    return GatewayStandIn(context)


@pytest.fixture
def executor_pull(context: Context) -> zmq.Socket[bytes]:
    """Bound where the executor's PULL will be."""
    return make_socket(context, zmq.PULL, bind="tcp://127.0.0.1:*")


@pytest.fixture
def strategy(
    context: Context, tmp_path: Path, gateway: GatewayStandIn, executor_pull: zmq.Socket[bytes]
) -> Iterator[Strategy]:
    service = Strategy(context, tmp_path, gateway, bound_endpoint(executor_pull))
    yield service.start()
    service.kill()


def receive_signal(pull: zmq.Socket[bytes], timeout_ms: int = 5000) -> Signal:
    if not pull.poll(timeout_ms):
        pytest.fail(f"no signal pushed within {timeout_ms} ms")
    message = decode(pull.recv())
    assert isinstance(message, Signal)
    return message


def assert_no_signal(pull: zmq.Socket[bytes], wait_ms: int = 300) -> None:
    if pull.poll(wait_ms):
        pytest.fail(f"unexpected signal {decode(pull.recv())}")


# action, prices (trigger, entry, take profit for trigger 1000 / turning 15 / tp 90), exit side
CASES = [
    pytest.param(Side.BUY, (1000, 1015, 1105), Side.SELL, id="buy"),
    pytest.param(Side.SELL, (1000, 985, 895), Side.BUY, id="sell"),
]


@pytest.mark.parametrize(("action", "prices", "exit_side"), CASES)
def test_a_condition_enters_and_exits_once(
    strategy: Strategy,
    gateway: GatewayStandIn,
    executor_pull: zmq.Socket[bytes],
    action: Side,
    prices: tuple[int, int, int],
    exit_side: Side,
) -> None:
    trigger, entry, take_profit = prices
    strategy.add(a_condition(id="c1", action=action, trigger_price=trigger, quantity=3))

    gateway.tick(trigger)
    entry_tick = gateway.tick(entry)
    assert receive_signal(executor_pull) == Signal(
        "c1:entry", "c1", SYMBOL, action, SignalKind.ENTRY, 3, entry, entry_tick.ts_ns
    )
    exit_tick = gateway.tick(take_profit)
    assert receive_signal(executor_pull) == Signal(
        "c1:exit", "c1", SYMBOL, exit_side, SignalKind.TAKE_PROFIT, 3, take_profit, exit_tick.ts_ns
    )
    for price in (trigger, entry, take_profit):
        gateway.tick(price)

    strategy.wait_metric("aftm_strategy_ticks_received_total", 6)
    assert_no_signal(executor_pull)
    listed = strategy.request(ListConditions()).body
    assert isinstance(listed, ConditionList)
    assert [c.stage for c in listed.conditions] == [Stage.EXITED]
    assert strategy.metric("aftm_strategy_signals_total", kind="entry") == 1
    assert strategy.metric("aftm_strategy_signals_total", kind="take_profit") == 1
    assert strategy.metric("aftm_strategy_conditions", stage="exited") == 1
    assert strategy.metric("aftm_strategy_tick_to_signal_seconds_count") == 2


def test_a_killed_strategy_never_enters_twice(
    context: Context,
    tmp_path: Path,
    gateway: GatewayStandIn,
    executor_pull: zmq.Socket[bytes],
) -> None:
    strategy = Strategy(context, tmp_path, gateway, bound_endpoint(executor_pull)).start()
    try:
        strategy.add(a_condition(id="c1", trigger_price=1000, quantity=2))
        strategy.add(a_condition(id="c2", trigger_price=900))
        gateway.tick(1000)
        gateway.tick(1015)
        entry = receive_signal(executor_pull)
        assert entry.id == "c1:entry"

        strategy.kill()
        strategy.start()
        for price in (995, 1000, 1015, 1020):  # would trigger and enter a waiting condition
            gateway.tick(price)
        strategy.wait_metric("aftm_strategy_ticks_received_total", 4)
        assert_no_signal(executor_pull)

        listed = strategy.request(ListConditions()).body
        assert isinstance(listed, ConditionList)
        assert [(c.id, c.stage) for c in listed.conditions] == [
            ("c1", Stage.ENTERED),
            ("c2", Stage.WAITING),
        ]
        gateway.tick(984)  # stop loss: 1015 - 30
        exit_signal = receive_signal(executor_pull)
        assert (exit_signal.id, exit_signal.kind, exit_signal.quantity) == (
            "c1:exit",
            SignalKind.STOP_LOSS,
            2,
        )
        assert strategy.request(ListSignals()).body == SignalList((entry, exit_signal), last=2)
    finally:
        strategy.kill()


@pytest.mark.parametrize("ending", ["sigterm", "kill after the save interval"])
def test_a_stage_reached_without_a_signal_survives_a_restart(
    context: Context,
    tmp_path: Path,
    gateway: GatewayStandIn,
    executor_pull: zmq.Socket[bytes],
    ending: str,
) -> None:
    # Saved with the next signal, within STAGE_SAVE_S, or at a clean stop: not per tick.
    strategy = Strategy(context, tmp_path, gateway, bound_endpoint(executor_pull)).start()
    try:
        strategy.add(a_condition(id="c1", trigger_price=1000))
        gateway.tick(1000)  # triggers; enters only 15 points later
        strategy.wait_metric("aftm_strategy_conditions", 1, stage="triggered")
        if ending == "sigterm":
            assert strategy.stop() == 0
        else:
            time.sleep(STAGE_SAVE_S + 0.3)
            strategy.kill()
        strategy.start()

        listed = strategy.request(ListConditions()).body
        assert isinstance(listed, ConditionList)
        assert [(c.id, c.stage) for c in listed.conditions] == [("c1", Stage.TRIGGERED)]
        entry_tick = gateway.tick(1015)
        assert receive_signal(executor_pull).ts_ns == entry_tick.ts_ns
    finally:
        strategy.kill()


def test_list_signals_returns_every_signal_after_a_restart(
    strategy: Strategy, gateway: GatewayStandIn, executor_pull: zmq.Socket[bytes]
) -> None:
    for name, trigger in (("a", 1000), ("b", 1010)):
        strategy.add(a_condition(id=name, trigger_price=trigger))
    for price in (1000, 1025, 1105):  # both trigger, both enter, a takes profit
        gateway.tick(price)
    pushed = [receive_signal(executor_pull) for _ in range(3)]
    assert [s.id for s in pushed] == ["a:entry", "b:entry", "a:exit"]

    assert strategy.stop() == 0
    strategy.start()

    assert strategy.request(ListSignals()).body == SignalList(tuple(pushed), last=3)
    # Paged by store position: what the executor's periodic resync asks for.
    first = strategy.request(ListSignals(after=0, limit=2)).body
    rest = strategy.request(ListSignals(after=2, limit=2)).body
    empty = strategy.request(ListSignals(after=3, limit=2)).body
    assert first == SignalList(tuple(pushed[:2]), last=2)
    assert rest == SignalList(tuple(pushed[2:]), last=3)
    assert empty == SignalList((), last=3)
    for bad in (ListSignals(after=-1), ListSignals(limit=0), ListSignals(limit=5001)):
        refused_page = strategy.request(bad)
        assert (refused_page.ok, refused_page.error_code) == (False, ErrorCode.INVALID)
    refused = strategy.request(AddCondition(a_condition(id="a")))  # its ids are spent
    assert (refused.ok, refused.error_code) == (False, ErrorCode.INVALID)

    # The executor's periodic resync: ids by store position, then only the missing signals.
    ids = [s.id for s in pushed]
    assert strategy.request(ListSignalIds()).body == SignalIdList(tuple(ids), last=3)
    assert strategy.request(ListSignalIds(after=1, limit=1)).body == SignalIdList((ids[1],), 2)
    assert strategy.request(ListSignalIds(after=3)).body == SignalIdList((), last=3)
    wanted = GetSignals(("a:exit", "never-emitted", "a:entry"))
    assert strategy.request(wanted).body == SignalList((pushed[0], pushed[2]))  # emission order
    bad_queries: tuple[ListSignalIds | GetSignals, ...] = (
        ListSignalIds(after=-1),
        ListSignalIds(limit=0),
        ListSignalIds(limit=20_001),
        GetSignals(tuple(f"x{n}" for n in range(5001))),
    )
    for bad_query in bad_queries:
        refused_ids = strategy.request(bad_query)
        assert (refused_ids.ok, refused_ids.error_code) == (False, ErrorCode.INVALID)


def test_sequence_gaps_are_counted_and_restarts_are_not(
    strategy: Strategy, gateway: GatewayStandIn
) -> None:
    for seq in (1, 2, 5, 6):  # 3 and 4 lost
        gateway.tick(1000, seq=seq)
    gateway.tick(1000, seq=1)  # the gateway restarted
    gateway.tick(1000, seq=1, symbol="MXFL6")
    gateway.tick(1000, seq=3, symbol="MXFL6")

    strategy.wait_metric("aftm_strategy_ticks_received_total", 7)
    assert strategy.metric("aftm_strategy_sequence_gaps_total") == 2
    assert strategy.metric("aftm_strategy_sequence_resets_total") == 1


def test_malformed_frames_are_counted_and_dropped(
    context: Context, strategy: Strategy, gateway: GatewayStandIn
) -> None:
    topic = tick_topic(SYMBOL)
    good = encode(Tick(symbol=SYMBOL, price=1000, qty=1, ts_ns=1, seq=1))
    health = GatewayHealth(broker="sim", logged_in=True, last_broker_event_ns=1, ts_ns=1)
    for frames in (
        [topic, b"\xc1 not msgpack"],
        [topic],
        [topic, encode(GatewayHeartbeat(health))],  # not a Tick on a tick topic
        [tick_topic("MXFL6"), good],  # a tick on another symbol's topic
        [topic, good, b"extra"],
    ):
        gateway.pub.send_multipart(frames)
    dealer = make_socket(context, zmq.DEALER, connect=strategy.control_endpoint)
    request = encode(Request("r1", ListConditions()))
    for frames in ([b"garbage"], [request, b"extra"], [good]):
        dealer.send_multipart(frames)

    strategy.wait_metric("aftm_strategy_malformed_frames_total", 5, socket="ticks")
    strategy.wait_metric("aftm_strategy_malformed_frames_total", 3, socket="control")
    dealer.close()
    unsupported = strategy.request(GetHealth())
    assert (unsupported.ok, unsupported.error_code) == (False, ErrorCode.BAD_REQUEST)
    assert strategy.request(ListConditions()).body == ConditionList(())
    gateway.tick(1000)
    strategy.wait_metric("aftm_strategy_ticks_received_total", 1)


def test_control_requests_refuse_what_they_cannot_do(strategy: Strategy) -> None:
    strategy.add(a_condition(id="c1"))

    refusals = [
        strategy.request(AddCondition(a_condition(id="c1", trigger_price=2000))),
        strategy.request(AddCondition(a_condition(id="c2", stage=Stage.ENTERED))),
        strategy.request(RemoveCondition("nope")),
    ]

    assert [(r.ok, r.error_code) for r in refusals] == [
        (False, ErrorCode.INVALID),
        (False, ErrorCode.INVALID),
        (False, ErrorCode.NOT_FOUND),
    ]
    assert strategy.request(RemoveCondition("c1")).body == a_condition(id="c1")
    assert strategy.request(ListConditions()).body == ConditionList(())
    assert strategy.metric("aftm_strategy_conditions", stage="waiting") == 0


@pytest.mark.parametrize(
    ("condition", "changes", "field"),
    [
        # Integers beyond 64 bits only a forged frame can hold: the codec refuses to frame them.
        (a_condition(), {"condition__trigger_price": 2**63}, "trigger_price"),
        (a_condition(trigger_price=10**9), {}, "trigger_price"),
        (a_condition(), {"condition__quantity": 2**64 - 1}, "quantity"),
        (a_condition(quantity=11), {}, "quantity"),  # one market order: TAIFEX's 10 lots
        (a_condition(stop_loss_point=2**63 - 1), {}, "stop_loss_point"),
        (a_condition(id="c" * 300), {}, "id"),
        (a_condition(id="c1\n"), {}, "id"),
        (a_condition(symbol="TXF"), {}, "symbol"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_condition_out_of_range_is_refused_naming_the_field(
    strategy: Strategy, condition: Condition, changes: dict[str, object], field: str
) -> None:
    request = AddCondition(condition)
    refused = ask_forged(strategy.context, strategy.control_endpoint, request, changes)

    assert (refused.ok, refused.error_code) == (False, ErrorCode.INVALID)
    assert f"field {field!r}" in refused.error
    assert len(refused.error) < 300
    assert strategy.request(ListConditions()).body == ConditionList(())
    assert strategy.request(AddCondition(a_condition(id="c1"))).ok  # and it goes on serving
    long_id = strategy.request(RemoveCondition("c" * 300))
    assert (long_id.ok, long_id.error_code) == (False, ErrorCode.INVALID)


def test_a_condition_on_a_symbol_the_gateway_does_not_list_is_refused(
    strategy: Strategy, gateway: GatewayStandIn
) -> None:
    assert strategy.request(AddCondition(a_condition(id="c1", symbol="MXFL6"))).ok  # none listed
    gateway.heartbeat(symbols=("TXFL6", "TXFA7"))
    deadline = time.monotonic() + 5
    while (refused := strategy.request(AddCondition(a_condition(id="c2", symbol="MXFL6")))).ok:
        assert time.monotonic() < deadline, "the listed symbols never reached the strategy"
        strategy.request(RemoveCondition("c2"))
        gateway.heartbeat(symbols=("TXFL6", "TXFA7"))
        time.sleep(0.05)

    assert refused.error_code is ErrorCode.INVALID
    assert refused.error == "field 'symbol': 'MXFL6' is not listed by the gateway"
    assert strategy.request(AddCondition(a_condition(id="c3", symbol="TXFA7"))).ok


def test_a_request_that_fails_unexpectedly_is_answered_and_the_loop_goes_on(
    strategy: Strategy, tmp_path: Path
) -> None:
    assert strategy.client is not None
    store = tmp_path / "var" / "strategy.sqlite"
    with closing(sqlite3.connect(store, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the store: writes time out
        failed = strategy.client.request(AddCondition(a_condition(id="c1")), timeout_ms=20_000)
        other.execute("ROLLBACK")

    assert (failed.ok, failed.error_code) == (False, ErrorCode.UNAVAILABLE)
    assert "OperationalError" in (failed.error or "")
    assert strategy.metric("aftm_strategy_message_failures_total", socket="control") == 1
    strategy.add(a_condition(id="c1"))  # the same request succeeds now: nothing half-done
    listed = strategy.request(ListConditions()).body
    assert isinstance(listed, ConditionList)
    assert [condition.id for condition in listed.conditions] == ["c1"]
    whole_log = strategy.process.log_path.read_text()
    assert whole_log.count("message dropped after a failure socket=control") == 1


def test_a_tick_out_of_range_is_dropped_and_counted(
    strategy: Strategy, gateway: GatewayStandIn
) -> None:
    strategy.add(a_condition(id="c1", trigger_price=1000))  # a buy: any price <= 1000 triggers

    for price in (0, -5):
        gateway.tick(price)
    beyond_64_bits = forged(Tick(SYMBOL, 1000, 1, time.time_ns(), 1), price=2**63)
    gateway.pub.send_multipart([tick_topic(SYMBOL), beyond_64_bits])

    strategy.wait_metric("aftm_strategy_malformed_frames_total", 3, socket="ticks")
    assert strategy.metric("aftm_strategy_ticks_received_total") == 0
    listed = strategy.request(ListConditions()).body
    assert isinstance(listed, ConditionList)
    assert [c.stage for c in listed.conditions] == [Stage.WAITING]


def test_health_reports_the_gateway_heartbeat(strategy: Strategy) -> None:
    status, body = http_json(f"{strategy.url}/health")

    assert status == 200
    assert body["conditions"] == 0
    age = body["heartbeat_age_s"]
    assert isinstance(age, float)
    assert age < 3
    assert 0 <= strategy.metric("aftm_strategy_heartbeat_age_seconds") < 3


def test_sigterm_stops_cleanly_within_a_second(strategy: Strategy) -> None:
    started = time.monotonic()

    assert strategy.stop() == 0

    assert time.monotonic() - started < 1.5
    assert "strategy stopped" in strategy.process.log()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_STRATEGY_TICK_CONNECT", "localhost:5555"),
        ("AFTM_STRATEGY_SIGNAL_CONNECT", "tcp://*:5558"),
        ("AFTM_STRATEGY_CONTROL_BIND", "tcp://127.0.0.1:70000"),
        ("AFTM_STRATEGY_METRICS_PORT", "-1"),
        ("AFTM_STRATEGY_HEARTBEAT_TIMEOUT_S", "0"),
        ("AFTM_STRATEGY_LOG_LEVEL", "LOUD"),
        ("AFTM_STRATEGY_STORE_PATH", "."),
    ],
)
def test_invalid_settings_exit_2_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "aftm_strategy"],
        env={"PATH": "/usr/bin:/bin", variable: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )

    assert finished.returncode == 2, finished.stderr
    assert f"invalid setting {variable}:" in finished.stderr
    assert not (tmp_path / "var").exists()


def test_signals_wait_for_an_absent_executor_and_keep_their_order(
    context: Context, tmp_path: Path, gateway: GatewayStandIn
) -> None:
    """The loop in a thread, with a PUSH that refuses to queue while no executor is connected."""
    store = StrategyStore.open(tmp_path / "strategy.sqlite")
    store.add(a_condition(id="a", trigger_price=1000))
    store.add(a_condition(id="b", trigger_price=1010))
    pull_endpoint = endpoint()
    signals = make_socket(context, zmq.PUSH)
    signals.setsockopt(zmq.IMMEDIATE, 1)  # no peer, no queue: every send would block
    signals.connect(pull_endpoint)
    registry = CollectorRegistry()
    service = StrategyService(
        store=store,
        ticks=make_socket(
            context, zmq.SUB, connect=gateway.endpoint, subscribe=(TICK_TOPIC, HEARTBEAT_TOPIC)
        ),
        signals=signals,
        control=make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:*"),
        metrics=StrategyMetrics(registry),
        heartbeat_timeout_s=3.0,
    )
    stop = threading.Event()
    loop = threading.Thread(target=service.run, args=(stop,), daemon=True)
    loop.start()

    def wait_until(what: str, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 5
        while not predicate():
            assert time.monotonic() < deadline, f"never {what}"
            gateway.heartbeat()  # keeps the loop healthy while the test waits
            time.sleep(0.02)

    def sample(name: str) -> float | None:
        return registry.get_sample_value(name)

    try:
        wait_until("healthy", lambda: service.health()[0])
        gateway.tick(1000)
        gateway.tick(1025)  # both enter on one tick
        wait_until("deferred", lambda: sample("aftm_strategy_signals_deferred_total") == 2)
        assert sample("aftm_strategy_signals_pending") == 2

        pull = make_socket(context, zmq.PULL, bind=pull_endpoint)

        assert [receive_signal(pull).id for _ in range(2)] == ["a:entry", "b:entry"]
        wait_until("flushed", lambda: sample("aftm_strategy_signals_pending") == 0)
        assert [s.id for _, s in store.signals()] == ["a:entry", "b:entry"]
    finally:
        stop.set()
        loop.join(2)
        store.close()
    assert not loop.is_alive()
