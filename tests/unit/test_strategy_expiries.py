"""The strategy's expiry watch on a clock stopped at a chosen instant: which new conditions it
refuses, and how many waiting ones it counts as near expiry."""

from __future__ import annotations

from datetime import datetime

import pytest
from loguru import logger
from pydantic import ValidationError

from aftm.domain.conditions import Stage
from aftm.market.calendar import packaged_calendar
from aftm.market.clock import MarketClock
from aftm_strategy.expiries import ExpiryWatch
from aftm_strategy.settings import StrategySettings
from tests.builders import a_condition


def watch(at: str, within_days: int = 3) -> ExpiryWatch:
    clock = MarketClock(datetime.fromisoformat(at), monotonic=lambda: 0.0)
    return ExpiryWatch(packaged_calendar(), clock, within_days)


def test_only_waiting_conditions_on_contracts_within_the_window_are_counted() -> None:
    conditions = [
        a_condition(id="a", symbol="TXFL6"),
        a_condition(id="b", symbol="MXFL6"),
        a_condition(id="c", symbol="TXFL6", stage=Stage.ENTERED),
        a_condition(id="d", symbol="TXFA7"),
    ]

    assert watch("2026-12-14T10:00+08:00").count_near(conditions) == 2
    assert watch("2026-12-14T10:00+08:00", within_days=0).count_near(conditions) == 0
    assert watch("2026-12-02T10:00+08:00").count_near(conditions) == 0
    assert watch("2026-12-16T13:30+08:00").count_near(conditions) == 0  # expired, not near


@pytest.mark.parametrize(
    ("at", "symbol", "expired"),
    [
        ("2026-12-16T13:29+08:00", "TXFL6", False),  # its last minute of trading
        ("2026-12-16T13:30+08:00", "TXFL6", True),
        ("2026-12-17T10:00+08:00", "TXFA7", False),
        ("2026-12-17T10:00+08:00", "TXFL9", False),  # beyond the holiday file: no guess
    ],
)
def test_a_condition_on_an_expired_contract_is_accepted_with_a_warning(
    at: str, symbol: str, expired: bool
) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", level="WARNING")
    try:
        watch(at).warn_if_near(a_condition(symbol=symbol))
    finally:
        logger.remove(sink)

    said = [line for line in lines if "expired contract" in line]
    assert bool(said) is expired
    if expired:
        assert f"symbol={symbol} last_trading_day=2026-12-16 roll_to=TXFA7" in said[0]


@pytest.mark.parametrize("days", [-1, 367])
def test_the_warning_window_is_refused_out_of_range(days: int) -> None:
    with pytest.raises(ValidationError, match="expiry_warning_days"):
        StrategySettings(expiry_warning_days=days)
