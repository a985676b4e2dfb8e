"""TAIFEX contract months: symbols, the decade rule, last trading days and listed months."""

from __future__ import annotations

import calendar as weeks
from datetime import date, timedelta

import pytest

from aftm.errors import InvalidInput
from aftm.market.calendar import packaged_calendar
from aftm.market.contracts import (
    ContractMonth,
    contract_of,
    is_listed,
    last_trading_day,
    listed_months,
    spot_month,
    symbol_of,
    third_wednesday,
)

CALENDAR = packaged_calendar()
MONTHS = [ContractMonth(year, month) for year in (2026, 2027) for month in range(1, 13)]


def expected_last_trading_day(delivery: ContractMonth) -> date:
    """Worked out apart from the module: the month grid's third Wednesday, then past holidays."""
    grid = weeks.monthcalendar(delivery.year, delivery.month)
    day = date(delivery.year, delivery.month, [w[2] for w in grid if w[2] != 0][2])
    while day.weekday() >= 5 or day in CALENDAR.holidays:
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize("delivery", MONTHS, ids=lambda m: f"{m.year}-{m.month:02}")
def test_last_trading_day_is_the_third_wednesday_or_the_next_trading_day(
    delivery: ContractMonth,
) -> None:
    assert last_trading_day(CALENDAR, delivery) == expected_last_trading_day(delivery)


@pytest.mark.parametrize(
    ("delivery", "day"),
    [
        (ContractMonth(2026, 1), date(2026, 1, 21)),
        (ContractMonth(2026, 2), date(2026, 2, 23)),  # 2-18 is Lunar New Year: TAIFEX says 2-23
        (ContractMonth(2026, 12), date(2026, 12, 16)),
        (ContractMonth(2027, 9), date(2027, 9, 16)),  # 9-15 is Mid-Autumn (provisional)
    ],
)
def test_known_last_trading_days(delivery: ContractMonth, day: date) -> None:
    assert last_trading_day(CALENDAR, delivery) == day


def test_third_wednesday_is_always_a_wednesday_between_the_15th_and_21st() -> None:
    for delivery in MONTHS:
        day = third_wednesday(delivery)
        assert (day.weekday(), 15 <= day.day <= 21) == (2, True)


@pytest.mark.parametrize(
    ("symbol", "reference", "product", "delivery"),
    [
        ("TXFL6", date(2026, 12, 2), "TXF", ContractMonth(2026, 12)),
        ("MXFA7", date(2026, 12, 2), "MXF", ContractMonth(2027, 1)),
        ("TMFC7", date(2026, 12, 2), "TMF", ContractMonth(2027, 3)),
        ("TXFL5", date(2026, 1, 5), "TXF", ContractMonth(2025, 12)),  # reference year - 1
        ("TXFA4", date(2026, 1, 5), "TXF", ContractMonth(2034, 1)),  # 2024 is too far back
        ("TXFL6", date(2027, 6, 1), "TXF", ContractMonth(2026, 12)),
        ("TXFA5", date(2027, 6, 1), "TXF", ContractMonth(2035, 1)),
    ],
)
def test_a_symbol_names_its_product_and_delivery_month(
    symbol: str, reference: date, product: str, delivery: ContractMonth
) -> None:
    contract = contract_of(symbol, reference)
    assert (contract.product.code, contract.delivery) == (product, delivery)
    assert contract.symbol == symbol


@pytest.mark.parametrize("symbol", ["TXFM6", "TXF6", "XXXL6", "txfl6", "TXFL66"])
def test_a_malformed_symbol_is_refused(symbol: str) -> None:
    with pytest.raises(InvalidInput):
        contract_of(symbol, date(2026, 12, 2))


@pytest.mark.parametrize(
    ("day", "symbols"),
    [
        (date(2026, 1, 2), "A6 B6 C6 F6 I6 L6"),
        (date(2026, 2, 23), "B6 C6 D6 F6 I6 L6"),  # February's delayed last trading day
        (date(2026, 2, 24), "C6 D6 E6 F6 I6 L6"),
        (date(2026, 12, 16), "L6 A7 B7 C7 F7 I7"),  # last trading day: December still spot
        (date(2026, 12, 17), "A7 B7 C7 F7 I7 L7"),  # rolled
        (date(2026, 12, 31), "A7 B7 C7 F7 I7 L7"),  # year end
        (date(2027, 10, 21), "K7 L7 A8 C8 F8 I8"),  # after October's 10-20 expiry
    ],
)
def test_listed_months_are_spot_two_calendar_and_three_quarterly(day: date, symbols: str) -> None:
    listed = " ".join(symbol_of("TXF", m)[3:] for m in listed_months(CALENDAR, day))
    assert listed == symbols


def test_the_spot_month_rolls_the_day_after_its_last_trading_day() -> None:
    for delivery in MONTHS:
        expiry = last_trading_day(CALENDAR, delivery)
        assert spot_month(CALENDAR, expiry) == delivery
        if delivery != MONTHS[-1]:
            assert spot_month(CALENDAR, expiry + timedelta(days=1)) == delivery.following()


def test_is_listed() -> None:
    assert is_listed(CALENDAR, "TXFL6", date(2026, 12, 16))
    assert not is_listed(CALENDAR, "TXFL6", date(2026, 12, 17))
    assert not is_listed(CALENDAR, "TXFD7", date(2026, 12, 17))  # April 2027: not yet
