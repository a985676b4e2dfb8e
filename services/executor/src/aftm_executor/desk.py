"""The order desk: applies the trade model's decisions through the journal and the gateway.

Called by the service loop only. Every event (a signal, a reply, a report, a fill, a person's
request, the clock) becomes a new state of one trade; `decisions.decide` says the one thing to
do next, and the desk does it: journal first (an order is committed, durably, before it
leaves), then the request. Orders go out through a pipelined client without waiting for their
replies; the loop hands the replies back (`take_replies`) and the time-outs (`expire`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from loguru import logger

from aftm.domain import limits
from aftm.domain.limits import MAX_ORDER_QUANTITY
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import OrderType, TimeInForce
from aftm.errors import InvalidInput
from aftm.wire.pipelined import PipelinedClient
from aftm.wire.protocol import CancelOrder, OrderSnapshot, Reply
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm_executor import decisions, risk, trades
from aftm_executor.decisions import Decision, Situation
from aftm_executor.exposure import account_exposure_after
from aftm_executor.journal import Journal
from aftm_executor.market import AlwaysOpen, Sessions
from aftm_executor.metrics import ExecutorMetrics
from aftm_executor.protection import Protection, points_for
from aftm_executor.replies import Outcome, ask_gateway, outcome_of
from aftm_executor.states import OrderState, from_order_status
from aftm_executor.trades import Leg, Order, Trade

MAX_STEPS = 4  # decisions in a row for one event (e.g. fetch the entry, then refuse it)
CANCEL_TIMEOUT_MS = 1000
NS = 1_000_000_000

# The strategy's answer to "give me signal X": the signal, MISSING (it has none), or None (no
# answer: ask again later).
MISSING = "missing"
Fetch = Callable[[str], "Signal | str | None"]


@dataclass(frozen=True, slots=True)
class Sent:
    """An order request on its way, with what its reply needs to be applied and measured."""

    order: PlaceOrder
    trade_id: str
    received_ns: int  # when the signal that caused it was taken (0: not a signal)
    signal_ts_ns: int  # the tick time of that signal (0: none)


@dataclass(frozen=True, slots=True)
class Policy:
    limits: risk.Limits = field(default_factory=risk.Limits)
    max_entry_age_s: float = 5.0
    sessions: Sessions = field(default_factory=AlwaysOpen)  # market rules (AlwaysOpen: none)
    # Points per product code when signal orders go out protected; None: market orders.
    protection_points: Mapping[str, int] | None = None


class OrderDesk:
    def __init__(
        self,
        journal: Journal,
        gateway: ReliableClient,
        orders: PipelinedClient[Sent],
        policy: Policy,
        metrics: ExecutorMetrics,
        gateway_state: Callable[[], risk.GatewayState],
        entries_blocked: Callable[[], str],
        fetch: Fetch,
        last_price: Callable[[str], int | None] = lambda _symbol: None,
    ) -> None:
        self._journal = journal
        self._gateway = gateway
        self._orders = orders
        self._policy = policy
        self._metrics = metrics
        self._gateway_state = gateway_state
        self._entries_blocked = entries_blocked
        self._fetch = fetch
        self._last_price = last_price
        now_ns = time.time_ns()
        self._rate = risk.OrderRate(journal.entry_send_times(now_ns - risk.NS_PER_MINUTE))

    # --- events -----------------------------------------------------------------------------

    def take(self, signal: Signal, received_ns: int, payload: bytes | None = None) -> bool:
        """Journal a new signal with its trade's next decision in one commit, then act on it.
        False, doing nothing, if the signal was journaled before.

        InvalidInput, before anything is journaled, for a signal that cannot be its trade's:
        an exit that is not on the other side of its entry, or one naming a manual order. Not
        journaled, such a signal cannot take the id of the real one that may follow.
        """
        now_ns = time.time_ns()
        trade = self._journal.trade(signal.condition_id)
        if trade is not None:
            _check_belongs(signal, trade)
        if signal.kind.is_exit:
            trade = (
                trades.from_exit(signal, now_ns)
                if trade is None
                else trades.wants_exit(trade, signal.kind.value, now_ns)
            )
        elif trade is None:
            trade = trades.from_entry(signal, self._journal.account(), now_ns)
        else:
            trade = trades.with_entry(trade, signal, self._journal.account())
        decided, decision = self._apply(trade, self._decide(trade))
        if not self._journal.take_signal(signal, received_ns, decided, payload):
            return False
        self._log_decision(trade, decided, decision)
        follow = self._perform(decided, decision, received_ns, signal.ts_ns)
        if follow is not None:
            self.step(follow, save=True)
        return True

    def manual(self, trade: Trade) -> Trade:
        """A person's order as a trade of its own; the same order id answers the same trade."""
        known = self._journal.trade(trade.trade_id)
        if known is not None:
            return known
        return self.step(trade, save=True)

    def flatten(self, symbol: str = "") -> list[Trade]:
        """Every live trade (of `symbol`) closes at market, through its own lifecycle; working
        entries are cancelled first, and HALTED does not hold these exits."""
        now_ns = time.time_ns()
        closing = []
        for trade in self._journal.live_trades():
            if symbol and trade.symbol != symbol:
                continue
            wanted = trades.wants_exit(trade, "flatten", now_ns, flatten=True)
            closing.append(self.step(wanted, save=wanted != trade))
        logger.warning("flatten requested symbol={} trades={}", symbol or "*", len(closing))
        return closing

    def sweep(self) -> None:
        """Decide again every trade that waits on something: a backoff, a hold, its entry."""
        for trade in self._journal.waiting_trades():
            if not any(order.is_unresolved for order in trade.orders):
                self.step(trade)

    def apply_snapshot(self, snapshot: OrderSnapshot, *, replied_ns: int | None = None) -> None:
        """Take the gateway's view of one of our orders; an order not ours is ignored."""
        trade = self._journal.trade_of_order(snapshot.client_order_id)
        if trade is None:
            logger.debug("order report ignored client_order_id={}", snapshot.client_order_id)
            return
        if snapshot.account and trade.account and snapshot.account != trade.account:
            # One gateway serves an executor per account: another account's order is never
            # ours, whatever its id says (ids name their account, so this is a bug to see).
            self._metrics.invalid_fills.labels(field="account").inc()
            logger.error(
                "order report of another account ignored client_order_id={} account={} ours={}",
                snapshot.client_order_id,
                snapshot.account,
                trade.account,
            )
            return
        try:  # its filled lots go into the journal: at most one order's, never 2**63
            limits.check_int(
                snapshot.filled_quantity, "filled_quantity", minimum=0, maximum=MAX_ORDER_QUANTITY
            )
        except InvalidInput as invalid:
            self._metrics.invalid_fills.labels(field=invalid.field).inc()
            logger.error("order report refused trade_id={} error={}", trade.trade_id, invalid)
            return
        state = from_order_status(snapshot.status)
        now_ns = time.time_ns()
        updated = trades.reported(
            trade,
            snapshot.client_order_id,
            state,
            snapshot.filled_quantity,
            snapshot.reason,
            now_ns,
        )
        acked = None
        if replied_ns is not None and state not in (OrderState.REJECTED, OrderState.UNKNOWN):
            acked = (snapshot.client_order_id, replied_ns)  # journaled with the trade: one commit
        self._log_change(trade, updated, snapshot.client_order_id)
        self.step(updated, save=updated != trade, acked=acked)

    def apply_fill(self, fill: OrderFilled) -> bool:
        """Fold a fill of one of our orders into its trade and the book; False (nothing done)
        for a fill of an order not ours, or one applied before."""
        trade = self._journal.trade_of_order(fill.client_order_id)
        if trade is None:
            logger.debug("fill ignored client_order_id={}", fill.client_order_id)
            return False
        try:
            limits.check_fill(fill)  # a position, and the journal's 64-bit integers, stay sane
        except InvalidInput as invalid:
            self._metrics.invalid_fills.labels(field=invalid.field).inc()
            logger.error("fill refused fill_id={!r:.80} error={}", fill.fill_id, invalid)
            return False
        position = self._journal.record_fill(fill, trade.account)
        if position is None:
            self._metrics.duplicate_fills.inc()
            logger.info("duplicate fill ignored fill_id={}", fill.fill_id)
            return False
        self._metrics.fills.inc()
        logger.info(
            "fill applied fill_id={} client_order_id={} quantity={} price={} net={} average={}",
            fill.fill_id,
            fill.client_order_id,
            fill.quantity,
            fill.price,
            position.net_quantity,
            position.average_price,
        )
        trade = self._journal.trade(trade.trade_id) or trade  # with the fill counted
        order = trade.order(fill.client_order_id)
        if order is None:
            return True
        state = OrderState.FILLED if order.filled >= order.quantity else OrderState.PARTIALLY_FILLED
        updated = trades.reported(
            trade, order.client_order_id, state, order.filled, "", time.time_ns()
        )
        self.step(updated, save=updated != trade)
        return True

    # --- deciding and acting ----------------------------------------------------------------

    def step(
        self, trade: Trade, *, save: bool = False, acked: tuple[str, int] | None = None
    ) -> Trade:
        """Decide and act until the trade waits on something outside; returns it as stored.
        `acked`: an accepting reply's (client order id, ns), journaled with the first save."""
        for _ in range(MAX_STEPS):
            decided, decision = self._apply(trade, self._decide(trade))
            if decided != trade or save or acked is not None:
                self._journal.save(decided, acked=acked)
                save, acked = False, None
            self._log_decision(trade, decided, decision)
            trade = decided
            follow = self._perform(trade, decision, 0, trade.entry_ts_ns or 0)
            if follow is None:
                return trade
            trade, save = follow, True
        return trade

    def _decide(self, trade: Trade) -> Decision:
        return decisions.decide(trade, self._situation(trade))

    def _situation(self, trade: Trade) -> Situation:
        now_ns = time.time_ns()
        position, exposure = 0, 0.0
        if trade.account and _may_enter(trade):
            exposures = self._journal.exposures(trade.account)
            position = exposures.get(trade.symbol, 0)
            signed = trade.side.sign * trade.quantity
            exposure = account_exposure_after(exposures, trade.symbol, signed)
        return Situation(
            now_ns=now_ns,
            mode=self._journal.mode(),
            gateway=self._gateway_state(),
            limits=self._policy.limits,
            max_entry_age_ns=int(self._policy.max_entry_age_s * NS),
            exposure=position,
            account_exposure=exposure,
            entries_in_window=self._rate.count(now_ns),
            entries_blocked=self._entries_blocked(),
            market=self._policy.sessions.view(trade.symbol),
            protection=self._protection(trade),
        )

    def _protection(self, trade: Trade) -> Protection | None:
        """How a new order of this trade is priced: None for a market order. A person's
        orders (manual, flatten) go at market, as they asked."""
        points = self._policy.protection_points
        if points is None or trade.is_manual or trade.flatten:
            return None
        protect = points_for(points, trade.symbol)
        if protect is None:  # a product without points: it cannot be priced
            return Protection(points=0, last_price=None)
        return Protection(points=protect, last_price=self._last_price(trade.symbol))

    def _apply(self, trade: Trade, decision: Decision) -> tuple[Trade, Decision]:
        """The trade as the decision leaves it, before anything goes out (pure)."""
        now_ns = time.time_ns()
        if isinstance(decision, decisions.Place):
            return trades.placed(trade, decision.order, now_ns), decision
        if isinstance(decision, decisions.Refuse):
            return trades.refused(trade, decision.reason, now_ns), decision
        if isinstance(decision, decisions.Hold):
            return trades.held(trade, decision.reason, now_ns), decision
        return trade, decision

    def _perform(
        self, trade: Trade, decision: Decision, received_ns: int, signal_ts_ns: int
    ) -> Trade | None:
        """Do what the journaled decision says; a trade to decide again, or None."""
        if isinstance(decision, decisions.Place):
            self._send(trade, decision.order, received_ns, signal_ts_ns)
        elif isinstance(decision, decisions.FetchEntry):
            return self._fetch_entry(trade, decision.signal_id)
        elif isinstance(decision, decisions.Cancel):
            return self._cancel(trade, decision.client_order_id)
        return None

    def _send(self, trade: Trade, order: Order, received_ns: int, signal_ts_ns: int) -> None:
        if order.leg is Leg.ENTRY:
            self._rate.record(order.sent_ns)
        else:
            self._metrics.exit_attempts.inc()
        limit = order.limit_price
        request = PlaceOrder(
            client_order_id=order.client_order_id,
            account=trade.account,
            symbol=trade.symbol,
            side=order.side,
            quantity=order.quantity,
            order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
            price=None if limit is None else Decimal(limit),
            time_in_force=TimeInForce.IOC,
            ts_ns=order.sent_ns,
        )
        self._orders.send(request, Sent(request, trade.trade_id, received_ns, signal_ts_ns))

    def _fetch_entry(self, trade: Trade, signal_id: str) -> Trade | None:
        found = self._fetch(signal_id)
        now_ns = time.time_ns()
        if found is None:
            self._journal.save(
                trades.held(trade, "waiting for the entry from the strategy", now_ns)
            )
            return None
        if not isinstance(found, str) and not _is_entry_of(found, trade):
            found = MISSING  # never traded here: the executor refuses such an entry when pushed
        if isinstance(found, str):
            logger.warning("exit without an entry trade_id={}", trade.trade_id)
            self._journal.save(trades.entry_missing(trade, now_ns))
            return None
        if found.side is not trade.side:
            # The exit came first on its entry's side. The entry's side decides (with_entry), so
            # the exit still closes the entry and can never add to it.
            self._metrics.invalid_signals.labels(field="side").inc()
            logger.warning("exit on its entry's side ignored trade_id={}", trade.trade_id)
        logger.warning("entry fetched for an exit that came first signal_id={}", found.id)
        with_entry = trades.with_entry(trade, found, self._journal.account())
        if not self._journal.take_signal(found, now_ns, with_entry):
            return self._journal.trade(trade.trade_id)  # taken meanwhile: as it is stored
        return with_entry

    def _cancel(self, trade: Trade, client_order_id: str) -> Trade | None:
        """Cancel a working entry before its exit; the answer (or its report) moves it on."""
        self._metrics.order_cancels.inc()
        now_ns = time.time_ns()
        self._journal.save(trades.cancel_sent(trade, now_ns))
        try:
            reply = self._gateway.request(
                CancelOrder(client_order_id), timeout_ms=CANCEL_TIMEOUT_MS
            )
        except RequestTimedOut:
            logger.warning("cancel unanswered client_order_id={}", client_order_id)
            return None
        if reply.ok and isinstance(reply.body, OrderSnapshot):
            snapshot = reply.body
            stored = self._journal.trade(trade.trade_id) or trade
            return trades.reported(
                stored,
                client_order_id,
                from_order_status(snapshot.status),
                snapshot.filled_quantity,
                snapshot.reason,
                time.time_ns(),
            )
        logger.warning("cancel refused client_order_id={} error={}", client_order_id, reply.error)
        return None

    # --- replies and resolution -------------------------------------------------------------

    def take_replies(self) -> None:
        """Apply every order reply waiting on the pipelined socket."""
        received = self._orders.receive()
        for problem in received.dropped:
            self._metrics.malformed_frames.labels(socket="gateway").inc()
            logger.warning("gateway reply dropped error={}", problem)
        for answered in received.answered:
            self._metrics.order_round_trip.observe(answered.round_trip_s)
            self._on_answer(answered.tag, answered.reply)

    def expire(self) -> None:
        """Orders whose answer did not come in time are `unknown`: asked about later."""
        for sent in self._orders.expire():
            self._unknown(sent.order.client_order_id, "no reply within the timeout")

    def _on_answer(self, sent: Sent, reply: Reply) -> None:
        order_id, now_ns = sent.order.client_order_id, time.time_ns()
        outcome = outcome_of(sent.order, reply)
        self._metrics.orders.labels(result=outcome.result).inc()
        _log_sent(sent, outcome)
        if outcome.snapshot is not None:
            if outcome.result == "accepted":
                self._measure(sent, now_ns)
            self.apply_snapshot(outcome.snapshot, replied_ns=now_ns)
        elif outcome.result == "unknown":
            self._unknown(order_id, outcome.reason)
        else:
            self._rejected(order_id, outcome)

    def _measure(self, sent: Sent, now_ns: int) -> None:
        if sent.received_ns > 0:
            self._metrics.signal_to_ack.observe(max(now_ns - sent.received_ns, 0) / 1e9)
        if sent.signal_ts_ns > 0:
            self._metrics.tick_to_ack.observe(max(now_ns - sent.signal_ts_ns, 0) / 1e9)

    def _unknown(self, client_order_id: str, reason: str) -> None:
        trade = self._journal.trade_of_order(client_order_id)
        if trade is None:
            return
        updated = trades.reported(trade, client_order_id, OrderState.UNKNOWN, 0, "", time.time_ns())
        self._journal.save(updated)
        self._metrics.orders.labels(result="unknown").inc()
        logger.warning("order unknown client_order_id={} reason={}", client_order_id, reason)

    def _rejected(self, client_order_id: str, outcome: Outcome) -> None:
        trade = self._journal.trade_of_order(client_order_id)
        if trade is None:
            return
        now_ns = time.time_ns()
        updated = trades.reported(
            trade, client_order_id, OrderState.REJECTED, 0, outcome.reason, now_ns
        )
        logger.warning(
            "order rejected client_order_id={} reason={}", client_order_id, outcome.reason
        )
        self.step(updated, save=True)

    def resolve(self) -> None:
        """Ask the gateway about every order sent without a known outcome, oldest first; not
        about those in flight, whose reply is still to come."""
        in_flight = {sent.order.client_order_id for sent in self._orders.in_flight()}
        for trade_id, order in self._journal.unresolved():
            if order.client_order_id in in_flight:
                continue
            if not self._resolve_one(trade_id, order):
                return  # the gateway is not answering: the next round tries again

    def refresh_working(self) -> int | None:
        """Ask again about every order the broker accepted and has not finished (its last
        report may be lost); how many were asked, None if the gateway stopped answering."""
        in_flight = {sent.order.client_order_id for sent in self._orders.in_flight()}
        asked = 0
        for _, order in self._journal.working():
            if order.client_order_id in in_flight:
                continue
            answer = ask_gateway(self._gateway, order.client_order_id)
            if not answer.answered:
                return None
            asked += 1
            if answer.snapshot is not None:
                self.apply_snapshot(answer.snapshot)
            elif answer.never_placed:
                # Accepted once, unknown now: nothing to send again; the positions tell.
                logger.error(
                    "working order unknown at the gateway client_order_id={}",
                    order.client_order_id,
                )
        return asked

    def _resolve_one(self, trade_id: str, order: Order) -> bool:
        answer = ask_gateway(self._gateway, order.client_order_id)
        if answer.snapshot is not None:
            self.apply_snapshot(answer.snapshot)
            return True
        if answer.never_placed:
            trade = self._journal.trade(trade_id)
            if trade is None:
                return True
            logger.warning(
                "order not found at the gateway client_order_id={}", order.client_order_id
            )
            self._metrics.order_resends.inc()
            self.step(trades.unsent(trade, order.client_order_id, time.time_ns()), save=True)
            return True
        return answer.answered

    # --- logs -------------------------------------------------------------------------------

    def _log_change(self, before: Trade, after: Trade, client_order_id: str) -> None:
        old, new = before.order(client_order_id), after.order(client_order_id)
        if old is not None and new is not None and old.state is not new.state:
            logger.info(
                "order state changed client_order_id={} state={} filled={}",
                client_order_id,
                new.state,
                new.filled,
            )

    def _log_decision(self, before: Trade, after: Trade, decision: Decision) -> None:
        if isinstance(decision, decisions.Refuse):
            if decision.rule:
                self._metrics.market_rule_orders.labels(
                    action="refused", reason=decision.rule
                ).inc()
            self._metrics.orders.labels(result="risk_rejected").inc()
            if decision.reason.startswith("stale"):
                self._metrics.stale_entries.inc()
            logger.warning("entry refused trade_id={} reason={}", after.trade_id, decision.reason)
        elif isinstance(decision, decisions.Hold) and before.hold != after.hold:
            if decision.rule:  # counted once per hold, not once per sweep
                by_market = self._metrics.market_rule_orders
                by_market.labels(action="held", reason=decision.rule).inc()
            log = logger.warning if after.exit_wanted else logger.info
            log("trade held trade_id={} reason={}", after.trade_id, decision.reason)


def _may_enter(trade: Trade) -> bool:
    """Whether the next decision may place an entry: only then are exposures needed."""
    if trade.phase is trades.Phase.PENDING:
        return True
    return any(o.leg is Leg.ENTRY and o.state is OrderState.UNSENT for o in trade.orders)


def _log_sent(sent: Sent, outcome: Outcome) -> None:
    order = sent.order
    logger.info(
        "order sent client_order_id={} trade_id={} symbol={} account={} side={} quantity={}"
        " result={}",
        order.client_order_id,
        sent.trade_id,
        order.symbol,
        order.account,
        order.side,
        order.quantity,
        outcome.result,
    )


def _check_belongs(signal: Signal, trade: Trade) -> None:
    """InvalidInput if `signal` cannot be one of `trade`'s (see OrderDesk.take)."""
    if trade.is_manual:
        raise InvalidInput("condition_id", "names a manual order, not a condition")
    if signal.kind.is_exit and trade.entry_ts_ns is not None:
        limits.check_exit(signal, entry_side=trade.side, entry_symbol=trade.symbol)


def _is_entry_of(found: Signal, trade: Trade) -> bool:
    """Whether the strategy's answer is an entry in range for this trade's condition."""
    try:
        limits.check_signal(found)
    except InvalidInput as invalid:
        logger.warning("fetched entry refused trade_id={} error={}", trade.trade_id, invalid)
        return False
    return found.kind is SignalKind.ENTRY and found.condition_id == trade.trade_id
