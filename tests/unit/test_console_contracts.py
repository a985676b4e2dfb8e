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
    expiry_warning,
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
