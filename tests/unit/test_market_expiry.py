"""A contract's distance to its last trading day, at the boundaries the strategy and console
act on: within N days, the last day before and after its 13:30 close, a year end."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from aftm.market.calendar import packaged_calendar
from aftm.market.expiry import expiry_of
from aftm.market.sessions import TAIPEI


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("symbol", "at", "days_left", "expired", "near_3"),
    [
        ("TXFL6", "2026-12-02 10:00", 14, False, False),
        ("TXFL6", "2026-12-13 10:00", 3, False, True),
        ("TXFL6", "2026-12-14 10:00", 2, False, True),
        ("TXFL6", "2026-12-16 13:29:59", 0, False, True),
        ("TXFL6", "2026-12-16 13:30", 0, True, False),
        ("TXFL6", "2026-12-17 09:00", -1, True, False),
        ("MXFA7", "2026-12-31 23:00", 20, False, False),
    ],
)
def test_days_left_expired_and_near(
    symbol: str, at: str, days_left: int, expired: bool, near_3: bool
) -> None:
    expiry = expiry_of(packaged_calendar(), symbol, taipei(at))

    assert (expiry.days_left, expiry.has_expired, expiry.is_near(3)) == (
        days_left,
        expired,
        near_3,
    )
    assert not expiry.is_near(0)


def test_the_last_trading_day_and_the_month_to_roll_to() -> None:
    expiry = expiry_of(packaged_calendar(), "TXFL6", taipei("2026-12-14 10:00"))

    assert (expiry.last_trading_day, expiry.next_symbol) == (date(2026, 12, 16), "TXFA7")
