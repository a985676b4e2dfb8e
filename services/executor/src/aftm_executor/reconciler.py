"""Reconciliation with the broker, run by the service loop (DESIGN.md, "Reconciliation").

One run: apply the fills the gateway's fill ledger holds that the book missed, ask again about
every order still working, then compare the book with the broker's positions of every account
the executor trades (reconcile.py decides what a difference means). A run that the gateway
does not answer compares nothing and changes no halt. `accept` first sets the book to the
broker's figures wherever they differ and nothing is in flight: a person's decision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypeVar

from loguru import logger

from aftm.domain.positions import Position
from aftm.wire.protocol import (
    FillList,
    ListFills,
    ListPositions,
    PositionCheck,
    PositionList,
    ReconcileState,
    Reconciliation,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm_executor.desk import OrderDesk
from aftm_executor.journal import Journal
from aftm_executor.metrics import ExecutorMetrics
from aftm_executor.reconcile import Comparison, Key, Sighting, compare, describe

Answer = TypeVar("Answer")
FILL_CURSOR = "fills_after"  # settings key: "<ledger>:<position>" applied up to
FILL_PAGE = 1000
MAX_FILL_PAGES = 20  # per run, so a long ledger cannot stall the loop; the rest comes next run
NEVER = Reconciliation(
    state=ReconcileState.NEVER,
    ts_ns=0,
    detail="",
    fills_applied=0,
    orders_asked=0,
    entries_halted=False,
    positions=(),
)


class GatewaySilent(Exception):
    """The gateway did not answer one of the run's requests."""


@dataclass(frozen=True, slots=True)
class Cursor:
    ledger: str
    position: int

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        ledger, _, position = (text or "").rpartition(":")
        return cls(ledger, int(position) if position.isdigit() else 0)

    def __str__(self) -> str:
        return f"{self.ledger}:{self.position}"


class Reconciler:
    def __init__(
        self,
        journal: Journal,
        gateway: ReliableClient,
        desk: OrderDesk,
        metrics: ExecutorMetrics,
        *,
        settle_s: float,
        fixed_account: str = "",
    ) -> None:
        # One executor per account: its book is compared with that account only, as the
        # broker's other accounts are other executors' (and would differ from this book).
        self._fixed_account = fixed_account
        self._journal = journal
        self._gateway = gateway
        self._desk = desk
        self._metrics = metrics
        self._settle_ns = int(settle_s * 1e9)
        self._sightings: dict[Key, Sighting] = {}
        self._declared: tuple[PositionCheck, ...] = ()  # the differences that halt entries
        self.last = NEVER

    def entries_halted(self) -> str:
        """Why entries are refused now because of the book, empty when they are not."""
        if not self._declared:
            return ""
        return f"positions differ from the broker ({describe(self._declared)}): entries halted"

    def run(self, *, accept: bool = False) -> Reconciliation:
        now_ns = time.time_ns()
        started = time.perf_counter()
        try:
            applied = self._apply_missed_fills()
            asked = self._desk.refresh_working()
            if asked is None:
                raise GatewaySilent("the gateway did not answer an order query")
            accounts = self._accounts()
            broker = self._broker_positions(accounts)
        except GatewaySilent as silent:
            return self._failed(now_ns, str(silent))
        found = self._compare(accounts, broker, now_ns)
        adopted = 0
        if accept:
            adopted = self._adopt(found, broker, now_ns)
            found = self._compare(accounts, broker, now_ns)
        self._declare(found)
        self.last = Reconciliation(
            state=found.state,
            ts_ns=now_ns,
            detail=describe(c for c in found.checks if c.state is not ReconcileState.AGREED),
            fills_applied=applied,
            orders_asked=asked,
            entries_halted=bool(self._declared),
            positions=found.checks,
            adopted=adopted,
        )
        self._metrics.reconciliations.labels(result=found.state.value).inc()
        self._metrics.reconcile_last_success.set(now_ns / 1e9)
        self._metrics.reconcile_duration.observe(time.perf_counter() - started)
        return self.last

    # --- the three steps ----------------------------------------------------------------------

    def _apply_missed_fills(self) -> int:
        """Page the fill ledger from the cursor; apply the fills of our orders not yet in the
        book. The cursor moves past a page only once every fill in it is applied."""
        cursor = Cursor.parse(self._journal.setting(FILL_CURSOR))
        applied = 0
        for _ in range(MAX_FILL_PAGES):
            page = self._ask(ListFills(after=cursor.position, limit=FILL_PAGE), FillList)
            if page.ledger != cursor.ledger:
                # The first run, or a ledger started afresh: its positions are not ours.
                if cursor.ledger:
                    logger.warning("fill ledger changed: listing every fill again")
                restart = cursor.position != 0
                cursor = Cursor(page.ledger, 0)
                if restart:
                    continue
            applied += self._apply(page)
            if page.last > cursor.position:
                cursor = Cursor(page.ledger, page.last)
                self._journal.set_setting(FILL_CURSOR, str(cursor))
            if len(page.fills) < FILL_PAGE:
                break
        return applied

    def _apply(self, page: FillList) -> int:
        known = self._journal.known_fills(fill.fill_id for fill in page.fills)
        applied = 0
        for fill in page.fills:
            if fill.fill_id in known or not self._desk.apply_fill(fill):
                continue  # in the book already, or not one of our orders
            applied += 1
            self._metrics.missed_fills.inc()
            logger.warning(
                "missed fill applied fill_id={} client_order_id={} quantity={}",
                fill.fill_id,
                fill.client_order_id,
                fill.quantity,
            )
        return applied

    def _accounts(self) -> set[str]:
        """Every account the executor trades or holds a position in (its fixed one only)."""
        if self._fixed_account:
            return {self._fixed_account}
        accounts = {p.account for p in self._journal.positions() if p.net_quantity}
        accounts |= self._journal.live_accounts()  # not live_trades(): each read is a query
        accounts.add(self._journal.account())
        return {account for account in accounts if account}

    def _broker_positions(self, accounts: set[str]) -> list[Position]:
        positions: list[Position] = []
        for account in sorted(accounts):
            positions.extend(self._ask(ListPositions(account=account), PositionList).positions)
        return positions

    def _compare(self, accounts: set[str], broker: list[Position], now_ns: int) -> Comparison:
        found = compare(
            self._journal.positions(),
            broker,
            accounts=accounts,
            unsettled=self._journal.unsettled(),
            sightings=self._sightings,
            now_ns=now_ns,
            settle_ns=self._settle_ns,
        )
        self._sightings = found.sightings
        return found

    def _adopt(self, found: Comparison, broker: list[Position], now_ns: int) -> int:
        """Set the book to the broker's figures where they differ and nothing is in flight."""
        theirs = {(p.account, p.symbol): p for p in broker}
        unsettled = self._journal.unsettled()
        adopted = 0
        for check in found.checks:
            key = (check.account, check.symbol)
            if check.state is ReconcileState.AGREED or key in unsettled:
                continue
            position = theirs.get(key) or Position(
                check.account, check.symbol, 0, check.broker_average
            )
            self._journal.adopt(position, now_ns, "accepted the broker's figures")
            adopted += 1
            logger.warning(
                "book set to the broker's position account={} symbol={} book={} broker={}",
                check.account,
                check.symbol,
                check.book,
                check.broker,
            )
        self._sightings = {}
        return adopted

    # --- outcomes -----------------------------------------------------------------------------

    def _declare(self, found: Comparison) -> None:
        """Halt entries on a declared difference, resume when none is left; log the change."""
        declared = found.differences
        before = {(c.account, c.symbol): (c.book, c.broker) for c in self._declared}
        after = {(c.account, c.symbol): (c.book, c.broker) for c in declared}
        if after != before:
            if declared:
                logger.error(
                    "positions differ from the broker, entries halted differences={}",
                    describe(declared),
                )
            else:
                logger.warning("positions agree with the broker again, entries resume")
        for account, symbol in before.keys() - after.keys():
            self._metrics.position_difference.remove(account, symbol)
        for check in declared:
            difference = check.book - check.broker
            self._metrics.position_difference.labels(check.account, check.symbol).set(difference)
        self._metrics.reconcile_halted.set(int(bool(declared)))
        self._declared = declared

    def _failed(self, now_ns: int, why: str) -> Reconciliation:
        logger.warning("reconciliation failed reason={}", why)
        self._metrics.reconciliations.labels(result="failed").inc()
        self.last = Reconciliation(
            state=ReconcileState.FAILED,
            ts_ns=now_ns,
            detail=why,
            fills_applied=0,
            orders_asked=0,
            entries_halted=bool(self._declared),
            positions=self.last.positions,
        )
        return self.last

    def _ask(self, query: object, answer: type[Answer]) -> Answer:
        try:
            reply = self._gateway.request(query)
        except RequestTimedOut as silent:
            raise GatewaySilent(f"the gateway did not answer {type(query).__name__}") from silent
        if not reply.ok or not isinstance(reply.body, answer):
            raise GatewaySilent(
                f"{type(query).__name__} refused: {reply.error or type(reply.body).__name__}"
            )
        return reply.body
