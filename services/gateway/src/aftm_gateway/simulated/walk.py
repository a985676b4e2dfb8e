"""The simulated market: seeded random-walk ticks at a steady total rate over several symbols.

`step` and `due_count` are pure; `RandomWalk` holds the prices and the schedule and is the
`TickFeed` the sim broker reads.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from aftm.domain.market import Tick

MAX_STEP = 3  # points per tick, either way
MIN_PRICE = 1
NS_PER_S = 1_000_000_000
# After a stall (a slow broker call) at most this much market time is caught up at once;
# the rest is skipped so the loop is not buried under a burst.
MAX_CATCH_UP_S = 1.0


def step(price: int, rng: random.Random) -> int:
    """The next price: a move of -3..+3 points, never below one point."""
    return max(MIN_PRICE, price + rng.randint(-MAX_STEP, MAX_STEP))


def due_count(next_due_ns: int, now_ns: int, interval_ns: int, max_count: int) -> tuple[int, int]:
    """How many ticks are due by `now_ns`, and when the one after them is due.

    More than `max_count` due means the feed stalled: `max_count` are produced and the
    schedule restarts from now.
    """
    if now_ns < next_due_ns:
        return 0, next_due_ns
    count = (now_ns - next_due_ns) // interval_ns + 1
    if count > max_count:
        return max_count, now_ns + interval_ns
    return count, next_due_ns + count * interval_ns


class RandomWalk:
    """Ticks for `symbols` at `ticks_per_s` in total, each from a randomly chosen symbol."""

    def __init__(
        self,
        symbols: Sequence[str],
        prices: Mapping[str, int],
        *,
        ticks_per_s: float,
        seed: int,
    ) -> None:
        if not symbols:
            raise ValueError("a random walk needs at least one symbol")
        self._symbols = tuple(symbols)
        self._prices = {symbol: prices[symbol] for symbol in self._symbols}
        self._interval_ns = max(1, round(NS_PER_S / ticks_per_s))
        self._max_count = max(1, round(ticks_per_s * MAX_CATCH_UP_S))
        # Not for security: a seeded walk makes a simulated session reproducible.
        self._rng = random.Random(seed)  # noqa: S311
        self._next_due_ns: int | None = None

    def start(self, now_ns: int) -> None:
        if self._next_due_ns is None:
            self._next_due_ns = now_ns + self._interval_ns

    def due(self, now_ns: int) -> list[Tick]:
        if self._next_due_ns is None:
            return []
        count, self._next_due_ns = due_count(
            self._next_due_ns, now_ns, self._interval_ns, self._max_count
        )
        ticks = []
        for _ in range(count):
            symbol = self._rng.choice(self._symbols)
            price = self._prices[symbol] = step(self._prices[symbol], self._rng)
            qty = self._rng.randint(1, 10)
            ticks.append(Tick(symbol=symbol, price=price, qty=qty, ts_ns=now_ns))
        return ticks

    def next_due_ns(self) -> int | None:
        return self._next_due_ns

    def close(self) -> None:
        """Nothing to release; part of the feed shape."""
