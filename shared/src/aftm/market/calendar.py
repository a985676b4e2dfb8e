"""TAIFEX trading days: weekdays that are not market holidays, read from a data file.

The holidays ship as `taifex_holidays.toml` in this package; AFTM_MARKET_CALENDAR names another
file in the same format, so a user can add a year or a typhoon closure without a code change.
A date outside the file's years is refused (CalendarNotCovering) rather than guessed: a guessed
trading day would send orders into a closed market.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from aftm.errors import AftmError, InvalidInput

CALENDAR_ENV = "AFTM_MARKET_CALENDAR"
_PACKAGED = "taifex_holidays.toml"
_STATUSES = ("published", "provisional")
_SATURDAY = 5


class CalendarNotCovering(AftmError):
    """A date lies outside the years the holiday file lists.

    Do not retry: install a newer holiday file (AFTM_MARKET_CALENDAR) covering the date.
    """


@dataclass(frozen=True, slots=True)
class Holiday:
    day: date
    name: str
    source: str
    status: str  # "published" by the exchange, or "provisional" (derived, to be confirmed)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Market holidays for the years first_year..last_year inclusive."""

    first_year: int
    last_year: int
    holidays: Mapping[date, Holiday]

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year


def is_trading_day(calendar: Calendar, day: date) -> bool:
    """True on a weekday that is not a market holiday; CalendarNotCovering outside the file."""
    if not calendar.covers(day):
        raise CalendarNotCovering(
            f"{day.isoformat()} is outside the market calendar "
            f"({calendar.first_year}-{calendar.last_year}); set {CALENDAR_ENV} to a newer file"
        )
    return day.weekday() < _SATURDAY and day not in calendar.holidays


def next_trading_day(calendar: Calendar, day: date) -> date:
    """The first trading day strictly after `day`."""
    candidate = day + timedelta(days=1)
    while not is_trading_day(calendar, candidate):
        candidate += timedelta(days=1)
    return candidate


def trading_day_on_or_after(calendar: Calendar, day: date) -> date:
    return day if is_trading_day(calendar, day) else next_trading_day(calendar, day)


def previous_trading_day(calendar: Calendar, day: date) -> date:
    """The last trading day strictly before `day`."""
    candidate = day - timedelta(days=1)
    while not is_trading_day(calendar, candidate):
        candidate -= timedelta(days=1)
    return candidate


def parse_calendar(text: str, origin: str) -> Calendar:
    """A Calendar from TOML text; InvalidInput naming `origin` for anything malformed."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(origin, f"is not TOML: {error}") from None
    header = document.get("calendar")
    if not isinstance(header, dict):
        raise InvalidInput(origin, "has no [calendar] table with first_year and last_year")
    first, last = header.get("first_year"), header.get("last_year")
    if not isinstance(first, int) or not isinstance(last, int) or not 1990 <= first <= last:
        raise InvalidInput(origin, "[calendar] first_year and last_year must be years, in order")
    entries = document.get("holiday", [])
    if not isinstance(entries, list):
        raise InvalidInput(origin, "holiday must be an array of tables: [[holiday]]")
    holidays: dict[date, Holiday] = {}
    for index, entry in enumerate(entries):
        holiday = _holiday(entry, f"{origin} holiday #{index + 1}")
        if not first <= holiday.day.year <= last:
            raise InvalidInput(origin, f"{holiday.day} lies outside {first}-{last}")
        if holiday.day in holidays:
            raise InvalidInput(origin, f"{holiday.day} is listed twice")
        holidays[holiday.day] = holiday
    return Calendar(first, last, holidays)


def _holiday(entry: object, where: str) -> Holiday:
    if not isinstance(entry, dict):
        raise InvalidInput(where, "is not a table")
    day, name, source = entry.get("date"), entry.get("name"), entry.get("source")
    status = entry.get("status")
    # tomllib reads a bare 2026-01-01 as a date; a quoted one stays a string and is refused.
    if type(day) is not date:
        raise InvalidInput(where, "date must be a TOML date such as 2026-01-01, unquoted")
    if not isinstance(name, str) or not name or not isinstance(source, str) or not source:
        raise InvalidInput(where, f"{day} needs a name and a source")
    if status not in _STATUSES:
        raise InvalidInput(where, f"{day} status must be one of {', '.join(_STATUSES)}")
    return Holiday(day, name, source, str(status))


def packaged_calendar() -> Calendar:
    """The holiday file shipped inside the aftm.market package."""
    text = resources.files("aftm.market").joinpath(_PACKAGED).read_text(encoding="utf-8")
    return parse_calendar(text, _PACKAGED)


def load_calendar(environ: Mapping[str, str] | None = None) -> Calendar:
    """The file AFTM_MARKET_CALENDAR names, else the packaged one; InvalidInput if unreadable."""
    path = (os.environ if environ is None else environ).get(CALENDAR_ENV, "")
    if not path:
        return packaged_calendar()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(CALENDAR_ENV, f"cannot read {path!r:.200}: {error}") from None
    return parse_calendar(text, CALENDAR_ENV)
