"""The executor as a real process, with the gateway and strategy played by test-owned sockets.

Shared by the executor's integration tests (test_executor*.py); its fixtures are in conftest.py.

The gateway double binds a ROUTER (answering Request frames with Reply frames) and a PUB
(heartbeats, order updates, fills) where the real gateway would; the strategy double binds a
ROUTER answering ListSignals and pushes signals through a PUSH socket. Every wait has a deadline
and fails with the executor's log instead of hanging.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import zmq

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import OrderStatus, Side
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ORDER_TOPIC,
    AccountList,
    CancelOrder,
    ErrorCode,
    ExecutorStatus,
    FillList,
    Future,
    FutureList,
    GatewayHealth,
    GatewayHeartbeat,
    GetExecutorStatus,
    GetHealth,
    GetSignals,
    ListAccounts,
    ListFills,
    ListFutures,
    ListPositions,
    ListSignalIds,
    OrderSnapshot,
    OrderUpdated,
    PositionList,
    QueryOrder,
    Reply,
    Request,
    SignalIdList,
    SignalList,
)
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import bound_endpoint, error, make_socket, ok, read_request, reply_frames
from aftm_executor.journal import Journal
from aftm_executor.states import OrderState
from aftm_executor.trades import Order, Trade, client_order_id
from tests import builders
from tests.support.processes import ServiceProcess, endpoint, free_port

Context = zmq.Context[zmq.Socket[bytes]]
T = TypeVar("T")
WAIT_S = 8.0
SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
ACCOUNT = "ACC1"  # the harness executor's account


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
        self.answering = True  # False: requests are recorded, never answered (a gateway gone)
        self.started_ns = time.time_ns()  # in its health: a new value is a restart
        self.logged_in = True
        # The broker's record: every fill (published or not), and lots traded outside AFTM.
        self.ledger: list[OrderFilled] = []
        self.ledger_id = "ledger-1"
        self.outside_lots: dict[tuple[str, str], int] = {}
        self.last_price = 17501  # in ListFutures: what the executor marks positions at
        self._lock = threading.RLock()  # positions() is called under it too
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
                if not self.answering:
                    continue
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
                health = self.health()
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
        if isinstance(body, GetHealth):
            return ok(request, self.health())
        if isinstance(body, ListFills):
            page = self.ledger[body.after : body.after + body.limit]
            return ok(request, FillList(tuple(page), body.after + len(page), self.ledger_id))
        if isinstance(body, ListPositions):
            return ok(request, PositionList(self.positions(body.account)))
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

    def health(self) -> GatewayHealth:
        now = time.time_ns()
        return GatewayHealth("sim", self.logged_in, now, now, started_ns=self.started_ns)

    def positions(self, account: str) -> tuple[Position, ...]:
        """The broker's net lots per symbol: every fill in its ledger, and the outside lots."""
        with self._lock:
            net = {s: n for (a, s), n in self.outside_lots.items() if a == account}
            for fill in self.ledger:
                if self.orders[fill.client_order_id].account == account:
                    signed = fill.side.sign * fill.quantity
                    net[fill.symbol] = net.get(fill.symbol, 0) + signed
        return tuple(Position(account, s, n, Decimal(17501)) for s, n in sorted(net.items()) if n)

    def fill(self, order_id: str, price: str = "17501", *, publish: bool = True) -> None:
        """Fill the whole order at the broker; `publish`: report it, the fill (twice, as a
        republished event) first; else only the broker's ledger and queries know."""
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
        with self._lock:
            self.ledger.append(fill)
        if not publish:
            return
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

    def __init__(self, context: Context, bind: str = "tcp://127.0.0.1:*") -> None:
        self.router = make_socket(context, zmq.ROUTER, bind=bind)  # a shard back where it was
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
            "AFTM_EXECUTOR_ACCOUNT": ACCOUNT,
            "AFTM_EXECUTOR_REQUEST_TIMEOUT_MS": "300",
            "AFTM_EXECUTOR_HEARTBEAT_TIMEOUT_S": "1",
            "AFTM_EXECUTOR_LOG_LEVEL": "DEBUG",
            "AFTM_EXECUTOR_MARKET_RULES": "always_open",  # a test of the rules says taifex
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
        trade = self.journaled(trade_id)
        assert trade is not None, f"trade {trade_id} was never journaled"
        return trade

    def journaled(self, trade_id: str) -> Trade | None:
        """The trade as journaled, or None when its signal has not been taken in yet: what a
        `wait_for` probe reads, since the executor journals a pushed signal a moment later."""
        journal = Journal(self.journal_path)
        try:
            return journal.trade(trade_id)
        finally:
            journal.close()

    def journal_order(self, signal: Signal, attempt: int = 1) -> Order:
        """The order the signal's `attempt` was journaled as."""
        trade = self.journal_trade(signal.condition_id)
        order = trade.order(client_order_id(ACCOUNT, signal.id, attempt))
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
