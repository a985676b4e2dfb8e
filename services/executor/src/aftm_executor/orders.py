"""From a journaled signal to exactly one order, and from gateway reports to its state.

The order desk is called by the service loop only. Orders go out through a pipelined client
without waiting for their replies (a burst of signals would otherwise queue behind each round
trip); the loop hands the replies back (`take_replies`) and the time-outs (`expire`). Questions
about orders (QueryOrder) use the loop's blocking request client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from loguru import logger

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.wire.pipelined import PipelinedClient
from aftm.wire.protocol import ErrorCode, OrderSnapshot, QueryOrder, Reply
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm_executor import risk
from aftm_executor.entries import JournalEntry, new_entry
from aftm_executor.journal import Journal
from aftm_executor.metrics import ExecutorMetrics
from aftm_executor.sizing import order_for, quantity_for
from aftm_executor.states import UNRESOLVED, SignalState, from_order_status

# Answers that do not accept the order: no `acked_ns` for them.
_NOT_ACCEPTED = frozenset({SignalState.REJECTED, SignalState.UNKNOWN})
_RESULT = {
    SignalState.REJECTED: "rejected",
    SignalState.UNKNOWN: "unknown",
    SignalState.SENDING: "unknown",
}


@dataclass(frozen=True, slots=True)
class Sent:
    """An order request on its way, with the journal entry it was sent for."""

    order: PlaceOrder
    entry: JournalEntry


class OrderDesk:
    def __init__(
        self,
        journal: Journal,
        gateway: ReliableClient,
        orders: PipelinedClient[Sent],
        limits: risk.Limits,
        metrics: ExecutorMetrics,
        gateway_state: Callable[[], risk.GatewayState],
    ) -> None:
        self._journal = journal
        self._gateway = gateway
        self._orders = orders
        self._limits = limits
        self._metrics = metrics
        self._gateway_state = gateway_state
        self._rate = risk.OrderRate()
        self._waiting: set[str] = set()  # signal ids whose WAIT was already logged
        self.recheck = False  # an order changed state: waiting signals may be decidable now

    # --- deciding -------------------------------------------------------------------------------

    def take(self, signal: Signal, received_ns: int, payload: bytes | None = None) -> bool:
        """Journal a new signal with its first decision in one commit, then act on it: send
        its order, refuse it, or leave it waiting. False, doing nothing, if already journaled.
        `payload`: the signal's frame as received, journaled as it is (else it is encoded).

        Deciding before the row exists is safe: nothing leaves the process before the commit,
        and a signal lost in a crash before it is fetched again from the strategy (resync). The
        commit itself tells a new signal from a known one, so no lookup precedes it.
        """
        return self._decide(new_entry(signal, received_ns), journaled=False, payload=payload)

    def decide(self, signal_id_: str) -> None:
        """Risk-check a `received` signal: refuse it, leave it waiting, or send its order."""
        entry = self._journal.get(signal_id_)
        if entry is None or entry.state is not SignalState.RECEIVED:
            return
        self._decide(entry, journaled=True)

    def _decide(
        self, entry: JournalEntry, *, journaled: bool, payload: bytes | None = None
    ) -> bool:
        """Decide and act; False, having done nothing, when a new `entry` (not `journaled`)
        turns out to be journaled already."""
        signal = entry.signal
        account, quantity, context = self._context(entry)
        decision = risk.check(replace(signal, quantity=quantity), context, self._limits)
        record = self._journal.record
        if decision.verdict is risk.Verdict.WAIT:
            if not journaled and not record(signal, entry.received_ns, payload=payload):
                return False
            if signal.id not in self._waiting:
                self._waiting.add(signal.id)
                logger.info("signal waiting signal_id={} reason={}", signal.id, decision.reason)
            return True
        now_ns = time.time_ns()
        if decision.verdict is risk.Verdict.REFUSE:
            reason = f"risk: {decision.reason}"
            if journaled:
                self._journal.reject(signal.id, reason, now_ns)
            elif not record(signal, entry.received_ns, rejected=reason, payload=payload):
                return False
            self._waiting.discard(signal.id)
            self._metrics.orders.labels(result="risk_rejected").inc()
            logger.warning("signal rejected signal_id={} reason={}", signal.id, decision.reason)
            return True
        order = order_for(signal, account, now_ns, quantity)
        # Committed as `sending` before the request leaves: a crash from here on is resolved
        # by asking the gateway about this client order id.
        if journaled:
            self._journal.mark_sending(order, signal.id, now_ns)
        elif not record(signal, entry.received_ns, order=order, payload=payload):
            return False  # journaled before: that row, not this decision, is what counts
        self._waiting.discard(signal.id)
        self._rate.record(time.monotonic_ns())
        self._place(order, entry)
        return True

    def decide_waiting(self) -> None:
        self.recheck = False
        for entry in self._journal.in_states([SignalState.RECEIVED]):
            self.decide(entry.signal.id)

    def _context(self, entry: JournalEntry) -> tuple[str, int, risk.Context]:
        """The order's account and quantity, and what the risk check needs to judge it."""
        signal = entry.signal
        entry_record = None
        quantity = signal.quantity
        if signal.kind.is_exit:
            # An exit closes its entry's position, on the entry's account, whatever is selected.
            opening = self._journal.get(signal_id(signal.condition_id, SignalKind.ENTRY))
            account = opening.account if opening else ""
            if opening is not None:
                entry_record = risk.EntryRecord(opening.state, opening.filled_quantity)
                quantity = quantity_for(signal, opening.state, opening.filled_quantity)
        else:
            account = self._journal.account()
        return (
            account,
            quantity,
            risk.Context(
                mode=self._journal.mode(),
                gateway=self._gateway_state(),
                account=account,
                position=self._journal.exposure(account, signal.symbol) if account else 0,
                orders_in_window=self._rate.count(time.monotonic_ns()),
                entry=entry_record,
            ),
        )

    # --- placing and resolving ------------------------------------------------------------------

    def _place(self, order: PlaceOrder, entry: JournalEntry) -> None:
        """Send the order; its answer comes back through `take_replies` or `expire`."""
        self._orders.send(order, Sent(order, entry))

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
            order, entry = sent.order, sent.entry
            self._journal.report(entry.signal.id, SignalState.UNKNOWN, time.time_ns())
            self._metrics.orders.labels(result="unknown").inc()
            _log_sent(order, entry, SignalState.UNKNOWN)
            logger.warning(
                "order unknown after no reply client_order_id={} signal_id={}",
                order.client_order_id,
                entry.signal.id,
            )

    def _on_answer(self, sent: Sent, reply: Reply) -> None:
        # Its log line comes after the reply: the journal, committed before the request, is
        # the record of what was sent, and a line before it would delay every order by its cost.
        order, entry = sent.order, sent.entry
        state = self._on_place_reply(order, entry, reply)
        _log_sent(order, entry, state)
        result = _RESULT.get(state, "accepted")
        self._metrics.orders.labels(result=result).inc()
        if result == "accepted":
            now_ns = time.time_ns()
            self._metrics.signal_to_ack.observe(max(now_ns - entry.received_ns, 0) / 1e9)
            if entry.signal.ts_ns > 0:
                self._metrics.tick_to_ack.observe(max(now_ns - entry.signal.ts_ns, 0) / 1e9)

    def _on_place_reply(self, order: PlaceOrder, entry: JournalEntry, reply: Reply) -> SignalState:
        order_id, now_ns = order.client_order_id, time.time_ns()
        body = reply.body
        if reply.ok and isinstance(body, OrderSnapshot) and body.client_order_id == order_id:
            updated = self.apply_snapshot(body, replied_ns=now_ns)
            return updated.state if updated else SignalState.UNKNOWN
        if reply.ok or reply.error_code in (None, ErrorCode.UNAVAILABLE):
            # The gateway could not say what became of it: ask again later, never resend blind.
            problem = reply.error or f"unexpected reply body {type(body).__name__}"
            self._journal.report(entry.signal.id, SignalState.UNKNOWN, now_ns, reason=problem)
            logger.warning("order unknown client_order_id={} reason={}", order_id, problem)
            return SignalState.UNKNOWN
        reason = f"gateway {reply.error_code}: {reply.error}"
        self._journal.report(entry.signal.id, SignalState.REJECTED, now_ns, reason=reason)
        logger.warning("order rejected client_order_id={} reason={}", order_id, reason)
        return SignalState.REJECTED

    def resolve(self) -> None:
        """Ask the gateway about every order sent without a known outcome, oldest first;
        not about those in flight, whose reply is still to come."""
        in_flight = {sent.entry.signal.id for sent in self._orders.in_flight()}
        for entry in self._journal.in_states(UNRESOLVED):
            if entry.signal.id in in_flight:
                continue
            if not self._resolve_one(entry):
                return  # the gateway is not answering: the next round tries again

    def _resolve_one(self, entry: JournalEntry) -> bool:
        order_id = entry.client_order_id
        try:
            reply = self._gateway.request(QueryOrder(order_id))
        except RequestTimedOut:
            logger.warning("order query unanswered client_order_id={}", order_id)
            return False
        if reply.ok and isinstance(reply.body, OrderSnapshot):
            updated = self.apply_snapshot(reply.body)
            logger.info(
                "order resolved client_order_id={} state={}",
                order_id,
                updated.state if updated else "?",
            )
            return True
        if reply.error_code is ErrorCode.NOT_FOUND:
            # The gateway never journaled it: send the very same order again. Should the first
            # request still be in flight, the gateway deduplicates it by this client order id.
            logger.warning("order not found at the gateway, resending client_order_id={}", order_id)
            now_ns = time.time_ns()
            order = order_for(entry.signal, entry.account, now_ns, entry.order_quantity)
            self._journal.mark_sending(order, entry.signal.id, now_ns)
            self._metrics.order_resends.inc()
            self._place(order, entry)
            return True
        logger.warning("order query failed client_order_id={} error={}", order_id, reply.error)
        return False

    # --- execution reports ----------------------------------------------------------------------

    def apply_snapshot(
        self, snapshot: OrderSnapshot, *, replied_ns: int | None = None
    ) -> JournalEntry | None:
        """Take the gateway's view of one of our orders; None for an order that is not ours.

        `replied_ns`: the snapshot is the reply to our place request, read at that time; if it
        accepts the order, the time is journaled as the order's `acked_ns`.
        """
        entry = self._journal.by_client_order_id(snapshot.client_order_id)
        if entry is None:
            logger.debug("order report ignored client_order_id={}", snapshot.client_order_id)
            return None
        state = from_order_status(snapshot.status)
        updated = self._journal.report_on(
            entry,
            state,
            time.time_ns() if replied_ns is None else replied_ns,
            filled_quantity=snapshot.filled_quantity,
            reason=snapshot.reason,
            acked_ns=None if state in _NOT_ACCEPTED else replied_ns,
        )
        if updated.state is not entry.state:
            self.recheck = bool(self._waiting)
        if updated.state is not entry.state and replied_ns is None:  # a reply logs "order sent"
            logger.info(
                "order state changed client_order_id={} state={} filled={}",
                entry.client_order_id,
                updated.state,
                updated.filled_quantity,
            )
        return updated

    def apply_fill(self, fill: OrderFilled) -> None:
        entry = self._journal.by_client_order_id(fill.client_order_id)
        if entry is None:
            logger.debug("fill ignored client_order_id={}", fill.client_order_id)
            return
        position = self._journal.record_fill(fill, entry, time.time_ns())
        if position is None:
            self._metrics.duplicate_fills.inc()
            logger.info("duplicate fill ignored fill_id={}", fill.fill_id)
            return
        self._metrics.fills.inc()
        self.recheck = bool(self._waiting)
        logger.info(
            "fill applied fill_id={} client_order_id={} quantity={} price={} net={} average={}",
            fill.fill_id,
            fill.client_order_id,
            fill.quantity,
            fill.price,
            position.net_quantity,
            position.average_price,
        )


def _log_sent(order: PlaceOrder, entry: JournalEntry, state: SignalState) -> None:
    signal = entry.signal
    logger.info(
        "order sent client_order_id={} signal_id={} kind={} symbol={} account={} side={}"
        " quantity={} state={}",
        order.client_order_id,
        signal.id,
        signal.kind,
        signal.symbol,
        order.account,
        order.side,
        order.quantity,
        state,
    )
