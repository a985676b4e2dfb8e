"""TAIFEX sessions: the phase at every edge, the last trading day, holidays, weekends, year end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aftm.errors import InvalidInput
from aftm.market.calendar import packaged_calendar
from aftm.market.sessions import (
    TAIPEI,
    Phase,
    contract_state_at,
    is_closing_within,
    next_close,
    next_open,
    state_at,
)

CALENDAR = packaged_calendar()
# Tuesday 2026-12-01 is an ordinary trading day; Wednesday 2026-12-16 is TXFL6's last one.
EXPIRY = date(2026, 12, 16)


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("at", "phase", "may_amend"),
    [
        ("2026-12-01T08:34:59", Phase.CLOSED, False),
        ("2026-12-01T08:35:00", Phase.PRE_OPEN, True),  # orders accepted 10 minutes early
        ("2026-12-01T08:42:59", Phase.PRE_OPEN, True),
        ("2026-12-01T08:43:00", Phase.PRE_OPEN, False),  # last two minutes: add only
        ("2026-12-01T08:44:59", Phase.PRE_OPEN, False),
        ("2026-12-01T08:45:00", Phase.REGULAR, True),
        ("2026-12-01T13:44:59", Phase.REGULAR, True),
        ("2026-12-01T13:45:00", Phase.CLOSED, False),
        ("2026-12-01T14:49:59", Phase.CLOSED, False),
        ("2026-12-01T14:50:00", Phase.PRE_OPEN, True),
        ("2026-12-01T14:58:00", Phase.PRE_OPEN, False),
        ("2026-12-01T15:00:00", Phase.AFTER_HOURS, True),
        ("2026-12-01T23:59:59", Phase.AFTER_HOURS, True),
        ("2026-12-02T00:00:00", Phase.AFTER_HOURS, True),  # midnight inside the session
        ("2026-12-02T04:59:59", Phase.AFTER_HOURS, True),
        ("2026-12-02T05:00:00", Phase.CLOSED, False),
        ("2026-12-02T08:35:00", Phase.PRE_OPEN, True),
    ],
)
def test_phase_at_each_edge_of_an_ordinary_day(at: str, phase: Phase, may_amend: bool) -> None:
    state = state_at(CALENDAR, taipei(at))
    assert (state.phase, state.may_amend) == (phase, may_amend)
    assert state.accepts_orders is (phase is not Phase.CLOSED)


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        ("2026-12-04T23:00:00", Phase.AFTER_HOURS),  # Friday night
        ("2026-12-05T04:59:59", Phase.AFTER_HOURS),  # runs into Saturday morning
        ("2026-12-05T05:00:00", Phase.CLOSED),
        ("2026-12-05T15:00:00", Phase.CLOSED),  # no session on a Saturday evening
        ("2026-12-06T23:00:00", Phase.CLOSED),  # nor on Sunday's
        ("2026-12-07T08:35:00", Phase.PRE_OPEN),  # Monday
        ("2026-12-24T23:00:00", Phase.AFTER_HOURS),  # eve of a holiday: trading day evening
        ("2026-12-25T04:59:59", Phase.AFTER_HOURS),
        ("2026-12-25T08:45:00", Phase.CLOSED),  # Constitution Day: no regular session
        ("2026-12-25T15:00:00", Phase.CLOSED),  # and no after-hours session
        ("2026-12-25T23:00:00", Phase.CLOSED),
        ("2026-12-31T15:00:00", Phase.AFTER_HOURS),  # year end: Thursday evening
        ("2027-01-01T04:59:59", Phase.AFTER_HOURS),
        ("2027-01-01T08:45:00", Phase.CLOSED),  # New Year's Day
        ("2027-01-02T10:00:00", Phase.CLOSED),  # Saturday
        ("2027-01-04T08:45:00", Phase.REGULAR),
        ("2026-02-11T23:00:00", Phase.AFTER_HOURS),  # before the Lunar New Year break
        ("2026-02-12T10:00:00", Phase.CLOSED),  # settlement-only day
        ("2026-02-16T23:00:00", Phase.CLOSED),
    ],
)
def test_holidays_weekends_and_year_end(at: str, phase: Phase) -> None:
    assert state_at(CALENDAR, taipei(at)).phase is phase


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        ("2026-12-15T23:00:00", Phase.AFTER_HOURS),  # the night before still trades it
        ("2026-12-16T08:45:00", Phase.REGULAR),
        ("2026-12-16T13:29:59", Phase.REGULAR),
        ("2026-12-16T13:30:00", Phase.CLOSED),  # expiring contract closes at 13:30
        ("2026-12-16T13:40:00", Phase.CLOSED),
        ("2026-12-16T14:55:00", Phase.CLOSED),  # no after-hours pre-open either
        ("2026-12-16T15:00:00", Phase.CLOSED),
        ("2026-12-17T08:45:00", Phase.CLOSED),  # expired
    ],
)
def test_the_last_trading_day_ends_at_1330_with_no_evening(at: str, phase: Phase) -> None:
    assert state_at(CALENDAR, taipei(at), EXPIRY).phase is phase


def test_other_contracts_keep_their_hours_on_anothers_last_trading_day() -> None:
    assert state_at(CALENDAR, taipei("2026-12-16T13:40:00")).phase is Phase.REGULAR
    assert state_at(CALENDAR, taipei("2026-12-16T15:00:00")).phase is Phase.AFTER_HOURS


@pytest.mark.parametrize(
    ("at", "opens", "closes"),
    [
        ("2026-12-01T08:00:00", "2026-12-01T08:45:00", "2026-12-01T13:45:00"),
        ("2026-12-01T10:00:00", "2026-12-01T15:00:00", "2026-12-01T13:45:00"),
        ("2026-12-01T13:45:00", "2026-12-01T15:00:00", "2026-12-02T05:00:00"),
        ("2026-12-01T15:00:00", "2026-12-02T08:45:00", "2026-12-02T05:00:00"),
        ("2026-12-02T00:00:00", "2026-12-02T08:45:00", "2026-12-02T05:00:00"),
        ("2026-12-05T05:00:00", "2026-12-07T08:45:00", "2026-12-07T13:45:00"),
        ("2026-12-25T12:00:00", "2026-12-28T08:45:00", "2026-12-28T13:45:00"),
        ("2027-01-01T05:00:00", "2027-01-04T08:45:00", "2027-01-04T13:45:00"),
        ("2026-02-12T05:00:00", "2026-02-23T08:45:00", "2026-02-23T13:45:00"),
    ],
)
def test_next_open_and_next_close(at: str, opens: str, closes: str) -> None:
    assert next_open(CALENDAR, taipei(at)) == taipei(opens)
    assert next_close(CALENDAR, taipei(at)) == taipei(closes)


def test_next_open_and_close_of_an_expiring_contract() -> None:
    assert next_close(CALENDAR, taipei("2026-12-16T09:00:00"), EXPIRY) == taipei(
        "2026-12-16T13:30:00"
    )
    with pytest.raises(InvalidInput, match="expired"):
        next_open(CALENDAR, taipei("2026-12-16T09:00:00"), EXPIRY)
    with pytest.raises(InvalidInput, match="expired"):
        next_close(CALENDAR, taipei("2026-12-16T13:30:00"), EXPIRY)


@pytest.mark.parametrize(
    ("at", "closing"),
    [
        ("2026-12-01T13:42:59", False),
        ("2026-12-01T13:43:00", True),  # the last two minutes
        ("2026-12-01T13:44:00", True),
        ("2026-12-01T13:44:59", True),
        ("2026-12-01T13:45:00", False),  # closed, not closing
        ("2026-12-01T08:44:00", False),  # pre-open
        ("2026-12-02T04:58:00", True),  # after-hours close
    ],
)
def test_closing_within_two_minutes(at: str, closing: bool) -> None:
    assert is_closing_within(CALENDAR, taipei(at), timedelta(minutes=2)) is closing


def test_closing_within_on_the_last_trading_day_counts_to_1330() -> None:
    window = timedelta(minutes=5)
    assert is_closing_within(CALENDAR, taipei("2026-12-16T13:25:00"), window, EXPIRY)
    assert not is_closing_within(CALENDAR, taipei("2026-12-16T13:25:00"), window)


def test_any_timezone_is_read_as_the_same_instant() -> None:
    utc = datetime(2026, 12, 1, 0, 45, tzinfo=UTC)  # 08:45 in Taipei
    assert state_at(CALENDAR, utc).phase is Phase.REGULAR
    assert next_close(CALENDAR, utc).utcoffset() == timedelta(hours=8)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        state_at(CALENDAR, datetime(2026, 12, 1, 9, 0))


@pytest.mark.parametrize(
    ("symbol", "at", "phase"),
    [
        ("TXFL6", "2026-12-16T13:40:00", Phase.CLOSED),  # its last trading day
        ("MXFL6", "2026-12-16T13:40:00", Phase.CLOSED),
        ("TMFA7", "2026-12-16T13:40:00", Phase.REGULAR),  # January trades on
        ("TXFL6", "2026-12-15T13:40:00", Phase.REGULAR),
        ("TXFL6", "2026-12-17T09:00:00", Phase.CLOSED),  # expired
    ],
)
def test_a_symbols_phase_follows_its_own_last_trading_day(
    symbol: str, at: str, phase: Phase
) -> None:
    assert contract_state_at(CALENDAR, symbol, taipei(at)).phase is phase
