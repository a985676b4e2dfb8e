"""The strategy's poll loop: ticks in, signals out, conditions managed over a control socket.

Sockets (frame layouts in aftm.wire.protocol): SUB connected to the gateway's PUB (ticks of
the shard's symbols, and heartbeats), one PUSH per executor connected to its PULL (signals, see
fanout.py), ROUTER bound for control requests. The loop's thread owns them all and the store's
connection.

A tick that emits signals is engine step, then store commit (the signals, with every stage
change not saved yet), then push. A crash before the commit loses only an in-memory step, which
the restarted strategy takes again on later ticks; a crash after it loses at most a push, which
the executor recovers with ListSignals (signal ids are deterministic, so it dedupes). So no
condition enters twice and no emitted signal is lost.

Stage changes that emit nothing (a trigger reached, a following trigger moved) are saved at
most STAGE_SAVE_S later, and at a clean stop: with many following conditions nearly every tick
moves one, and a commit per tick would delay the ticks that do fire. A crash loses at most that
much of the conditions' progress, as if the strategy had been down for those ticks. If the store
itself fails the loop stops: the engine would otherwise run ahead of what a restart restores.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence

import zmq
from loguru import logger

from aftm.domain import limits
from aftm.domain.conditions import Condition, Stage, check_condition
from aftm.domain.limits import INT64_MAX
from aftm.domain.market import Tick
from aftm.domain.signals import Signal
from aftm.errors import DecodeError, InvalidInput
from aftm.guard import MessageGuard
from aftm.security.curve import Gate, RefusalLog
from aftm.security.roles import BoundSocket
from aftm.wire.codec import decode
from aftm.wire.protocol import (
    HEARTBEAT_TOPIC,
    MAX_CONDITION_PAGE,
    MAX_SIGNAL_ID_PAGE,
    MAX_SIGNAL_PAGE,
    AddCondition,
    ConditionList,
    ErrorCode,
    GatewayHeartbeat,
    GetShard,
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
from aftm.wire.sockets import InvalidRequest, error, forbidden, ok, read_request, reply_frames
from aftm_strategy.engine import ConditionEngine
from aftm_strategy.expiries import ExpiryWatch
from aftm_strategy.fanout import SignalFanout
from aftm_strategy.shard import Shard
from aftm_strategy.store import StrategyStore
from aftm_strategy.telemetry import StrategyMetrics

POLL_TIMEOUT_MS = 100  # bounds how long a stop request waits
STAGE_SAVE_S = 0.25  # stage changes without a signal wait at most this long to be saved
EXPIRY_COUNT_S = 60.0  # how often conditions near expiry are counted again as days pass


class StrategyService:
    def __init__(
        self,
        *,
        store: StrategyStore,
        ticks: zmq.Socket[bytes],
        signals: zmq.Socket[bytes] | Sequence[zmq.Socket[bytes]],
        control: zmq.Socket[bytes],
        metrics: StrategyMetrics,
        heartbeat_timeout_s: float,
        gate: Gate | None = None,
        expiries: ExpiryWatch | None = None,
        shard: Shard | None = None,
        signal_labels: Sequence[str] = (),
    ) -> None:
        # Without a gate (tests wiring sockets by hand) every peer passes, as with plain TCP.
        self._gate = gate or Gate(BoundSocket.STRATEGY_CONTROL, RefusalLog(), secure=False)
        self._guard = MessageGuard(
            lambda socket: metrics.message_failures.labels(socket=socket).inc()
        )
        self._store = store
        self._ticks, self._control = ticks, control
        pushes = [signals] if isinstance(signals, zmq.Socket) else list(signals)
        self._fanout = SignalFanout(pushes, metrics, signal_labels)
        self._shard = shard or Shard()
        self._metrics = metrics
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._engine = ConditionEngine(store.conditions())
        metrics.quarantined.set(store.quarantined)
        self._stages: dict[str, Stage] = {}
        for condition in self._engine.conditions():
            self._count_stage(condition)
        self._last_seq: dict[str, int] = {}
        self._unsaved: dict[str, Condition] = {}  # changed without a signal, by id; see above
        self._save_due = 0.0  # time.monotonic() by which `_unsaved` is written
        self._last_heartbeat: float | None = None  # time.monotonic()
        self._gateway_alive = False
        # The symbols the gateway's last heartbeat listed; empty until one lists any.
        self._listed: frozenset[str] = frozenset()
        metrics.heartbeat_age.set_function(self.heartbeat_age_s)
        # Without a watch (tests wiring sockets by hand) no contract is warned about or refused.
        self._expiries = expiries
        self._expiry_count_due = 0.0  # time.monotonic() of the next count

    def run(self, stop: threading.Event) -> None:
        poller = zmq.Poller()
        poller.register(self._ticks, zmq.POLLIN)
        poller.register(self._control, zmq.POLLIN)
        self._warn_strays()
        logger.info("loop started conditions={} shard={}", len(self._stages), self._shard.name)
        while not stop.is_set():
            for push in self._fanout.sockets:
                # Wait for room only where signals are waiting, else POLLOUT would spin.
                poller.register(push, zmq.POLLOUT if self._fanout.is_waiting(push) else 0)
            ready = dict(poller.poll(POLL_TIMEOUT_MS))
            if self._ticks in ready:
                with self._guard.handling("ticks"):
                    self._on_published(self._ticks.recv_multipart())
            if self._control in ready:
                with self._guard.handling("control"):
                    self._on_control(self._control.recv_multipart(copy=False))
            for push in self._fanout.sockets:
                if push in ready:
                    self._fanout.flush(push)
            if self._unsaved and time.monotonic() >= self._save_due:
                self._save_stages()
            self._watch_heartbeat()
            if time.monotonic() >= self._expiry_count_due:
                self._count_near_expiry()
        self._save_stages()
        logger.info("loop stopped pending_signals={}", self._fanout.pending())

    def heartbeat_age_s(self) -> float:
        """Seconds since the last gateway heartbeat; infinite before the first."""
        if self._last_heartbeat is None:
            return math.inf
        return time.monotonic() - self._last_heartbeat

    def health(self) -> tuple[bool, Mapping[str, object]]:
        """Called from the metrics server's thread: reads only single values."""
        age = self.heartbeat_age_s()
        return age <= self._heartbeat_timeout_s, {
            "heartbeat_age_s": None if math.isinf(age) else round(age, 3),
            "conditions": len(self._stages),
            "signals_pending": self._fanout.pending(),
            "shard": self._shard.name,
        }

    # --- ticks and heartbeats ---------------------------------------------------------------

    def _on_published(self, frames: list[bytes]) -> None:
        try:
            message = published_message(frames)
        except DecodeError as problem:
            self._drop("ticks", problem)
            return
        if isinstance(message, Tick):
            self._on_tick(message)
        else:
            self._on_heartbeat(message)

    def _on_tick(self, tick: Tick) -> None:
        if not self._shard.owns(tick.symbol):
            # Not subscribed to: the gateway's PUB should never send one here.
            self._metrics.unowned.inc()
            return
        self._metrics.ticks.inc()
        self._check_sequence(tick)
        signals = self._engine.on_tick(tick)
        changes = self._engine.take_changes()
        if not changes and not signals:
            return
        if not self._unsaved:
            self._save_due = time.monotonic() + STAGE_SAVE_S
        self._unsaved.update((condition.id, condition) for condition in changes)
        if signals:
            # Committed: out first, bookkeeping and log lines after.
            self._fanout.emit(signals, self._save_stages(signals))
        for condition in changes:
            self._count_stage(condition)
        for signal in signals:
            self._metrics.signals.labels(kind=signal.kind.value).inc()
            logger.info(
                "signal emitted id={} kind={} side={} symbol={} quantity={} price={} seq={}",
                signal.id,
                signal.kind,
                signal.side,
                signal.symbol,
                signal.quantity,
                signal.price,
                tick.seq,
            )

    def _check_sequence(self, tick: Tick) -> None:
        last = self._last_seq.get(tick.symbol)
        self._last_seq[tick.symbol] = tick.seq
        if last is None:
            return  # a subscriber joins mid-stream: the first tick sets the baseline
        if tick.seq > last + 1:
            self._metrics.gaps.inc()
            logger.warning(
                "tick sequence gap symbol={} last_seq={} seq={} missing={}",
                tick.symbol,
                last,
                tick.seq,
                tick.seq - last - 1,
            )
        elif tick.seq <= last:
            self._metrics.resets.inc()
            logger.warning(
                "tick sequence restarted (gateway restart) symbol={} last_seq={} seq={}",
                tick.symbol,
                last,
                tick.seq,
            )

    def _on_heartbeat(self, heartbeat: GatewayHeartbeat) -> None:
        self._last_heartbeat = time.monotonic()
        if heartbeat.health.symbols:
            self._listed = frozenset(heartbeat.health.symbols)
        if not self._gateway_alive:
            self._gateway_alive = True
            health = heartbeat.health
            logger.info(
                "gateway heartbeat received broker={} logged_in={}", health.broker, health.logged_in
            )

    def _watch_heartbeat(self) -> None:
        age = self.heartbeat_age_s()
        if self._gateway_alive and age > self._heartbeat_timeout_s:
            self._gateway_alive = False
            logger.warning("gateway heartbeat lost age_s={:.1f}", age)

    def _save_stages(self, signals: list[Signal] | None = None) -> list[bytes]:
        """Commit the unsaved stage changes, with `signals` if any, in one transaction; the
        signals' frames as stored."""
        frames: list[bytes] = []
        if self._unsaved or signals:
            frames = self._store.save_tick_outcome(self._unsaved.values(), signals or ())
            self._unsaved.clear()
        return frames

    # --- control ----------------------------------------------------------------------------

    def _on_control(self, received: list[zmq.Frame]) -> None:
        frames = [frame.bytes for frame in received]
        try:
            identity, request = read_request(frames)
        except DecodeError as problem:
            self._drop("control", problem)
            if isinstance(problem, InvalidRequest):  # answered INVALID naming the field
                self._control.send_multipart(problem.frames)
            return
        refused = self._gate.check(received, request.body)
        if refused is not None:
            reply = forbidden(request, refused)
        else:
            reply = self._guard.reply("control", request, self._answer)
        # reply_frames answers UNAVAILABLE when a reply cannot be framed (say, over the limit).
        self._control.send_multipart(reply_frames(identity, reply))

    def _answer(self, request: Request) -> Reply:
        body = request.body
        if isinstance(body, AddCondition):
            return self._add(request, body.condition)
        if isinstance(body, RemoveCondition):
            return self._remove(request, body.condition_id)
        if isinstance(body, ListConditions):
            return self._list_conditions(request, body)
        if isinstance(body, ListSignals):
            return self._list_signals(request, body)
        if isinstance(body, ListSignalIds):
            return self._list_signal_ids(request, body)
        if isinstance(body, GetSignals):
            return self._get_signals(request, body)
        if isinstance(body, GetShard):
            return ok(request, self._shard.info())
        name = type(body).__name__
        logger.warning("control request refused request={} reason=unsupported", name)
        return error(request, ErrorCode.BAD_REQUEST, f"the strategy does not serve {name}")

    def _list_conditions(self, request: Request, query: ListConditions) -> Reply:
        """A page in creation order (the store's positions are the cursor), each condition as
        the engine holds it now: a stage not saved yet is shown too."""
        try:
            limits.check_int(query.limit, "limit", minimum=1, maximum=MAX_CONDITION_PAGE)
            limits.check_int(query.after, "after", minimum=0)
        except InvalidInput as invalid:
            return error(request, ErrorCode.INVALID, str(invalid))
        page, more = self._store.condition_ids(query.after, query.limit)
        listed = tuple(found for _, cid in page if (found := self._engine.get(cid)) is not None)
        last = page[-1][0] if page else query.after
        return ok(request, ConditionList(listed, last, more, self._store.quarantined))

    def _list_signals(self, request: Request, query: ListSignals) -> Reply:
        if not 0 <= query.after <= INT64_MAX or not 1 <= query.limit <= MAX_SIGNAL_PAGE:
            message = f"after must be 0..{INT64_MAX} and limit 1..{MAX_SIGNAL_PAGE}"
            return error(request, ErrorCode.INVALID, message)
        page = self._store.signals(query.after, query.limit)
        last = page[-1][0] if page else query.after
        return ok(request, SignalList(tuple(signal for _, signal in page), last))

    def _list_signal_ids(self, request: Request, query: ListSignalIds) -> Reply:
        if not 0 <= query.after <= INT64_MAX or not 1 <= query.limit <= MAX_SIGNAL_ID_PAGE:
            message = f"after must be 0..{INT64_MAX} and limit 1..{MAX_SIGNAL_ID_PAGE}"
            return error(request, ErrorCode.INVALID, message)
        page = self._store.signal_ids(query.after, query.limit)
        last = page[-1][0] if page else query.after
        return ok(request, SignalIdList(tuple(signal_id for _, signal_id in page), last))

    def _get_signals(self, request: Request, query: GetSignals) -> Reply:
        if len(query.ids) > MAX_SIGNAL_PAGE:
            message = f"at most {MAX_SIGNAL_PAGE} ids at a time, got {len(query.ids)}"
            return error(request, ErrorCode.INVALID, message)
        try:
            for signal_id in query.ids:
                limits.check_id(signal_id, "ids")
        except InvalidInput as invalid:
            return error(request, ErrorCode.INVALID, str(invalid))
        return ok(request, SignalList(tuple(self._store.signals_by_id(query.ids))))

    def _add(self, request: Request, condition: Condition) -> Reply:
        refusal = self._refusal(condition)
        if refusal:
            logger.warning("condition refused id={!r:.80} reason={}", condition.id, refusal)
            return error(request, ErrorCode.INVALID, refusal)
        self._store.add(condition)
        self._engine.add(condition)
        self._count_stage(condition)
        if self._expiries is not None:
            self._expiries.warn_if_near(condition)
        self._count_near_expiry()
        logger.info(
            "condition added id={} symbol={} action={} trigger_price={} quantity={}",
            condition.id,
            condition.symbol,
            condition.action,
            condition.trigger_price,
            condition.quantity,
        )
        return ok(request, condition)

    def _refusal(self, condition: Condition) -> str:
        try:
            check_condition(condition)
        except InvalidInput as invalid:
            return str(invalid)
        if condition.stage is not Stage.WAITING:
            return f"a new condition must be {Stage.WAITING}, not {condition.stage}"
        if refused := self._shard.refusal(condition):
            return refused
        # While the gateway lists nothing (not heard yet, or a broker that lists futures only
        # after login) the symbol's shape was all that could be checked; a person may set up
        # conditions before the session opens.
        if self._listed and condition.symbol not in self._listed:
            return str(InvalidInput("symbol", f"{condition.symbol!r} is not listed by the gateway"))
        if self._engine.get(condition.id) is not None:
            return f"condition {condition.id!r} already exists"
        if self._store.has_signals(condition.id):
            # Its signal ids would repeat ones the executor has already acted on and dropped.
            return f"condition id {condition.id!r} has emitted signals before; choose a new id"
        return ""

    def _remove(self, request: Request, condition_id: str) -> Reply:
        try:
            # Not check_condition_id: a condition stored before the limits must stay removable.
            limits.check_id(condition_id, "condition_id")
        except InvalidInput as invalid:
            return error(request, ErrorCode.INVALID, str(invalid))
        condition = self._engine.get(condition_id)
        if condition is None:
            return error(request, ErrorCode.NOT_FOUND, f"no condition {condition_id!r}")
        self._store.remove(condition_id)
        self._engine.remove(condition_id)
        self._unsaved.pop(condition_id, None)
        self._metrics.conditions.labels(stage=condition.stage.value).dec()
        del self._stages[condition_id]
        self._count_near_expiry()
        log = logger.warning if condition.stage is Stage.ENTERED else logger.info
        log("condition removed id={} stage={}", condition_id, condition.stage)
        return ok(request, condition)

    # --- bookkeeping ------------------------------------------------------------------------

    def _count_stage(self, condition: Condition) -> None:
        before = self._stages.get(condition.id)
        if before is condition.stage:
            return
        if before is not None:
            self._metrics.conditions.labels(stage=before.value).dec()
        self._metrics.conditions.labels(stage=condition.stage.value).inc()
        self._stages[condition.id] = condition.stage

    def _warn_strays(self) -> None:
        """Stored conditions on symbols this shard no longer owns (a store moved to a shard,
        or a shard's symbols changed) hear no ticks: say so at start, each by id."""
        for stray in self._shard.strays(self._engine.conditions()):
            logger.warning(
                "condition hears no ticks id={} symbol={} stage={} reason=shard {} does not own"
                " the symbol: move it (aftm conditions roll) or remove it",
                stray.id,
                stray.symbol,
                stray.stage,
                self._shard.name,
            )

    def _count_near_expiry(self) -> None:
        self._expiry_count_due = time.monotonic() + EXPIRY_COUNT_S
        if self._expiries is not None:
            near = self._expiries.count_near(self._engine.conditions())
            self._metrics.near_expiry.set(near)

    def _drop(self, socket: str, problem: DecodeError) -> None:
        self._metrics.malformed.labels(socket=socket).inc()
        logger.warning("frame dropped socket={} reason={}", socket, problem)


def published_message(frames: list[bytes]) -> Tick | GatewayHeartbeat:
    """The Tick or heartbeat in a gateway PUB message; DecodeError for anything else."""
    if len(frames) != 2:
        raise DecodeError(f"expected [topic, payload], got {len(frames)} frames")
    topic, payload = frames
    message = decode(payload)
    if isinstance(message, Tick) and topic == tick_topic(message.symbol):
        try:
            return limits.check_tick(message)
        except InvalidInput as invalid:
            raise DecodeError(f"tick out of range: {invalid}", field=invalid.field) from None
    if isinstance(message, GatewayHeartbeat) and topic == HEARTBEAT_TOPIC:
        return message
    raise DecodeError(f"{type(message).__name__} does not belong on topic {topic[:40]!r}")
