"""The TAIFEX holiday calendar: the shipped file, a user's file, and trading-day arithmetic."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from aftm.errors import InvalidInput
from aftm.market.calendar import (
    CALENDAR_ENV,
    Calendar,
    CalendarNotCovering,
    is_trading_day,
    load_calendar,
    next_trading_day,
    packaged_calendar,
    parse_calendar,
    previous_trading_day,
)

CALENDAR = packaged_calendar()

ONE_HOLIDAY = """
[calendar]
first_year = 2030
last_year = 2030

[[holiday]]
date = 2030-01-01
name = "New Year"
source = "test"
status = "published"
"""


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2026, 1, 1), False),  # New Year's Day, a Thursday
        (date(2026, 1, 2), True),  # Friday after it
        (date(2026, 1, 3), False),  # Saturday
        (date(2026, 1, 4), False),  # Sunday
        (date(2026, 2, 11), True),  # last trading day before the Lunar New Year
        (date(2026, 2, 12), False),  # no trading, settlement only
        (date(2026, 2, 20), False),  # compensatory day
        (date(2026, 2, 23), True),  # first trading day after it
        (date(2026, 9, 28), False),  # Teachers' Day, a holiday since the 2025 amendment
        (date(2026, 10, 26), False),  # Retrocession Day observed
        (date(2026, 12, 25), False),  # Constitution Day
        (date(2026, 12, 31), True),  # year end: a Thursday, trading
        (date(2027, 1, 1), False),
        (date(2027, 9, 15), False),  # Mid-Autumn (provisional)
        (date(2027, 12, 31), False),  # 2028 New Year observed (provisional)
    ],
)
def test_trading_days_follow_the_shipped_holiday_file(day: date, trading: bool) -> None:
    assert is_trading_day(CALENDAR, day) is trading


@pytest.mark.parametrize(
    ("day", "following"),
    [
        (date(2026, 12, 31), date(2027, 1, 4)),  # over New Year's Day and a weekend
        (date(2026, 2, 11), date(2026, 2, 23)),  # over the Lunar New Year
        (date(2026, 12, 4), date(2026, 12, 7)),  # Friday to Monday
        (date(2026, 12, 1), date(2026, 12, 2)),
    ],
)
def test_next_trading_day_skips_holidays_and_weekends(day: date, following: date) -> None:
    assert next_trading_day(CALENDAR, day) == following
    assert previous_trading_day(CALENDAR, following) == day


def test_every_shipped_holiday_is_a_weekday_with_a_name_a_source_and_a_status() -> None:
    assert (CALENDAR.first_year, CALENDAR.last_year) == (2026, 2027)
    for day, holiday in CALENDAR.holidays.items():
        assert day == holiday.day
        assert day.weekday() < 5, f"{day} is a weekend: listing it changes nothing"
        assert holiday.name
        assert holiday.source
    statuses = {holiday.day.year: holiday.status for holiday in CALENDAR.holidays.values()}
    assert statuses == {2026: "published", 2027: "provisional"}


@pytest.mark.parametrize("day", [date(2025, 12, 31), date(2028, 1, 3)])
def test_a_date_outside_the_file_is_refused_not_guessed(day: date) -> None:
    with pytest.raises(CalendarNotCovering, match=CALENDAR_ENV):
        is_trading_day(CALENDAR, day)


def test_the_environment_variable_names_a_users_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(ONE_HOLIDAY, encoding="utf-8")

    calendar = load_calendar({CALENDAR_ENV: str(path)})

    assert not is_trading_day(calendar, date(2030, 1, 1))
    assert is_trading_day(calendar, date(2030, 1, 2))


def test_without_the_variable_the_packaged_file_is_used() -> None:
    assert load_calendar({}) == CALENDAR
    assert load_calendar({CALENDAR_ENV: ""}) == CALENDAR


def test_an_unreadable_users_file_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_calendar({CALENDAR_ENV: str(tmp_path / "missing.toml")})
    assert refused.value.field == CALENDAR_ENV


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("not = [toml", "not TOML"),
        ("[[holiday]]\n", "first_year"),
        ("[calendar]\nfirst_year = 2031\nlast_year = 2030\n", "in order"),
        (ONE_HOLIDAY.replace("date = 2030-01-01", 'date = "2030-01-01"'), "unquoted"),
        (ONE_HOLIDAY.replace("date = 2030-01-01", "date = 2031-01-01"), "outside"),
        (ONE_HOLIDAY.replace('status = "published"', 'status = "rumour"'), "status"),
        (ONE_HOLIDAY.replace('name = "New Year"', 'name = ""'), "name and a source"),
        (ONE_HOLIDAY + ONE_HOLIDAY.split("\n\n", 1)[1], "listed twice"),
    ],
)
def test_a_malformed_file_is_refused_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        parse_calendar(text, "test.toml")


def test_a_calendar_is_a_plain_value() -> None:
    assert parse_calendar(ONE_HOLIDAY, "a") == parse_calendar(ONE_HOLIDAY, "b")
    assert isinstance(parse_calendar(ONE_HOLIDAY, "a"), Calendar)


def test_the_holiday_file_is_declared_package_data_so_wheels_carry_it() -> None:
    pyproject = Path(__file__).parents[2] / "shared" / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "market/*.toml" in package_data["package-data"]["aftm"]
