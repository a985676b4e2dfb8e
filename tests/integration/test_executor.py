"""The executor as a real process, with the gateway and strategy played by test-owned sockets.

The gateway double binds a ROUTER (answering Request frames with Reply frames) and a PUB
(heartbeats, order updates, fills) where the real gateway would; the strategy double binds a
ROUTER answering ListSignals and pushes signals through a PUSH socket. Every wait has a deadline
and fails with the executor's log instead of hanging.
"""

from __future__ import annotations

import itertools
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import zmq

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import OpenClose, OrderStatus, OrderType, Side, TimeInForce
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ORDER_TOPIC,
    AccountList,
    CancelOrder,
    ErrorCode,
    ExecutorStatus,
    Future,
    FutureList,
    GatewayHealth,
    GatewayHeartbeat,
    GetExecutorStatus,
    GetSignals,
    ListAccounts,
    ListFutures,
    ListSignalIds,
    ListSignals,
    OrderSnapshot,
    OrderUpdated,
    QueryOrder,
    Reply,
    Request,
    SelectAccount,
    SetTradingMode,
    SignalIdList,
    SignalList,
    TradingMode,
)
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import bound_endpoint, error, make_socket, ok, read_request, reply_frames
from aftm_executor.journal import Journal
from aftm_executor.states import OrderState
from aftm_executor.trades import Order, Phase, Trade, client_order_id
from tests import builders
from tests.support.processes import ServiceProcess, endpoint, free_port, http_json

Context = zmq.Context[zmq.Socket[bytes]]
T = TypeVar("T")
WAIT_S = 8.0
SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])


def a_signal(
    side: Side = Side.BUY,
    *,
    condition: str = "c1",
    kind: SignalKind = SignalKind.ENTRY,
    quantity: int = 2,
) -> Signal:
    """A signal stamped now: the executor measures tick-to-ack from its ts_ns."""
    return builders.a_signal(
        side, condition=condition, kind=kind, quantity=quantity, ts_ns=time.time_ns()
    )


def an_exit(entry: Signal) -> Signal:
    return replace(
        entry,
        id=signal_id(entry.condition_id, SignalKind.TAKE_PROFIT),
        side=entry.side.opposite,
        kind=SignalKind.TAKE_PROFIT,
        price=entry.price + 90,
        ts_ns=time.time_ns(),
    )


def wait_for(what: str, probe: Callable[[], T | None], log: Callable[[], str]) -> T:
    """Poll `probe` until it returns something truthy; fail with the executor's log if never."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}:\n{log()}")


GARBLED = Reply(request_id="garbled", ok=False)  # marker: answer with a malformed frame


class GatewayDouble:
    """The gateway's two sockets, served by one thread (which owns both)."""

    def __init__(self, context: Context, accounts: tuple[str, ...] = ("ACC1", "ACC2")) -> None:
        self.router = make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:*")
        self.pub = make_socket(context, zmq.PUB, bind="tcp://127.0.0.1:*")
        self.router_endpoint, self.pub_endpoint = map(bound_endpoint, (self.router, self.pub))
        self.accounts = accounts
        self.requests: queue.Queue[object] = queue.Queue()
        self.seen: list[object] = []  # every request body, in arrival order
        self.orders: dict[str, OrderSnapshot] = {}
        self.drop_places = 0  # lost before the gateway: neither journaled nor answered
        self.mute_places = 0  # journaled, but the reply is lost
        self.garble_places = 0  # journaled, and garbage comes back instead of the reply
        self.partial_ioc = False  # an IOC order gets one lot, the rest is cancelled
        self.hold_place_replies = False  # place replies wait for `release_place_replies`
        self._held: list[list[bytes]] = []
        self._release = threading.Event()
        self.heartbeats = True
        self.logged_in = True
        self.last_price = 17501  # in ListFutures: what the executor marks positions at
        self._lock = threading.Lock()
        self._outbox: queue.Queue[list[bytes]] = queue.Queue()
        self._broker_ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        next_heartbeat = 0.0
        while not self._stop.is_set():
            if self.router.poll(20):
                identity, request = read_request(self.router.recv_multipart())
                with self._lock:
                    self.seen.append(request.body)
                    reply = self._answer(request)
                self.requests.put(request.body)
                if reply is GARBLED:
                    self.router.send_multipart([identity, b"\x00garbage"])
                elif reply is not None and self.hold_place_replies:
                    self._held.append(reply_frames(identity, reply))
                elif reply is not None:
                    self.router.send_multipart(reply_frames(identity, reply))
            if self._release.is_set():
                self.hold_place_replies = False
                for frames in self._held:
                    self.router.send_multipart(frames)
                self._held.clear()
                self._release.clear()
            while not self._outbox.empty():
                self.pub.send_multipart(self._outbox.get())
            if self.heartbeats and time.monotonic() >= next_heartbeat:
                health = GatewayHealth("sim", self.logged_in, time.time_ns(), time.time_ns())
                self.pub.send_multipart([HEARTBEAT_TOPIC, encode(GatewayHeartbeat(health))])
                next_heartbeat = time.monotonic() + 0.1

    def _answer(self, request: Request) -> Reply | None:
        body = request.body
        if isinstance(body, PlaceOrder):
            if self.drop_places:
                self.drop_places -= 1
                return None
            snapshot = self.orders.setdefault(body.client_order_id, self._accepted(body))
            if self.mute_places:
                self.mute_places -= 1
                return None
            if self.garble_places:
                self.garble_places -= 1
                return GARBLED
            return ok(request, snapshot)
        if isinstance(body, QueryOrder):
            found = self.orders.get(body.client_order_id)
            if found is None:
                return error(request, ErrorCode.NOT_FOUND, f"no order {body.client_order_id}")
            return ok(request, found)
        if isinstance(body, CancelOrder):
            found = self.orders.get(body.client_order_id)
            if found is None:
                return error(request, ErrorCode.NOT_FOUND, f"no order {body.client_order_id}")
            if found.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                found = replace(found, status=OrderStatus.CANCELLED)
                self.orders[body.client_order_id] = found
            return ok(request, found)
        if isinstance(body, ListAccounts):
            return ok(request, AccountList(self.accounts))
        if isinstance(body, ListFutures):
            future = Future("TXFL6", "TX", 200, self.last_price, True)
            return ok(request, FutureList((future,)))
        return error(request, ErrorCode.BAD_REQUEST, "not a gateway request")

    def _accepted(self, order: PlaceOrder) -> OrderSnapshot:
        if self.partial_ioc:
            snapshot = replace(self._accepted_whole(order), status=OrderStatus.CANCELLED)
            return replace(snapshot, filled_quantity=1, average_price=Decimal(17500))
        return self._accepted_whole(order)

    def _accepted_whole(self, order: PlaceOrder) -> OrderSnapshot:
        return OrderSnapshot(
            client_order_id=order.client_order_id,
            broker_order_id=f"B{next(self._broker_ids)}",
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            filled_quantity=0,
            average_price=None,
            status=OrderStatus.ACCEPTED,
            reason="",
            ts_ns=time.time_ns(),
        )

    def fill(self, order_id: str, price: str = "17501") -> None:
        """Publish the whole order as filled: the fill (twice, as a republished event) first."""
        with self._lock:
            placed = self.orders[order_id]
            done = replace(
                placed,
                filled_quantity=placed.quantity,
                average_price=Decimal(price),
                status=OrderStatus.FILLED,
            )
            self.orders[order_id] = done
        fill = OrderFilled(
            client_order_id=order_id,
            broker_order_id=placed.broker_order_id,
            fill_id=f"F-{order_id}",
            symbol=placed.symbol,
            side=placed.side,
            quantity=placed.quantity,
            price=Decimal(price),
            ts_ns=time.time_ns(),
        )
        for frames in ([FILL_TOPIC, encode(fill)], [FILL_TOPIC, encode(fill)]):
            self.publish(frames)
        self.publish([ORDER_TOPIC, encode(OrderUpdated(done))])

    def publish(self, frames: list[bytes]) -> None:
        self._outbox.put(frames)

    def release_place_replies(self) -> None:
        """Send the held replies (in arrival order) and answer at once from now on."""
        self._release.set()

    def place_ids(self) -> list[str]:
        with self._lock:
            return [body.client_order_id for body in self.seen if isinstance(body, PlaceOrder)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.router.close()
        self.pub.close()


class StrategyDouble:
    """Answers the resync's ListSignalIds and GetSignals from a thread; `signals` is what the
    strategy says it emitted."""

    def __init__(self, context: Context) -> None:
        self.router = make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:*")
        self.endpoint = bound_endpoint(self.router)
        self.signals: list[Signal] = []  # position i + 1 in the strategy's store
        self.asked = 0
        self.cursors: list[int] = []  # the `after` of every ListSignalIds, in order
        self.fetched: list[tuple[str, ...]] = []  # the ids of every GetSignals, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.router.poll(20):
                continue
            identity, request = read_request(self.router.recv_multipart())
            self.asked += 1
            body = request.body
            if isinstance(body, ListSignalIds):
                self.cursors.append(body.after)
                page = tuple(s.id for s in self.signals[body.after : body.after + body.limit])
                reply = ok(request, SignalIdList(page, last=body.after + len(page)))
            elif isinstance(body, GetSignals):
                self.fetched.append(body.ids)
                reply = ok(request, SignalList(tuple(s for s in self.signals if s.id in body.ids)))
            else:
                reply = error(request, ErrorCode.BAD_REQUEST, "not a strategy request")
            self.router.send_multipart(reply_frames(identity, reply))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.router.close()


class Harness:
    """One executor process at a time, wired to the doubles; the test thread owns the rest."""

    def __init__(self, context: Context, tmp_path: Path) -> None:
        self.context = context
        self.gateway = GatewayDouble(context)
        self.strategy = StrategyDouble(context)
        self.journal_path = tmp_path / "var" / "executor-journal.sqlite"
        self.log_path = tmp_path / "executor.log"
        self.metrics_port = free_port()
        signal_endpoint, self.control_endpoint = endpoint(), endpoint()
        self.env = {
            "AFTM_EXECUTOR_SIGNAL_BIND": signal_endpoint,
            "AFTM_EXECUTOR_CONTROL_BIND": self.control_endpoint,
            "AFTM_EXECUTOR_GATEWAY_CONNECT": self.gateway.router_endpoint,
            "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": self.gateway.pub_endpoint,
            "AFTM_EXECUTOR_STRATEGY_CONNECT": self.strategy.endpoint,
            "AFTM_EXECUTOR_METRICS_PORT": str(self.metrics_port),
            "AFTM_EXECUTOR_JOURNAL_PATH": str(self.journal_path),
            "AFTM_EXECUTOR_ACCOUNT": "ACC1",
            "AFTM_EXECUTOR_REQUEST_TIMEOUT_MS": "300",
            "AFTM_EXECUTOR_HEARTBEAT_TIMEOUT_S": "1",
            "AFTM_EXECUTOR_LOG_LEVEL": "DEBUG",
        }
        self.push_socket = make_socket(context, zmq.PUSH, connect=signal_endpoint)
        self.control = ReliableClient(context, self.control_endpoint, timeout_ms=5000)
        self.process: ServiceProcess | None = None

    def start(self, **env: str) -> ServiceProcess:
        self.process = ServiceProcess("aftm_executor", {**self.env, **env}, self.log_path).start()
        self.process.wait_healthy(self.metrics_port)
        return self.process

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def push(self, signal: Signal) -> None:
        self.push_socket.send(encode(signal))

    def expect(self, kind: type[T]) -> T:
        """The next request of `kind` at the gateway (others pass by), or fail with the log."""
        deadline = time.monotonic() + WAIT_S
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                body = self.gateway.requests.get(timeout=remaining)
            except queue.Empty:
                break
            if isinstance(body, kind):
                return body
        raise AssertionError(f"no {kind.__name__} reached the gateway:\n{self.log()}")

    def status(self) -> ExecutorStatus:
        reply = self.control.request(GetExecutorStatus())
        assert reply.ok, reply.error
        assert isinstance(reply.body, ExecutorStatus)
        return reply.body

    def metric(self, sample: str) -> float | None:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(sample + " "):
                    return float(line.rsplit(" ", 1)[1])
        return None

    def wait_metric(self, sample: str, value: float) -> None:
        wait_for(f"{sample} == {value}", lambda: self.metric(sample) == value, self.log)

    def stop(self) -> None:
        """SIGTERM: a clean exit (0) well within a few seconds."""
        if self.process is not None:
            started = time.monotonic()
            assert self.process.stop() == 0, self.log()
            assert time.monotonic() - started < 3.0, self.log()

    def journal_trade(self, trade_id: str) -> Trade:
        journal = Journal(self.journal_path)
        try:
            trade = journal.trade(trade_id)
            assert trade is not None, f"trade {trade_id} was never journaled"
            return trade
        finally:
            journal.close()

    def journal_order(self, signal: Signal, attempt: int = 1) -> Order:
        """The order the signal's `attempt` was journaled as."""
        trade = self.journal_trade(signal.condition_id)
        order = trade.order(client_order_id(signal.id, attempt))
        assert order is not None, f"{signal.id} attempt {attempt} has no order:\n{self.log()}"
        return order

    def journal_order_state(self, signal: Signal) -> OrderState:
        return self.journal_order(signal).state

    def close(self) -> None:
        running = self.process and self.process.process and self.process.process.poll() is None
        if running:
            self.stop()
        self.control.close()
        self.push_socket.close()
        self.gateway.close()
        self.strategy.close()


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def harness(context: Context, tmp_path: Path) -> Iterator[Harness]:
    rig = Harness(context, tmp_path)
    try:
        yield rig
    finally:
        rig.close()


ACCEPTED = 'aftm_executor_orders_total{result="accepted"}'
RISK_REJECTED = 'aftm_executor_orders_total{result="risk_rejected"}'


# --- a signal becomes exactly one order ---------------------------------------------------------


@SIDES
def test_a_signal_becomes_one_order_and_its_fills_a_position(harness: Harness, side: Side) -> None:
    harness.start()
    signal = a_signal(side, quantity=2)

    harness.push(signal)

    placed = harness.expect(PlaceOrder)
    assert placed == PlaceOrder(
        client_order_id=client_order_id(signal.id),
        account="ACC1",
        symbol="TXFL6",
        side=side,
        quantity=2,
        order_type=OrderType.MARKET,
        price=None,
        time_in_force=TimeInForce.IOC,
        open_close=OpenClose.AUTO,
        ts_ns=placed.ts_ns,
    )
    harness.wait_metric(ACCEPTED, 1)
    assert harness.metric("aftm_executor_tick_to_ack_seconds_count") == 1
    assert harness.metric("aftm_executor_signal_to_ack_seconds_count") == 1
    assert harness.metric("aftm_executor_order_round_trip_seconds_count") == 1

    harness.gateway.fill(placed.client_order_id)

    harness.wait_metric("aftm_executor_duplicate_fills_total", 1)
    (position,) = harness.status().positions
    assert (position.account, position.net_quantity) == ("ACC1", side.sign * 2)
    assert position.average_price == Decimal("17501")
    harness.stop()
    assert harness.journal_order_state(signal) is OrderState.FILLED
    assert harness.journal_trade(signal.condition_id).phase is Phase.OPEN
    # The accepting reply's arrival is on record for tick-to-ack audits.
    with closing(sqlite3.connect(harness.journal_path)) as db:
        received_ns, acked_ns = db.execute(
            "SELECT s.received_ns, o.acked_ns FROM orders o JOIN signals s USING (signal_id)"
        ).fetchone()
    assert acked_ns is not None
    assert received_ns <= acked_ns
    assert harness.gateway.place_ids() == [placed.client_order_id]


def test_the_same_signal_pushed_twice_is_one_order(harness: Harness) -> None:
    harness.start()
    first, second = a_signal(condition="c1"), a_signal(condition="c2")

    for signal in (first, first, second):
        harness.push(signal)

    harness.expect(PlaceOrder)
    harness.expect(PlaceOrder)  # the second signal's: the duplicate was handled before it
    harness.wait_metric("aftm_executor_duplicate_signals_total", 1)
    assert harness.gateway.place_ids() == [client_order_id(first.id), client_order_id(second.id)]
    assert harness.metric("aftm_executor_signals_received_total") == 3


def test_a_burst_of_signals_sends_every_order_before_the_first_reply(harness: Harness) -> None:
    # One tick can fire several conditions: their orders must not queue behind each round trip.
    harness.start(AFTM_EXECUTOR_REQUEST_TIMEOUT_MS="5000")
    harness.gateway.hold_place_replies = True
    burst = [a_signal(condition=f"c{number}") for number in range(3)]

    for signal in burst:
        harness.push(signal)

    placed = [harness.expect(PlaceOrder).client_order_id for _ in burst]  # none answered yet
    assert placed == [client_order_id(signal.id) for signal in burst]
    assert all(harness.journal_order_state(s) is OrderState.SENDING for s in burst)
    harness.gateway.release_place_replies()
    harness.wait_metric(ACCEPTED, 3)
    assert harness.metric("aftm_executor_order_round_trip_seconds_count") == 3
    assert harness.metric('aftm_executor_orders_total{result="unknown"}') == 0
    harness.stop()
    assert all(harness.journal_order_state(s) is OrderState.ACCEPTED for s in burst)


def test_an_unanswered_order_is_queried_then_resent_under_the_same_id(harness: Harness) -> None:
    harness.gateway.drop_places = 1
    harness.start()
    signal = a_signal()
    order_id = client_order_id(signal.id)

    harness.push(signal)

    assert harness.expect(PlaceOrder).client_order_id == order_id  # never answered
    assert harness.expect(QueryOrder).client_order_id == order_id  # -> NOT_FOUND
    assert harness.expect(PlaceOrder).client_order_id == order_id  # the same order again
    harness.wait_metric(ACCEPTED, 1)
    harness.wait_metric("aftm_executor_unknown_orders", 0)
    time.sleep(1.5)  # a resolver round or two more: nothing further may be sent
    assert harness.gateway.place_ids() == [order_id, order_id]
    assert harness.metric('aftm_executor_orders_total{result="unknown"}') == 1
    assert harness.metric("aftm_executor_order_resends_total") == 1


@pytest.mark.parametrize("lost", ["request", "reply"])
def test_a_killed_executor_never_asks_for_a_second_order_id(harness: Harness, lost: str) -> None:
    if lost == "request":
        harness.gateway.drop_places = 1
    else:
        harness.gateway.mute_places = 1
    # A long request timeout: the kill lands while the order request is still in flight.
    process = harness.start(AFTM_EXECUTOR_REQUEST_TIMEOUT_MS="10000")
    signal = a_signal()
    order_id = client_order_id(signal.id)
    harness.strategy.signals = [signal]  # what ListSignals will say after the restart
    harness.push(signal)
    assert harness.expect(PlaceOrder).client_order_id == order_id

    process.kill()
    assert harness.journal_order_state(signal) is OrderState.SENDING
    harness.start()

    assert harness.expect(QueryOrder).client_order_id == order_id
    harness.wait_metric("aftm_executor_unknown_orders", 0)
    harness.gateway.fill(order_id)
    wait_for("the fill", lambda: harness.status().positions, harness.log)
    harness.stop()
    assert harness.journal_order_state(signal) is OrderState.FILLED
    expected = [order_id, order_id] if lost == "request" else [order_id]
    assert harness.gateway.place_ids() == expected


def test_a_signal_emitted_while_the_executor_was_down_is_recovered(harness: Harness) -> None:
    signal = a_signal(Side.SELL)
    harness.strategy.signals = [signal]  # emitted, never pushed to us

    harness.start()

    placed = harness.expect(PlaceOrder)
    assert (placed.client_order_id, placed.side) == (client_order_id(signal.id), Side.SELL)
    harness.wait_metric("aftm_executor_signals_received_total", 1)


def test_the_periodic_resync_asks_only_for_what_is_new(harness: Harness) -> None:
    first, second = a_signal(Side.BUY, condition="c1"), a_signal(Side.SELL, condition="c2")
    harness.strategy.signals = [first]
    harness.start(AFTM_EXECUTOR_RESYNC_INTERVAL_S="1")
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(first.id)

    harness.strategy.signals.append(second)  # emitted later, its push lost

    assert harness.expect(PlaceOrder).client_order_id == client_order_id(second.id)
    cursors = list(harness.strategy.cursors)
    assert cursors[0] == 0
    assert set(cursors[1:]) <= {1, 2}, "after the first page the executor resumes from its cursor"
    assert 1 in cursors[1:]
    # Whole signals are fetched only for ids the executor never received.
    assert harness.strategy.fetched[:2] == [(first.id,), (second.id,)]


def test_a_resync_fetches_only_the_signals_it_never_received(harness: Harness) -> None:
    pushed, lost = a_signal(Side.BUY, condition="c1"), a_signal(Side.SELL, condition="c2")
    harness.start(AFTM_EXECUTOR_RESYNC_INTERVAL_S="1")
    harness.push(pushed)
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(pushed.id)

    harness.strategy.signals = [pushed, lost]  # both emitted; only the first push arrived

    assert harness.expect(PlaceOrder).client_order_id == client_order_id(lost.id)
    assert harness.strategy.fetched == [(lost.id,)]
    harness.wait_metric(ACCEPTED, 2)
    assert harness.gateway.place_ids() == [client_order_id(pushed.id), client_order_id(lost.id)]


def test_an_exit_waits_for_its_unanswered_entry_and_closes_only_what_reached_the_market(
    harness: Harness,
) -> None:
    harness.gateway.drop_places = 1
    harness.start()
    entry = a_signal(condition="c1")

    harness.push(entry)
    harness.push(an_exit(entry))

    entry_id = client_order_id(entry.id)
    assert harness.expect(PlaceOrder).client_order_id == entry_id  # lost
    assert harness.expect(QueryOrder).client_order_id == entry_id  # not found
    # The entry never reached the market and its exit has come: neither goes out.
    wait_for("the trade to end", lambda: harness.journal_trade("c1").is_done, harness.log)
    trade = harness.journal_trade("c1")
    assert "exit came before the entry reached the market" in trade.refused
    assert harness.gateway.place_ids() == [entry_id]


@SIDES
def test_an_exit_closes_only_what_a_partly_filled_entry_got(harness: Harness, side: Side) -> None:
    harness.gateway.partial_ioc = True  # 1 of 2 lots, then cancelled
    harness.start()
    entry = a_signal(side, quantity=2)
    harness.push(entry)
    harness.expect(PlaceOrder)

    harness.push(an_exit(entry))

    placed = harness.expect(PlaceOrder)
    assert (placed.side, placed.quantity) == (side.opposite, 1)


# --- risk -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gateway", ["silent", "logged_out"])
def test_entries_need_a_live_gateway_and_exits_go_out(harness: Harness, gateway: str) -> None:
    harness.start()
    opened = a_signal(condition="c1")
    harness.push(opened)
    harness.gateway.fill(harness.expect(PlaceOrder).client_order_id)
    harness.wait_metric("aftm_executor_fills_total", 1)

    if gateway == "silent":
        harness.gateway.heartbeats = False
    else:
        harness.gateway.logged_in = False
    wait_for("the gateway to look dead", lambda: not harness.status().gateway_alive, harness.log)
    refused = a_signal(condition="c2")
    harness.push(refused)
    harness.wait_metric(RISK_REJECTED, 1)
    harness.push(an_exit(refused))  # its entry never reached the market: nothing to close
    wait_for("the exit", lambda: harness.journal_trade("c2").exit_wanted, harness.log)
    harness.push(an_exit(opened))
    if gateway == "logged_out":  # held until the broker session is back, then sent
        with pytest.raises(queue.Empty):
            harness.gateway.requests.get(timeout=0.5)
        harness.gateway.logged_in = True

    placed = harness.expect(PlaceOrder)
    assert placed.client_order_id == client_order_id(an_exit(opened).id)
    assert placed.side is Side.SELL
    assert client_order_id(refused.id) not in harness.gateway.place_ids()
    assert harness.status().signals_rejected == 1
    harness.stop()
    closed_nothing = harness.journal_trade("c2")
    assert closed_nothing.is_done
    assert closed_nothing.refused.startswith("risk: gateway")
    assert closed_nothing.orders == ()


def test_the_daily_loss_limit_switches_to_reducing_and_exits_still_go_out(
    harness: Harness,
) -> None:
    harness.start(AFTM_EXECUTOR_DAILY_LOSS_LIMIT_TWD="100000")
    opened = a_signal(Side.BUY, condition="c1", quantity=2)
    harness.push(opened)
    harness.gateway.fill(harness.expect(PlaceOrder).client_order_id)  # 2 lots at 17501
    harness.wait_metric("aftm_executor_fills_total", 1)
    assert harness.status().mode is TradingMode.ACTIVE

    harness.gateway.last_price = 17501 - 300  # 2 lots x 300 points x 200 TWD = -120,000
    harness.wait_metric("aftm_executor_daily_loss_limit_breached", 1)

    assert harness.status().mode is TradingMode.REDUCING
    assert harness.metric("aftm_executor_daily_pnl_twd") == -120_000
    harness.push(a_signal(Side.BUY, condition="c2"))
    harness.wait_metric(RISK_REJECTED, 1)  # no new exposure
    harness.push(an_exit(opened))
    placed = harness.expect(PlaceOrder)  # the way out stays open
    assert (placed.side, placed.quantity) == (Side.SELL, 2)
    assert "daily loss limit reached" in harness.log()


def test_account_and_mode_come_from_the_console_and_survive_a_restart(harness: Harness) -> None:
    harness.start()

    unknown = harness.control.request(SelectAccount("NOPE"))
    chosen = harness.control.request(SelectAccount("ACC2"))
    halted = harness.control.request(SetTradingMode(TradingMode.HALTED))

    assert (unknown.ok, unknown.error_code) == (False, ErrorCode.INVALID)
    assert "NOPE" in unknown.error
    assert chosen.ok
    assert isinstance(halted.body, ExecutorStatus)
    assert (halted.body.account, halted.body.mode) == ("ACC2", TradingMode.HALTED)
    harness.push(a_signal(condition="c1"))
    harness.wait_metric(RISK_REJECTED, 1)
    harness.stop()

    harness.start()
    assert (harness.status().account, harness.status().mode) == ("ACC2", TradingMode.HALTED)
    assert harness.control.request(SetTradingMode(TradingMode.ACTIVE)).ok
    harness.push(a_signal(condition="c2"))
    assert harness.expect(PlaceOrder).account == "ACC2"
    assert harness.gateway.place_ids() == [client_order_id(a_signal(condition="c2").id)]


# --- bad input ----------------------------------------------------------------------------------


def test_malformed_frames_are_counted_and_dropped(harness: Harness, context: Context) -> None:
    harness.start()
    control = make_socket(context, zmq.DEALER, connect=harness.control_endpoint)
    try:
        harness.push_socket.send(b"\x93not a signal")
        harness.push_socket.send_multipart([b"two", b"frames"])
        harness.gateway.publish([HEARTBEAT_TOPIC, b"\xc1"])
        harness.gateway.publish([ORDER_TOPIC, encode(a_signal())])  # wrong type for the topic
        control.send(b"garbage")

        for socket, count in (("signals", 2), ("reports", 2), ("control", 1)):
            harness.wait_metric(f'aftm_executor_malformed_frames_total{{socket="{socket}"}}', count)
        refused = harness.control.request(ListSignals())  # well framed, wrong service
        assert (refused.ok, refused.error_code) == (False, ErrorCode.BAD_REQUEST)
        harness.push(a_signal())
        harness.expect(PlaceOrder)
        assert harness.status().orders_sent == 1
    finally:
        control.close()


def test_a_garbled_order_reply_is_counted_and_the_order_resolved_not_resent(
    harness: Harness,
) -> None:
    harness.gateway.garble_places = 1
    harness.start()
    signal = a_signal()
    order_id = client_order_id(signal.id)

    harness.push(signal)

    assert harness.expect(PlaceOrder).client_order_id == order_id  # answered with garbage
    harness.wait_metric('aftm_executor_malformed_frames_total{socket="gateway"}', 1)
    assert harness.expect(QueryOrder).client_order_id == order_id  # after the time-out
    wait_for(
        "the order resolved as accepted",
        lambda: harness.journal_order_state(signal) is OrderState.ACCEPTED or None,
        harness.log,
    )
    harness.wait_metric("aftm_executor_unknown_orders", 0)
    assert harness.gateway.place_ids() == [order_id]  # the gateway had it: never resent


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_EXECUTOR_MAX_LOTS_PER_ORDER", "0"),
        ("AFTM_EXECUTOR_GATEWAY_CONNECT", "localhost:5556"),
        ("AFTM_EXECUTOR_HEARTBEAT_TIMEOUT_S", "soon"),
        ("AFTM_EXECUTOR_REQUEST_TIMEOUT_MS", "-1"),
    ],
)
def test_invalid_settings_exit_2_naming_the_variable(
    harness: Harness, variable: str, value: str
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "aftm_executor"],
        env={**ServiceProcess("aftm_executor", harness.env, harness.log_path).env, variable: value},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2
    assert f"invalid setting {variable}" in finished.stderr
    assert not harness.journal_path.exists()  # refused before touching anything


def test_health_says_why(harness: Harness) -> None:
    harness.start()

    status, body = http_json(f"http://127.0.0.1:{harness.metrics_port}/health")

    assert status == 200
    assert body["gateway"] == "alive"
    assert body["unknown_orders"] == 0
