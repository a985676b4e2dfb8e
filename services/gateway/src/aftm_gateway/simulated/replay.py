"""`ReplayBroker`: a recorded tick file played into the simulated exchange, real time x speed.

The file is the backtest's TICKS.csv, streamed with `aftm.tickfile`. Playback starts at the
first login; tick i is due `(ts_i - ts_0) / speed` after that. Orders fill against the replayed
prices exactly as on the sim. Ticks of symbols not listed (AFTM_GATEWAY_SIM_SYMBOLS) are skipped
with one warning per symbol; the end of the file, or an unreadable row, ends the market.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from loguru import logger

from aftm.domain.market import Tick
from aftm.market.calendar import Calendar, load_calendar
from aftm.tickfile import TickFile, TickFileError
from aftm_gateway.simulated.exchange import Exchange
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.hours import ReplayHours
from aftm_gateway.simulated.venue import ExchangeBroker, VenueConfig

MAX_BATCH = 10_000  # ticks per poll, so a fast replay still lets the loop answer requests


class FileReplay:
    """A `TickFeed` over a tick file; opening checks the header (TickFileError if wrong)."""

    def __init__(self, path: Path, symbols: frozenset[str], *, speed: float) -> None:
        self._file = TickFile(path)
        self._rows: Iterator[Tick] = iter(self._file)
        self._symbols = symbols
        self._speed = speed
        self._skipped: set[str] = set()
        self._origin: tuple[int, int] | None = None  # (first tick's ts_ns, wall time at start)
        self._next: Tick | None = None
        self._ended = ""  # why the replay ended, once it has
        self._last_recorded_ns: int | None = None
        self.played = 0

    def start(self, now_ns: int) -> None:
        if self._origin is not None:
            return
        self._next = self._read()
        if self._next is not None:
            self._origin = (self._next.ts_ns, now_ns)

    def due(self, now_ns: int) -> list[Tick]:
        ticks: list[Tick] = []
        while self._next is not None and len(ticks) < MAX_BATCH:
            wall_ns = self._wall_ns(self._next)
            if wall_ns > now_ns:
                break
            ticks.append(replace(self._next, ts_ns=wall_ns))
            self._last_recorded_ns = self._next.ts_ns
            self._next = self._read()
        self.played += len(ticks)
        if self._next is None and self._ended:
            logger.info("replay {} file={} ticks={}", self._ended, self._file.path, self.played)
            self._ended = ""
        return ticks

    def next_due_ns(self) -> int | None:
        return None if self._next is None else self._wall_ns(self._next)

    def recorded_ns(self) -> int | None:
        """The recorded time of the tick last played, or of the next one before the first."""
        if self._last_recorded_ns is not None:
            return self._last_recorded_ns
        return None if self._next is None else self._next.ts_ns

    def close(self) -> None:
        self._file.close()

    def _wall_ns(self, tick: Tick) -> int:
        assert self._origin is not None  # noqa: S101 - a tick is only read after start()
        first_ts_ns, start_ns = self._origin
        return start_ns + round((tick.ts_ns - first_ts_ns) / self._speed)

    def _read(self) -> Tick | None:
        try:
            for tick in self._rows:
                if tick.symbol in self._symbols:
                    return tick
                if tick.symbol not in self._skipped:
                    self._skipped.add(tick.symbol)
                    logger.warning("replay skipped symbol={} reason=not listed", tick.symbol)
        except TickFileError as error:
            logger.error("replay hit a bad row file={} error={}", self._file.path, error)
            self._ended = "stopped early"
            return None
        self._ended = "finished"
        return None


class ReplayBroker(ExchangeBroker):
    def __init__(
        self,
        store: ExchangeStore,
        config: VenueConfig,
        *,
        path: Path,
        speed: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
        calendar: Calendar | None = None,
    ) -> None:
        """`calendar`: publish the session of the recorded time by it (the default: TAIFEX's
        packaged or AFTM_MARKET_CALENDAR's holidays)."""
        feed = FileReplay(path, frozenset(config.symbols), speed=speed)
        exchange = Exchange(store, config.rules, reject_all=config.reject_all)
        hours = ReplayHours(calendar or load_calendar(), config.symbols, feed.recorded_ns)
        super().__init__("replay", exchange, feed, config, clock=clock, hours=hours)
