"""The gateway loop: one thread owns the broker, the journal, PUB and ROUTER.

Each turn waits on ROUTER (blocking poll) at most until the broker's next event or the next
heartbeat, answers one request, publishes what the broker delivered and, when due, a heartbeat.
Frame layouts are documented in aftm.wire.protocol.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import zmq
from loguru import logger

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.errors import AftmError, DecodeError
from aftm.guard import MessageGuard
from aftm.security.curve import Gate, RefusalLog
from aftm.security.roles import BoundSocket
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ORDER_TOPIC,
    GatewayHealth,
    GatewayHeartbeat,
    OrderUpdated,
    tick_topic,
)
from aftm.wire.sockets import InvalidRequest, forbidden, read_request, reply_frames
from aftm_gateway.alarms import ReportAlarms
from aftm_gateway.broker import Broker, BrokerEvent, DuplicateOrder
from aftm_gateway.desk import OrderDesk
from aftm_gateway.fill_ledger import FillLedger
from aftm_gateway.handlers import RequestHandler
from aftm_gateway.journal import Journal
from aftm_gateway.market_session import SessionPublisher
from aftm_gateway.metrics import GatewayMetrics, TimedBroker
from aftm_gateway.simulated.hours import TradingHours

NS_PER_S = 1_000_000_000
MAX_WAIT_MS = 100  # the stop event is checked at least this often
MAX_BURST = 32  # requests answered in one turn before the broker's events and ticks get theirs


@dataclass(frozen=True, slots=True)
class LoopConfig:
    heartbeat_s: float = 1.0
    health_event_age_s: float = 5.0
    drop_replies: int = 0  # fault injection: swallow the replies to the first N place requests


class GatewayService:
    def __init__(
        self,
        broker: Broker,
        journal: Journal,
        fills: FillLedger,
        pub: zmq.Socket[bytes],
        router: zmq.Socket[bytes],
        metrics: GatewayMetrics,
        config: LoopConfig,
        gate: Gate | None = None,
        *,
        hours: TradingHours | None = None,
    ) -> None:
        # Without a gate (tests wiring sockets by hand) every peer passes, as with plain TCP.
        self._gate = gate or Gate(BoundSocket.GATEWAY_ROUTER, RefusalLog(), secure=False)
        self._guard = MessageGuard(
            lambda socket: metrics.message_failures.labels(socket=socket).inc()
        )
        self._broker = TimedBroker(broker, metrics.broker_call_duration)
        self._journal = journal
        self._pub = pub
        self._router = router
        self._metrics = metrics
        self._config = config
        self._alarms = ReportAlarms(metrics)
        session_at = None if hours is None else hours.session
        self._handler = RequestHandler(
            self._broker,
            OrderDesk(self._broker, journal),
            fills,
            metrics,
            self.health_at,
            session_at,
        )
        self._sessions = (
            None
            if session_at is None
            else SessionPublisher(session_at, pub, metrics.market_session)
        )
        self._seq: dict[str, int] = {}
        self._drops_left = config.drop_replies
        self._started_ns = time.time_ns()
        self._last_event_ns = 0
        self._logged_in = False
        self._next_heartbeat_ns = 0
        metrics.broker_event_age.set_function(self._event_age_s)
        metrics.quarantined.set(journal.quarantined + fills.quarantined)

    def start(self, items: tuple[str, ...], credentials: tuple[str, str] | None) -> None:
        """Register `items` and, given credentials, log in (a refusal is logged, not fatal)."""
        for symbol in items:
            self._broker.register(symbol)
        if credentials is not None:
            user, password = credentials
            try:
                self._handler.log_in(user, password)
            except AftmError as refused:
                logger.error("auto-login failed broker={} error={}", self._broker.name, refused)
        self._note_session()

    def run(self, stop: threading.Event) -> None:
        logger.info("gateway running broker={}", self._broker.name)
        while not stop.is_set():
            if self._router.poll(self._wait_ms(time.time_ns())):
                self._serve_waiting()
            self._publish(self._broker.poll(time.time_ns()))
            self._heartbeat_if_due(time.time_ns())
            if self._sessions is not None:
                self._sessions.publish_if_due(time.time_ns())
        logger.info("gateway stopped")

    def health_at(self, now_ns: int) -> GatewayHealth:
        return GatewayHealth(
            broker=self._broker.name,
            logged_in=self._broker.is_logged_in,
            last_broker_event_ns=self._last_event_ns,
            ts_ns=now_ns,
            duplicate_orders=self._alarms.duplicate_orders,
            started_ns=self._started_ns,
            symbols=tuple(future.symbol for future in self._broker.futures()),
        )

    def health(self) -> tuple[bool, Mapping[str, object]]:
        """For /health (another thread): logged in and the broker recently heard from, or the
        market closed (a simulated market following TAIFEX's hours sends nothing then)."""
        age_s = self._event_age_s()
        quiet = self._sessions is not None and self._sessions.is_market_quiet
        fresh = age_s < self._config.health_event_age_s or quiet
        details = {
            "broker": self._broker.name,
            "logged_in": self._logged_in,
            "broker_event_age_s": round(age_s, 3),
            "duplicate_orders": self._alarms.duplicate_orders,
        }
        return self._logged_in and fresh, details

    def _wait_ms(self, now_ns: int) -> int:
        due_ns = self._next_heartbeat_ns
        broker_due_ns = self._broker.next_event_ns()
        if broker_due_ns is not None:
            due_ns = min(due_ns, broker_due_ns)
        return max(0, min(MAX_WAIT_MS, -(-(due_ns - now_ns) // 1_000_000)))

    def _serve_waiting(self) -> None:
        """Answer the requests already waiting, then journal and log what was answered.

        One tick can fire several orders at once; answering them all before the bookkeeping
        means each waits only for the broker calls ahead of it, not for their write-ups too.
        """
        for _ in range(MAX_BURST):
            try:
                frames = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            with self._guard.handling("router"):
                self._serve(frames)
        self._handler.after_reply()
        self._note_session()

    def _serve(self, received: list[zmq.Frame]) -> None:
        frames = [frame.bytes for frame in received]
        try:
            identity, request = read_request(frames)
        except DecodeError as bad:
            self._metrics.malformed_frames.labels(socket="router").inc()
            logger.warning("frame dropped socket=router frames={} error={}", len(frames), bad)
            if isinstance(bad, InvalidRequest):  # answered INVALID naming the field
                self._router.send_multipart(bad.frames)
            return
        refused = self._gate.check(received, request.body)
        if refused is not None:
            self._router.send_multipart(reply_frames(identity, forbidden(request, refused)))
            return
        reply = self._handler.answer(request, time.time_ns())
        if isinstance(request.body, PlaceOrder) and self._drops_left > 0:
            self._drops_left -= 1
            logger.warning(
                "reply dropped client_order_id={} reason=AFTM_GATEWAY_FAULT_DROP_REPLIES",
                request.body.client_order_id,
            )
        else:
            self._router.send_multipart(reply_frames(identity, reply))

    def _publish(self, events: list[BrokerEvent]) -> None:
        if not events:
            return
        self._last_event_ns = time.time_ns()
        for event in events:
            if isinstance(event, Tick):
                self._publish_tick(event)
            elif isinstance(event, DuplicateOrder):
                self._alarms.duplicate(event)
            elif not self._alarms.admits(event, self._journal.lookup(_note(event))):
                continue
            elif isinstance(event, OrderUpdated):
                # Journal first: what is published must already be remembered.
                self._journal.update(event.order)
                self._pub.send_multipart([ORDER_TOPIC, encode(event)])
            else:
                self._pub.send_multipart([FILL_TOPIC, encode(event)])

    def _publish_tick(self, tick: Tick) -> None:
        seq = self._seq[tick.symbol] = self._seq.get(tick.symbol, 0) + 1
        stamped = Tick(tick.symbol, tick.price, tick.qty, ts_ns=time.time_ns(), seq=seq)
        self._pub.send_multipart([tick_topic(tick.symbol), encode(stamped)])
        self._metrics.ticks_published.inc()

    def _heartbeat_if_due(self, now_ns: int) -> None:
        if now_ns < self._next_heartbeat_ns:
            return
        self._note_session()
        heartbeat = GatewayHeartbeat(self.health_at(now_ns))
        self._pub.send_multipart([HEARTBEAT_TOPIC, encode(heartbeat)])
        self._metrics.heartbeats.inc()
        self._next_heartbeat_ns = now_ns + round(self._config.heartbeat_s * NS_PER_S)

    def _note_session(self) -> None:
        self._logged_in = self._broker.is_logged_in
        self._metrics.logged_in.set(1 if self._logged_in else 0)

    def _event_age_s(self) -> float:
        since_ns = self._last_event_ns or self._started_ns
        return max(0.0, (time.time_ns() - since_ns) / NS_PER_S)


def _note(report: OrderUpdated | OrderFilled) -> str:
    return (
        report.order.client_order_id if isinstance(report, OrderUpdated) else report.client_order_id
    )
