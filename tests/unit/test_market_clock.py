"""The market clock: real, or a fake one that starts where a test says and runs at real speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aftm.errors import InvalidInput
from aftm.market.clock import MarketClock, market_clock

TAIPEI = timezone(timedelta(hours=8))


def test_a_fake_clock_starts_where_told_and_runs_at_real_speed() -> None:
    ticks = iter([100.0, 100.0, 130.5])
    assert market_clock({"AFTM_MARKET_CLOCK_START": "2026-12-02T13:44:30+08:00"}).is_fake
    clock = MarketClock(datetime(2026, 12, 2, 13, 44, 30, tzinfo=TAIPEI), lambda: next(ticks))

    assert clock.is_fake
    assert clock.now() == datetime(2026, 12, 2, 13, 44, 30, tzinfo=TAIPEI)
    assert clock.now() == datetime(2026, 12, 2, 13, 45, 0, 500_000, tzinfo=TAIPEI)


def test_without_the_setting_the_clock_is_real() -> None:
    clock = market_clock({})

    assert not clock.is_fake
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)


@pytest.mark.parametrize("text", ["2026-12-02T13:44:30", "13:44", "tomorrow"])
def test_a_start_without_an_offset_or_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="AFTM_MARKET_CLOCK_START"):
        market_clock({"AFTM_MARKET_CLOCK_START": text})
