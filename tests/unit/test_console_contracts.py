"""A contract's facts for the console: last trading day and session, or None, never a guess."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aftm.domain.limits import MAX_CONDITION_ID_LENGTH, check_condition_id
from aftm.errors import InvalidInput
from aftm.market.calendar import packaged_calendar
from aftm_console.contracts import (
    ContractFacts,
    check_roll,
    contract_facts,
    describe_market,
    expiry_warning,
    market_outlook,
    outlook_json,
    rolled_id,
)

# 2026-12-02 (a Wednesday) 10:00 in Taipei: the regular session.
MORNING = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_a_listed_product_has_its_last_trading_day_and_session() -> None:
    facts = contract_facts(packaged_calendar(), "TXFL6", MORNING)

    assert facts == ContractFacts(date(2026, 12, 16), "regular")


def test_an_unknown_product_or_a_year_beyond_the_holiday_file_gives_none() -> None:
    assert contract_facts(packaged_calendar(), "ZZFL6", MORNING) == ContractFacts(None, None)
    assert contract_facts(packaged_calendar(), "TXFL9", MORNING).last_trading_day is None


# --- expiring contracts and rolls ---------------------------------------------------------------

TWO_DAYS_BEFORE = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)  # 10:00 Taipei, TXFL6 ends 12-16


def test_an_expiring_contract_is_told_with_the_roll_that_moves_its_conditions() -> None:
    warning = expiry_warning(packaged_calendar(), "TXFL6", TWO_DAYS_BEFORE)

    assert warning == (
        "TXFL6 expires on 2026-12-16 (in 2 days): roll it with "
        "aftm conditions roll --from TXFL6 --to TXFA7"
    )


@pytest.mark.parametrize(
    ("symbol", "at", "within_days"),
    [
        ("TXFL6", MORNING, 3),  # 14 days away
        ("TXFA7", TWO_DAYS_BEFORE, 3),
        ("TXFL6", TWO_DAYS_BEFORE, 0),  # turned off
        ("TXFL6", datetime(2026, 12, 17, 2, 0, tzinfo=UTC), 3),  # expired: the strategy refuses
        ("ZZFL6", TWO_DAYS_BEFORE, 3),  # a product the rules do not know
    ],
)
def test_no_warning_when_far_off_turned_off_expired_or_unknown(
    symbol: str, at: datetime, within_days: int
) -> None:
    assert expiry_warning(packaged_calendar(), symbol, at, within_days) == ""


@pytest.mark.parametrize(
    ("symbol_from", "symbol_to", "message"),
    [
        ("TXFL6", "MXFA7", "is not a TXF contract"),
        ("TXFA7", "TXFL6", "does not expire after TXFA7"),
        ("TXFL6", "TXFL6", "does not expire after TXFL6"),
        ("TXFL6", "TXF7", "field 'to'"),
        ("TXFL6", "ZZFA7", "field 'to'"),
    ],
)
def test_a_roll_goes_to_a_later_month_of_the_same_product(
    symbol_from: str, symbol_to: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_roll(symbol_from, symbol_to, MORNING.date())
    check_roll("TXFL6", "TXFA7", MORNING.date())
    check_roll("MXFL6", "MXFC7", MORNING.date())


def test_a_rolled_id_is_the_same_every_time_and_fits_the_id_limit() -> None:
    assert rolled_id("c1", "TXFA7") == "c1.rTXFA7"
    longest = "x" * MAX_CONDITION_ID_LENGTH
    rolled = rolled_id(longest, "TXFA7")

    assert rolled == rolled_id(longest, "TXFA7")
    assert len(rolled) == MAX_CONDITION_ID_LENGTH
    assert rolled.endswith(".rTXFA7")
    assert rolled != rolled_id("x" * (MAX_CONDITION_ID_LENGTH - 1) + "y", "TXFA7")
    check_condition_id(rolled)


# --- the market now, for aftm status -------------------------------------------------------------


@pytest.mark.parametrize(
    ("taipei", "line"),
    [
        ("2026-12-02T10:00", "regular session until 13:45 (Taiwan); next open 15:00 (after-hours)"),
        ("2026-12-02T08:40", "pre-open (orders accepted); regular session opens 08:45 (Taiwan)"),
        ("2026-12-02T14:00", "closed (between sessions); next open 15:00 (Taiwan, after-hours)"),
        (
            "2026-12-02T16:00",
            "after-hours session until 05:00 (Taiwan); next open 2026-12-03 08:45 (regular)",
        ),
        (
            "2026-12-05T10:00",
            "closed (weekend); next open 2026-12-07 08:45 (Taiwan, regular)",
        ),
        (
            "2027-01-01T10:00",
            "closed (holiday: Founding of the Republic of China (New Year's Day)); "
            "next open 2027-01-04 08:45 (Taiwan, regular)",
        ),
    ],
)
def test_the_market_now_and_what_comes_next(taipei: str, line: str) -> None:
    now = datetime.fromisoformat(taipei + "+08:00")

    outlook = market_outlook(packaged_calendar(), now)

    assert describe_market(outlook, now) == f"TXF, MXF, TMF: {line}"


def test_the_outlook_in_json_has_the_phase_and_iso_times() -> None:
    outlook = market_outlook(packaged_calendar(), MORNING)

    assert outlook_json(outlook) == {
        "products": ["TXF", "MXF", "TMF"],
        "phase": "regular",
        "reason": None,
        "closes": "2026-12-02T13:45:00+08:00",
        "next_open": "2026-12-02T15:00:00+08:00",
        "next_open_session": "after_hours",
    }
