"""Conditions on contracts near or past their last trading day (aftm.market.expiry's rule).

A new condition on a contract that expires within `within_days` calendar days is accepted with
a warning: it may still trigger, and the person may roll it (`aftm conditions roll`). One on a
contract that has already expired is accepted with a louder warning rather than refused: what
may trade is the broker's to say (the strategy already refuses symbols the gateway does not
list, and a real broker stops listing an expired month), while a simulated exchange that ignores
expiry keeps trading its default months whatever the date, so `aftm run --demo` works on any
day. A symbol the rules do not cover (a year beyond the holiday file) is neither warned about
nor refused: no guess.
"""

from __future__ import annotations

from collections.abc import Iterable

from loguru import logger

from aftm.domain.conditions import Condition, Stage
from aftm.errors import AftmError
from aftm.market.calendar import Calendar
from aftm.market.clock import MarketClock
from aftm.market.expiry import Expiry, expiry_of


class ExpiryWatch:
    def __init__(self, calendar: Calendar, clock: MarketClock, within_days: int) -> None:
        self._calendar = calendar
        self._clock = clock
        self._within_days = within_days

    def expiry(self, symbol: str) -> Expiry | None:
        try:
            return expiry_of(self._calendar, symbol, self._clock.now())
        except AftmError:
            return None

    def warn_if_near(self, condition: Condition) -> None:
        expiry = self.expiry(condition.symbol)
        if expiry is not None and expiry.has_expired:
            logger.warning(
                "condition on an expired contract id={} symbol={} last_trading_day={} roll_to={}:"
                " it trades only where the broker still lists it (a simulated exchange)",
                condition.id,
                condition.symbol,
                expiry.last_trading_day.isoformat(),
                expiry.next_symbol,
            )
        elif expiry is not None and expiry.is_near(self._within_days):
            logger.warning(
                "condition on an expiring contract id={} symbol={} last_trading_day={}"
                " days_left={} roll_to={}",
                condition.id,
                condition.symbol,
                expiry.last_trading_day.isoformat(),
                expiry.days_left,
                expiry.next_symbol,
            )

    def count_near(self, conditions: Iterable[Condition]) -> int:
        """Waiting conditions whose contract expires within the warning window."""
        waiting = [c for c in conditions if c.stage is Stage.WAITING]
        near: dict[str, bool] = {}  # by symbol: one look-up each, however many conditions
        for condition in waiting:
            if condition.symbol not in near:
                expiry = self.expiry(condition.symbol)
                near[condition.symbol] = expiry is not None and expiry.is_near(self._within_days)
        return sum(1 for c in waiting if near[c.symbol])
