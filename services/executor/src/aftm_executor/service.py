"""The executor's loop: signals in, orders out, execution reports back, one thread, one poll.

Every signal is journaled, together with its trade's next decision, before anything is done
about it (see desk.py and the trade model in trades.py and decisions.py). An order whose answer
did not come is `unknown` and is resolved by asking the gateway about its id; only when the
gateway definitively never had it does the trade model decide again (an entry still fresh and
allowed goes out under the same id; an exit goes out unless held).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import zmq
from loguru import logger

from aftm.domain import limits
from aftm.domain.orders import OrderFilled
from aftm.domain.signals import Signal
from aftm.errors import DecodeError, InvalidInput
from aftm.guard import MessageGuard
from aftm.security.roles import BoundSocket
from aftm.security.transport import Security
from aftm.wire.codec import decode
from aftm.wire.pipelined import PipelinedClient
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ORDER_TOPIC,
    ExecutorStatus,
    GatewayHealth,
    GatewayHeartbeat,
    GetHealth,
    OrderUpdated,
    ReconcileState,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import InvalidRequest, forbidden, read_request, reply_frames
from aftm_executor.control import Control
from aftm_executor.desk import OrderDesk, Policy, Sent
from aftm_executor.journal import Journal
from aftm_executor.loss import DailyLoss
from aftm_executor.marks import LastPrices
from aftm_executor.metrics import ExecutorMetrics
from aftm_executor.reconciler import Reconciler
from aftm_executor.risk import GatewayState
from aftm_executor.shards import StrategyShards
from aftm_executor.watch import GatewayWatch

POLL_MS = 100  # how often the stop event is looked at
HOUSEKEEPING_S = 1.0  # resolve unknown orders this often
SWEEP_S = 0.25  # decide again the trades that wait (backoffs, holds): the exit retry's grain
PRUNE_S = 3600.0  # forget done trades past the retention this often
PROBE_TIMEOUT_MS = 300  # a silent gateway is asked for its health this long, once a second
RECONCILE_RETRY_S = 2.0  # after a reconciliation the gateway did not answer


@dataclass(frozen=True, slots=True)
class Sockets:
    signals: zmq.Socket[bytes]  # PULL, bound: signals pushed by every strategy shard
    reports: zmq.Socket[bytes]  # SUB to the gateway PUB: order updates, fills, heartbeats
    control: zmq.Socket[bytes]  # ROUTER, bound: the console's requests


@dataclass(frozen=True, slots=True)
class Timing:
    heartbeat_timeout_s: float = 3.0
    resync_interval_s: float = 30.0
    retention_days: float = 30.0  # done trades are kept this long, then forgotten
    daily_loss_limit_twd: float = 200_000.0  # 0: off
    reconcile_interval_s: float = 10.0
    reconcile_settle_s: float = 2.0  # a difference must stand this long to halt entries


class Executor:
    def __init__(
        self,
        *,
        journal: Journal,
        gateway: ReliableClient,
        orders: PipelinedClient[Sent],
        strategies: Sequence[tuple[str, ReliableClient]],  # (endpoint, client) per shard
        sockets: Sockets,
        policy: Policy,
        metrics: ExecutorMetrics,
        timing: Timing,
        security: Security | None = None,
        fixed_account: str = "",  # AFTM_EXECUTOR_ACCOUNT when AFTM_EXECUTOR_ACCOUNT_FIXED
    ) -> None:
        # Without security (tests wiring sockets by hand) every peer passes, as with plain TCP.
        security = security or Security.insecure()
        self._signal_gate = security.gate(BoundSocket.EXECUTOR_PULL)
        self._control_gate = security.gate(BoundSocket.EXECUTOR_CONTROL)
        self._guard = MessageGuard(
            lambda socket: metrics.message_failures.labels(socket=socket).inc()
        )
        self._journal = journal
        self._shards = StrategyShards(
            strategies, journal, metrics, self._accept, interval_s=timing.resync_interval_s
        )
        self._sockets = sockets
        self._orders = orders
        self._metrics = metrics
        self._timing = timing
        self.watch = GatewayWatch(timing.heartbeat_timeout_s)
        self._desk = OrderDesk(
            journal,
            gateway,
            orders,
            policy,
            metrics,
            self.watch.state,
            self._entries_blocked,
            self._shards.fetch,
            last_price=LastPrices(gateway).get,
        )
        self._gateway = gateway
        self._reconciler = Reconciler(
            journal,
            gateway,
            self._desk,
            metrics,
            settle_s=timing.reconcile_settle_s,
            fixed_account=fixed_account,
        )
        self._reconcile_due = 0.0
        self._reports_awaited_since: float | None = None  # monotonic; None: none awaited
        self._control = Control(
            journal, gateway, self._desk, self.status, self._reconciler, fixed_account
        )
        self._loss = DailyLoss(journal, gateway, metrics, timing.daily_loss_limit_twd)
        self._prune_due = 0.0
        self._unresolved = 0
        self._counted_at = -1  # journal changes at the last count of unresolved orders
        metrics.track_heartbeat_age(self.watch.age_s)
        metrics.quarantined.set(journal.quarantined)
        metrics.show_account(journal.account())

    def run(self, stop: threading.Event) -> None:
        logger.info(
            "executor started account={} mode={}", self._journal.account(), self._journal.mode()
        )
        self._recover(stop)
        poller = zmq.Poller()
        for sock in (self._sockets.reports, self._sockets.signals, self._sockets.control):
            poller.register(sock, zmq.POLLIN)
        replies = self._orders.socket
        poller.register(replies, zmq.POLLIN)
        next_housekeeping = time.monotonic() + HOUSEKEEPING_S
        next_sweep = time.monotonic() + SWEEP_S
        while not stop.is_set():
            ready = dict(poller.poll(self._poll_ms()))
            # Order replies first: they settle orders that the next decisions may depend on.
            if replies in ready:
                self.watch.heard()
                with self._guard.handling("gateway"):
                    self._desk.take_replies()
            self._desk.expire()
            if self._orders.socket is not replies:  # replaced after a time-out
                poller.unregister(replies)
                replies = self._orders.socket
                poller.register(replies, zmq.POLLIN)
            # Then reports: a fresh heartbeat or fill should count before the next decision.
            if self._sockets.reports in ready:
                with self._guard.handling("reports"):
                    self._on_report(self._sockets.reports.recv_multipart())
            if self._sockets.signals in ready:
                with self._guard.handling("signals"):
                    self._on_signal(self._sockets.signals.recv_multipart(copy=False))
            if self._sockets.control in ready:
                with self._guard.handling("control"):
                    self._on_control(self._sockets.control.recv_multipart(copy=False))
            if time.monotonic() >= next_housekeeping:
                self._housekeep()
                next_housekeeping = time.monotonic() + HOUSEKEEPING_S
            if time.monotonic() >= next_sweep:
                self._desk.sweep()
                next_sweep = time.monotonic() + SWEEP_S
        logger.info("executor stopped")

    def _poll_ms(self) -> int:
        """How long the next poll may block: until the oldest order in flight times out, and
        at most POLL_MS. (Spinning while a reply is due was measured: on two cores it took CPU
        from the gateway and made the round trip slower, not faster.)"""
        deadline_ms = self._orders.ms_to_deadline()
        return POLL_MS if deadline_ms is None else min(POLL_MS, deadline_ms)

    # --- start-up and housekeeping ------------------------------------------------------------

    def _recover(self, stop: threading.Event) -> None:
        """Finish what a previous run started, fetch what was emitted while it was down, then
        meet the broker: fills missed, working orders, positions."""
        for step in (self._desk.resolve, self._desk.sweep, self._resync_all, self._reconcile):
            if stop.is_set():
                return  # each step may wait on a peer; a stop request should not
            step()
        self._count_unresolved()

    def _resync_all(self) -> None:
        self._shards.resync(everyone=True)

    def _housekeep(self) -> None:
        if self.watch.state() in (GatewayState.SILENT, GatewayState.STARTING):
            self._probe()
        # A silent gateway would only make each question time out and stall the loop.
        if self.watch.state() in (GatewayState.ALIVE, GatewayState.LOGGED_OUT):
            self._desk.resolve()
        if self.watch.state() is GatewayState.ALIVE:
            self._loss.check()
            if time.monotonic() >= self._reconcile_due or self._reports_lost():
                self._reconcile()
        self._shards.resync()  # the shards that are due
        if time.monotonic() >= self._prune_due:
            self._prune()
        self._count_unresolved()  # here, not per order: it is a query, and a gauge

    def _probe(self) -> None:
        """Ask a silent gateway for its health: one that restarted answers before its SUB
        link is back, and what waits for it (entries held as "silent") goes out sooner."""
        try:
            reply = self._gateway.request(GetHealth(), timeout_ms=PROBE_TIMEOUT_MS)
        except RequestTimedOut:
            return
        if reply.ok and isinstance(reply.body, GatewayHealth):
            self._on_health(reply.body)

    def _reports_lost(self) -> bool:
        """Whether an order's final report or fills have not come for the settle time: then
        they were lost (a restart on either side) and are fetched now, rather than at the
        next periodic reconciliation."""
        if not self._journal.reports_awaited():
            self._reports_awaited_since = None
            return False
        now = time.monotonic()
        if self._reports_awaited_since is None:
            self._reports_awaited_since = now
        return now - self._reports_awaited_since >= self._timing.reconcile_settle_s

    def _reconcile(self) -> None:
        self._reports_awaited_since = None
        found = self._reconciler.run()
        settling = found.state in (ReconcileState.SETTLING, ReconcileState.DIFFERS)
        again_s = self._timing.reconcile_settle_s if settling else self._timing.reconcile_interval_s
        if found.state is ReconcileState.FAILED:
            again_s = RECONCILE_RETRY_S
        self._reconcile_due = time.monotonic() + again_s
        self._metrics.entries_blocked.set(int(bool(self._entries_blocked())))

    def _entries_blocked(self) -> str:
        """Why every entry is refused now (an alarm, the book), empty when none is."""
        return self.watch.entries_blocked() or self._reconciler.entries_halted()

    def _prune(self) -> None:
        self._prune_due = time.monotonic() + PRUNE_S
        before_ns = time.time_ns() - int(self._timing.retention_days * 86_400 * 1e9)
        pruned = self._journal.prune(before_ns)
        if pruned:
            logger.info(
                "journal pruned trades={} retention_days={}", pruned, self._timing.retention_days
            )

    def _count_unresolved(self) -> None:
        changes = self._journal.changes
        if changes == self._counted_at:
            return  # nothing was written since the last count
        self._counted_at = changes
        unresolved = self._journal.unresolved_count()
        if unresolved != self._unresolved:
            self._unresolved = unresolved
            self._metrics.unknown_orders.set(unresolved)
        self._metrics.unclosed_trades.set(self._journal.unclosed_count())
        self._metrics.held_exits.set(self._journal.held_exit_count())
        self._metrics.exits_waiting_for_open.set(self._journal.waiting_for_open_count())

    # --- sockets --------------------------------------------------------------------------------

    def _on_signal(self, received: list[zmq.Frame]) -> None:
        try:
            if len(received) != 1:
                raise DecodeError(f"expected one frame, got {len(received)}")
            payload = received[0].bytes
            signal = decode(payload)
            if not isinstance(signal, Signal):
                raise DecodeError(f"expected a Signal, got {type(signal).__name__}")
        except DecodeError as bad:
            if bad.field is not None:  # a signal with a value the wire cannot carry
                self._metrics.invalid_signals.labels(field=bad.field).inc()
            self._malformed("signals", bad)
            return
        if self._signal_gate.check(received, signal) is not None:
            return  # counted and logged by the gate: a forged signal never reaches the journal
        self._accept(signal, payload)

    def _accept(self, signal: Signal, payload: bytes | None = None) -> None:
        self._metrics.signals_received.inc()
        try:
            limits.check_signal(signal)
            taken = self._desk.take(signal, time.time_ns(), payload)
        except InvalidInput as invalid:
            # Refused before the journal: no order, and the id stays free for the real signal.
            self._metrics.invalid_signals.labels(field=invalid.field).inc()
            logger.warning("signal refused signal_id={!r:.80} error={}", signal.id, invalid)
            return
        if not taken:
            self._metrics.duplicate_signals.inc()
            logger.warning("duplicate signal ignored signal_id={}", signal.id)
            return
        self._shards.taken(signal.id)
        # DEBUG: "order sending", "signal waiting" or "signal rejected" was logged at INFO
        # with the signal id, so INFO holds one line per signal, not two.
        logger.debug(
            "signal journaled signal_id={} kind={} symbol={} side={} quantity={}",
            signal.id,
            signal.kind,
            signal.symbol,
            signal.side,
            signal.quantity,
        )

    def _on_report(self, frames: list[bytes]) -> None:
        try:
            if len(frames) != 2:
                raise DecodeError(f"expected [topic, payload], got {len(frames)} frames")
            topic, payload = frames
            message = decode(payload)
        except DecodeError as bad:
            if bad.field is not None and frames[0] in (ORDER_TOPIC, FILL_TOPIC):
                # A report with lots or a price the wire cannot carry: as one out of range.
                self._metrics.invalid_fills.labels(field=bad.field).inc()
            self._malformed("reports", bad)
            return
        self.watch.heard()
        if topic == HEARTBEAT_TOPIC and isinstance(message, GatewayHeartbeat):
            self._on_health(message.health)
        elif topic == ORDER_TOPIC and isinstance(message, OrderUpdated):
            self._desk.apply_snapshot(message.order)
        elif topic == FILL_TOPIC and isinstance(message, OrderFilled):
            self._desk.apply_fill(message)
        else:
            kind = type(message).__name__
            self._malformed("reports", DecodeError(f"{kind} does not belong on topic {topic!r}"))

    def _on_health(self, health: GatewayHealth) -> None:
        before = self.watch.state()
        news = self.watch.take_health(health)
        if news.duplicates_changed:
            self._metrics.entries_blocked.set(int(bool(self._entries_blocked())))
            if health.duplicate_orders:
                logger.error("entries halted reason={}", self.watch.entries_blocked())
        if news.restarted or news.logged_in:
            # What it published while we were not listening may be lost: meet the broker.
            logger.info("gateway restarted or logged in: reconciling soon")
            self._reconcile_due = 0.0
        after = self.watch.state()
        if after is not before:
            logger.info("gateway state changed from={} to={}", before, after)
            # Entries held until the gateway was first heard, exits until the broker is back.
            self._desk.sweep()

    def _on_control(self, received: list[zmq.Frame]) -> None:
        frames = [frame.bytes for frame in received]
        try:
            identity, request = read_request(frames)
        except DecodeError as bad:
            self._malformed("control", bad)
            if isinstance(bad, InvalidRequest):  # answered INVALID naming the field
                self._sockets.control.send_multipart(bad.frames)
            return
        refused = self._control_gate.check(received, request.body)
        if refused is not None:
            reply = forbidden(request, refused)
        else:
            reply = self._guard.reply("control", request, self._control.answer)
            self._metrics.show_account(self._journal.account())  # a selection may change it
        self._sockets.control.send_multipart(reply_frames(identity, reply))

    def _malformed(self, socket: str, problem: DecodeError) -> None:
        self._metrics.malformed_frames.labels(socket=socket).inc()
        logger.warning("malformed frame dropped socket={} error={}", socket, problem)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> ExecutorStatus:
        counts = self._journal.counts()
        return ExecutorStatus(
            account=self._journal.account(),
            mode=self._journal.mode(),
            gateway_alive=self.watch.state() is GatewayState.ALIVE,
            signals_received=counts.received,
            orders_sent=counts.sent,
            signals_rejected=counts.risk_rejected,
            positions=self._journal.positions(),
            reconciliation=self._reconciler.last,
            quarantined=self._journal.quarantined,
        )

    def health(self) -> tuple[bool, dict[str, object]]:
        """Called from the HTTP thread: reads only plain attributes, never the journal."""
        age = self.watch.age_s()
        return age <= self._timing.heartbeat_timeout_s, {
            "gateway": self.watch.state().value,
            "heartbeat_age_s": None if age == float("inf") else round(age, 3),
            "gateway_logged_in": bool(self.watch.logged_in),
            "unknown_orders": self._unresolved,
            "reconciliation": self._reconciler.last.state.value,
            "entries_halted": self._reconciler.last.entries_halted,
        }
