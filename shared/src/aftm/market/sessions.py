"""Which TAIFEX session an instant falls in, and when the next one opens or closes.

TX, MTX and TMF keep the same hours (TAIFEX TX trading rules art. 8, and the contract
specification amended 2018-03-31, https://www.selaw.com.tw/SFIWebSeLaw/English/LawArticle/Index/306205):
- regular session 08:45-13:45 Taipei time on TWSE trading days; on a contract's last trading
  day that contract closes 13:30 and has no after-hours session;
- after-hours session 15:00 on a trading day to 05:00 the next morning. It opens on the evening
  of every trading day, whatever follows: Friday's runs to Saturday 05:00, and the one on the
  eve of a holiday runs too (before the 2021 Lunar New Year break the night session of Friday
  2-05 ran to 2-06 05:00, FSC via https://lotmg.com/a/tai-bei-gu-shi-tai-gu-shu-nian-5ri-feng-guan-17ri-niu-nian-kai-shi.html).
  A holiday or weekend evening has none. Its trades belong to the next trading day's business
  (https://gist.github.com/NEJmark/009feb8fe776d0d2c0d78890d58eabdc), which does not move its
  hours;
- orders are accepted from 10 minutes before each session opens and may not be changed or
  cancelled in the last two minutes before the open, only added
  (https://www.taifex.com.tw/enl/eng4/aHIntroduction).
Instants must be timezone-aware; results are in Asia/Taipei (UTC+8, no daylight saving).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from aftm.errors import InvalidInput
from aftm.market.calendar import Calendar, is_trading_day
from aftm.market.contracts import contract_of, last_trading_day

TAIPEI = ZoneInfo("Asia/Taipei")
REGULAR_OPEN = time(8, 45)
REGULAR_CLOSE = time(13, 45)
LAST_DAY_CLOSE = time(13, 30)
AFTER_HOURS_OPEN = time(15, 0)
AFTER_HOURS_CLOSE = time(5, 0)  # the next morning
ORDERS_BEFORE_OPEN = timedelta(minutes=10)
NO_AMEND_BEFORE_OPEN = timedelta(minutes=2)


class Phase(StrEnum):
    PRE_OPEN = "pre_open"  # orders accepted, nothing trades yet
    REGULAR = "regular"
    AFTER_HOURS = "after_hours"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session; `day` is the date it opens on (an after-hours one ends the next)."""

    phase: Phase  # REGULAR or AFTER_HOURS
    day: date
    opens: datetime
    closes: datetime

    @property
    def orders_from(self) -> datetime:
        return self.opens - ORDERS_BEFORE_OPEN


@dataclass(frozen=True, slots=True)
class MarketState:
    """The phase at an instant; `session` is the one in progress or, in pre-open, about to open.

    `may_amend` is False while orders may not be changed or cancelled (new ones still accepted),
    and False when closed.
    """

    phase: Phase
    session: Session | None
    may_amend: bool

    @property
    def accepts_orders(self) -> bool:
        return self.phase is not Phase.CLOSED


def sessions_on(
    calendar: Calendar, day: date, last_trading_day: date | None = None
) -> list[Session]:
    """The sessions opening on `day`, for a contract whose last trading day is given (or none)."""
    if last_trading_day is not None and day > last_trading_day:
        return []
    if not is_trading_day(calendar, day):
        return []
    expiring = day == last_trading_day
    regular = Session(
        Phase.REGULAR,
        day,
        _at(day, REGULAR_OPEN),
        _at(day, LAST_DAY_CLOSE if expiring else REGULAR_CLOSE),
    )
    if expiring:
        return [regular]
    after_hours = Session(
        Phase.AFTER_HOURS,
        day,
        _at(day, AFTER_HOURS_OPEN),
        _at(day + timedelta(days=1), AFTER_HOURS_CLOSE),
    )
    return [regular, after_hours]


def state_at(calendar: Calendar, at: datetime, last_trading_day: date | None = None) -> MarketState:
    """The market phase at `at` for a contract (pass its last trading day) or a product.

    Needs the calendar to cover the day before `at` too (its evening session may still run):
    CalendarNotCovering otherwise.
    """
    local = _taipei(at)
    session = _first_not_over(calendar, local, last_trading_day)
    if session is None or local < session.orders_from:
        return MarketState(Phase.CLOSED, None, may_amend=False)
    if local < session.opens:
        return MarketState(
            Phase.PRE_OPEN, session, may_amend=local < session.opens - NO_AMEND_BEFORE_OPEN
        )
    return MarketState(session.phase, session, may_amend=True)


def contract_state_at(calendar: Calendar, symbol: str, at: datetime) -> MarketState:
    """The phase at `at` for the contract a symbol names (TXFL6), its decade read from `at`."""
    local = _taipei(at)
    contract = contract_of(symbol, local.date())
    return state_at(calendar, local, last_trading_day(calendar, contract.delivery))


def next_open(calendar: Calendar, at: datetime, last_trading_day: date | None = None) -> datetime:
    """When the first session opening strictly after `at` opens.

    CalendarNotCovering when that lies beyond the holiday file; InvalidInput when the contract
    has expired and never opens again.
    """
    local = _taipei(at)
    for session in _sessions_from(calendar, local.date(), last_trading_day):
        if session.opens > local:
            return session.opens
    raise InvalidInput("last_trading_day", f"the contract expired on {last_trading_day}")


def next_close(calendar: Calendar, at: datetime, last_trading_day: date | None = None) -> datetime:
    """When the session in progress at `at` closes, else when the next one does."""
    session = _first_not_over(calendar, _taipei(at), last_trading_day)
    if session is None:
        raise InvalidInput("last_trading_day", f"the contract expired on {last_trading_day}")
    return session.closes


def is_closing_within(
    calendar: Calendar, at: datetime, window: timedelta, last_trading_day: date | None = None
) -> bool:
    """True in the last `window` of a session: [close - window, close).

    For rules such as "no new entries in the last N minutes before a close".
    """
    state = state_at(calendar, at, last_trading_day)
    if state.session is None or state.phase is Phase.PRE_OPEN:
        return False
    return state.session.closes - _taipei(at) <= window


def _first_not_over(
    calendar: Calendar, local: datetime, last_trading_day: date | None
) -> Session | None:
    for session in _sessions_from(calendar, local.date(), last_trading_day):
        if local < session.closes:
            return session
    return None


def _sessions_from(
    calendar: Calendar, day: date, last_trading_day: date | None
) -> Iterator[Session]:
    """Sessions in time order from the one that opened the evening before `day`.

    Ends after the contract's last trading day; otherwise runs until the calendar ends
    (CalendarNotCovering), which bounds every search by the file's years.
    """
    current = day - timedelta(days=1)
    while last_trading_day is None or current <= last_trading_day:
        yield from sessions_on(calendar, current, last_trading_day)
        current += timedelta(days=1)


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=TAIPEI)


def _taipei(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("at", f"{at.isoformat()} has no timezone; give an aware datetime")
    return at.astimezone(TAIPEI)
