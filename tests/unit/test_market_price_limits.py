"""The daily price limit: ±10% of the reference price, truncated toward it to whole points."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftm.errors import InvalidInput
from aftm.market.price_limits import daily_price_limits


@pytest.mark.parametrize(
    ("reference", "lower", "upper"),
    [
        (20000, 18000, 22000),  # exact tenth
        (23456, 21111, 25801),  # 2345.6 truncated to 2345 on both sides
        (23459, 21114, 25804),  # 2345.9 truncated too, never rounded up
        (10, 9, 11),
        (9, 9, 9),  # a tenth below one point: no room to move
        (1, 1, 1),
    ],
)
def test_limits_are_truncated_toward_the_reference(reference: int, lower: int, upper: int) -> None:
    limits = daily_price_limits(reference)
    assert (limits.lower, limits.upper, limits.reference) == (lower, upper, reference)


@pytest.mark.parametrize(
    ("price", "admitted"),
    [(21110, False), (21111, True), (23456, True), (25801, True), (25802, False)],
)
def test_admits_both_limit_prices_and_nothing_beyond(price: int, admitted: bool) -> None:
    assert daily_price_limits(23456).admits(price) is admitted


@given(st.integers(min_value=1, max_value=10**12))
def test_limits_never_exceed_ten_percent_and_lose_less_than_a_point(reference: int) -> None:
    limits = daily_price_limits(reference)
    exact_upper = Decimal(reference) * Decimal("1.1")
    exact_lower = Decimal(reference) * Decimal("0.9")
    assert limits.upper == math.floor(exact_upper)
    assert limits.lower == math.ceil(exact_lower)


@pytest.mark.parametrize("reference", [0, -1, True, 1.5, "20000"])
def test_a_reference_that_is_not_a_positive_whole_price_is_refused(reference: object) -> None:
    with pytest.raises(InvalidInput, match="positive whole price"):
        daily_price_limits(reference)  # type: ignore[arg-type]
