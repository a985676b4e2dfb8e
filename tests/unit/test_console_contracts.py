"""A contract's facts for the console: last trading day and session, or None, never a guess."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aftm.market.calendar import packaged_calendar
from aftm_console.contracts import ContractFacts, contract_facts

# 2026-12-02 (a Wednesday) 10:00 in Taipei: the regular session.
MORNING = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_a_listed_product_has_its_last_trading_day_and_session() -> None:
    facts = contract_facts(packaged_calendar(), "TXFL6", MORNING)

    assert facts == ContractFacts(date(2026, 12, 16), "regular")


def test_an_unknown_product_or_a_year_beyond_the_holiday_file_gives_none() -> None:
    assert contract_facts(packaged_calendar(), "ZZFL6", MORNING) == ContractFacts(None, None)
    assert contract_facts(packaged_calendar(), "TXFL9", MORNING).last_trading_day is None
