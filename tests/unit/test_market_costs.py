"""Costs per side: commission per lot by product, futures transaction tax at 0.002 %."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.errors import InvalidInput
from aftm.market.costs import CostSchedule, SideCost, transaction_tax_twd


@pytest.mark.parametrize(
    ("price", "lots", "point_value", "tax"),
    [
        (8_500, 1, 200, 34),  # TX at 8,500: 1,700,000 x 0.00002
        (8_500, 1, 50, 9),  # MTX: 8.5, half up
        (23_000, 1, 200, 92),
        (23_000, 3, 10, 14),  # TMF: 13.8
        (23_001, 1, 50, 23),  # 23.001
        (12_500, 1, 10, 3),  # 2.5: half up, not to even
        (Decimal("23000.5"), 2, 200, 184),  # an average fill price
    ],
)
def test_the_transaction_tax_is_two_in_a_hundred_thousand_rounded_half_up(
    price: int | Decimal, lots: int, point_value: int, tax: int
) -> None:
    assert transaction_tax_twd(price, lots, point_value) == tax


def test_commission_is_per_lot_by_the_longest_product_and_zero_when_not_set() -> None:
    schedule = CostSchedule({"TX": 60, "TXF": 50, "MXF": 20})

    assert schedule.side("TXFL6", 23_000, 2, 200) == SideCost(commission_twd=100, tax_twd=184)
    assert schedule.side("MXFL6", 23_000, 1, 50).total_twd == 20 + 23
    assert schedule.side("TMFL6", 23_000, 1, 10) == SideCost(commission_twd=0, tax_twd=5)


@pytest.mark.parametrize("twd", [-1, 10_001, 2**63, True, 1.5])
def test_a_commission_out_of_range_is_refused(twd: object) -> None:
    with pytest.raises(InvalidInput, match="commission"):
        CostSchedule({"TXF": twd})  # type: ignore[dict-item]
