"""The strategy shards the executor trades for, asked for the signals that never reached it.

Every shard pushes every signal to every executor; what was lost on the way (the executor was
down, a push queue was dropped) is found by the resync, which pages through each shard's store
of emitted signal ids from a cursor of its own and fetches only the ids not journaled here. An
exit whose entry was never seen has its entry fetched from whichever shard has it.

A shard that does not answer is counted and logged, and asked again after a backoff, while the
others go on: one shard down stops no other's resync, and is not asked again (blocking the
loop for a time-out) at every sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from loguru import logger

from aftm.domain.signals import Signal
from aftm.wire.protocol import (
    MAX_SIGNAL_PAGE,
    GetSignals,
    ListSignalIds,
    SignalIdList,
    SignalList,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm_executor.desk import MISSING
from aftm_executor.journal import Journal
from aftm_executor.metrics import ExecutorMetrics

Answer = TypeVar("Answer")

LEGACY_CURSOR = "resync_after"  # the one strategy's cursor, from before shards
RESYNC_RETRY_S = 5.0  # after a shard did not answer, doubled per failure in a row
RESYNC_TIMEOUT_MS = 1000  # a shard answers from memory; don't stall the loop longer
RESYNC_PAGE = 5000  # ids per ListSignalIds request: ~100 KB, far below the frame cap
RESYNC_MAX_PAGES = 20  # per shard and resync, so a long history cannot stall the loop


@dataclass
class Shard:
    endpoint: str
    client: ReliableClient
    cursor: int  # the shard's store position resynced up to
    due: float = 0.0  # monotonic: when it is asked next
    failures: int = 0  # requests in a row it did not answer

    @property
    def cursor_key(self) -> str:
        return f"{LEGACY_CURSOR}@{self.endpoint}"

    @property
    def is_down(self) -> bool:
        """It did not answer, and its backoff has not run out: not worth a time-out now."""
        return self.failures > 0 and time.monotonic() < self.due


class StrategyShards:
    def __init__(
        self,
        clients: Sequence[tuple[str, ReliableClient]],
        journal: Journal,
        metrics: ExecutorMetrics,
        accept: Callable[[Signal], None],
        *,
        interval_s: float,
    ) -> None:
        self._journal = journal
        self._metrics = metrics
        self._accept = accept
        self._interval_s = interval_s
        self.shards = [Shard(e, c, 0) for e, c in clients]
        for shard in self.shards:
            # Kept across restarts, so a start does not page through the whole history again;
            # a single strategy goes on from the cursor it had before shards.
            stored = journal.setting(shard.cursor_key)
            if stored is None and len(self.shards) == 1:
                stored = journal.setting(LEGACY_CURSOR)
            shard.cursor = int(stored or 0)
            metrics.strategy_up.labels(strategy=shard.endpoint).set(1)
        self._taken: set[str] = set()  # signal ids journaled since the last resync

    def taken(self, signal_id: str) -> None:
        """A signal was journaled: the next resync needs no query to know it."""
        self._taken.add(signal_id)

    def resync(self, *, everyone: bool = False) -> None:
        """Resync each shard that is due (`everyone`: all of them, as at a start)."""
        now = time.monotonic()
        due = [shard for shard in self.shards if everyone or now >= shard.due]
        for shard in due:
            self._resync(shard)
        if due:  # the ids taken so far are listed by now or later, and journaled either way
            self._taken.clear()

    def fetch(self, signal_id: str) -> Signal | str | None:
        """One signal from whichever shard has it: the signal, MISSING (every shard answered
        without it), or None (a shard that may have it did not answer: ask again later)."""
        unanswered = False
        for shard in self.shards:
            if shard.is_down:
                unanswered = True
                continue
            found = self._ask(shard, GetSignals((signal_id,)), SignalList)
            if found is None:
                unanswered = True
                continue
            signal = next((s for s in found.signals if s.id == signal_id), None)
            if signal is not None:
                return signal
        return None if unanswered else MISSING

    # --- one shard ------------------------------------------------------------------------------

    def _resync(self, shard: Shard) -> None:
        """Journal and act on every signal the shard emitted that never reached us; the cursor
        advances only past signals that are now journaled."""
        for _ in range(RESYNC_MAX_PAGES):
            before = shard.cursor
            page = self._page(shard)
            if page is None:
                return  # asked again after its backoff (see _ask)
            if len(page.ids) < RESYNC_PAGE or shard.cursor <= before:
                break
        else:
            shard.due = time.monotonic()  # more pages wait: continue on the next round
            return
        shard.due = time.monotonic() + self._interval_s

    def _page(self, shard: Shard) -> SignalIdList | None:
        """One page of ids; whole signals are asked for only where an id is missing here.

        Ids are cheap on both sides, where whole signals made each periodic resync stall the
        strategy and this loop for tens of milliseconds.
        """
        page = self._ask(shard, ListSignalIds(after=shard.cursor, limit=RESYNC_PAGE), SignalIdList)
        if page is None:
            return None
        unknown = self._journal.unknown_signals(i for i in page.ids if i not in self._taken)
        if unknown and not self._recover(shard, [i for i in page.ids if i in unknown]):
            return None
        if page.last > shard.cursor:
            shard.cursor = page.last
            self._journal.set_setting(shard.cursor_key, str(page.last))
        return page

    def _recover(self, shard: Shard, ids: list[str]) -> bool:
        """Fetch these signals from the shard and take them; False if it did not say."""
        for start in range(0, len(ids), MAX_SIGNAL_PAGE):
            query = GetSignals(tuple(ids[start : start + MAX_SIGNAL_PAGE]))
            found = self._ask(shard, query, SignalList)
            if found is None:
                return False
            # In the shard's store order, as it emitted them: wall-clock stamps may tie or go
            # back, and an exit taken before its entry would wait for it.
            for signal in found.signals:
                logger.warning(
                    "signal recovered from the strategy signal_id={} strategy={}",
                    signal.id,
                    shard.endpoint,
                )
                self._accept(signal)
        return True

    def _ask(self, shard: Shard, query: object, answer: type[Answer]) -> Answer | None:
        """The shard's `answer`; None (counted, logged, the shard backs off) if it gave none."""
        try:
            timeout_ms = min(shard.client.timeout_ms, RESYNC_TIMEOUT_MS)
            reply = shard.client.request(query, timeout_ms=timeout_ms)
        except RequestTimedOut:
            self._failed(shard, "strategy did not answer")
            return None
        if not reply.ok or not isinstance(reply.body, answer):
            self._failed(shard, reply.error or f"no {answer.__name__}")
            return None
        if shard.failures:
            logger.info("strategy answers again strategy={}", shard.endpoint)
            self._metrics.strategy_up.labels(strategy=shard.endpoint).set(1)
        shard.failures = 0
        return reply.body

    def _failed(self, shard: Shard, why: str) -> None:
        shard.failures += 1
        backoff_s = RESYNC_RETRY_S * 2 ** min(shard.failures - 1, 10)
        shard.due = time.monotonic() + min(backoff_s, max(self._interval_s, RESYNC_RETRY_S))
        self._metrics.strategy_failures.labels(strategy=shard.endpoint).inc()
        self._metrics.strategy_up.labels(strategy=shard.endpoint).set(0)
        logger.warning(
            "signal resync failed strategy={} reason={} failures={}",
            shard.endpoint,
            why,
            shard.failures,
        )
