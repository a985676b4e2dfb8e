"""How far a contract is from its last trading day, and whether it has expired.

One rule for the strategy (which warns about and counts conditions on expiring contracts, and
refuses new ones on expired contracts) and the console (which says so when a condition is added
and `aftm conditions roll` is due). A contract has expired once its last trading day's regular
session has closed (13:30 Taipei, `sessions.LAST_DAY_CLOSE`): it never trades again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aftm.market.calendar import Calendar
from aftm.market.contracts import contract_of, last_trading_day, symbol_of
from aftm.market.sessions import LAST_DAY_CLOSE, TAIPEI


@dataclass(frozen=True, slots=True)
class Expiry:
    symbol: str
    last_trading_day: date
    days_left: int  # calendar days from today in Taipei to the last trading day
    has_expired: bool
    next_symbol: str  # the same product's following month, where its conditions may roll to

    def is_near(self, within_days: int) -> bool:
        """Still trading, its last day within `within_days` calendar days; 0 turns it off."""
        return within_days > 0 and not self.has_expired and self.days_left <= within_days


def expiry_of(calendar: Calendar, symbol: str, at: datetime) -> Expiry:
    """`at` must carry its time zone. InvalidInput for a symbol of no known product,
    CalendarNotCovering when the contract's month lies beyond the holiday file."""
    local = at.astimezone(TAIPEI)
    contract = contract_of(symbol, local.date())
    last = last_trading_day(calendar, contract.delivery)
    closed = datetime.combine(last, LAST_DAY_CLOSE, tzinfo=TAIPEI)
    return Expiry(
        symbol=symbol,
        last_trading_day=last,
        days_left=(last - local.date()).days,
        has_expired=local >= closed,
        next_symbol=symbol_of(contract.product.code, contract.delivery.following()),
    )
