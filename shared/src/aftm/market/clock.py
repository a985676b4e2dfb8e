"""The clock that market rules read: the real time, or a test's fake one.

Rules (sessions, holidays, expiries) are pure functions of an instant; a service asks a
`MarketClock` for that instant. `AFTM_MARKET_CLOCK_START` (an ISO time with an offset, e.g.
2026-12-02T13:44:30+08:00) makes the clock start there when the process starts and run at real
speed from then on, so a test can put the sim, the executor and the strategy at 13:44:30 on a
business day together and watch 13:45 pass. Only market-rule decisions use it: timestamps on
ticks, orders and journals stay real.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from aftm.errors import InvalidInput

CLOCK_START_ENV = "AFTM_MARKET_CLOCK_START"


class MarketClock:
    def __init__(
        self, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise InvalidInput(CLOCK_START_ENV, "needs an offset, e.g. +08:00")
        self._start = start
        self._monotonic = monotonic
        self._origin = monotonic()

    @property
    def is_fake(self) -> bool:
        return self._start is not None

    def now(self) -> datetime:
        if self._start is None:
            return datetime.now(UTC)
        return self._start + timedelta(seconds=self._monotonic() - self._origin)


def market_clock(environ: Mapping[str, str] | None = None) -> MarketClock:
    """The real clock, or the fake one AFTM_MARKET_CLOCK_START asks for (InvalidInput if it is
    not an ISO time with an offset)."""
    text = (os.environ if environ is None else environ).get(CLOCK_START_ENV, "").strip()
    if not text:
        return MarketClock()
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(CLOCK_START_ENV, f"{text[:40]!r} is not an ISO time") from None
    return MarketClock(start)
