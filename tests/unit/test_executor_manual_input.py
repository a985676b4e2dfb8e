"""A manual order's values are checked at the executor's boundary, whatever the console did."""

from __future__ import annotations

import pytest

from aftm.domain.types import Side
from aftm.wire.protocol import ManualOrder
from aftm_executor.control import _manual_problem


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (ManualOrder("", "TXFL6", Side.BUY, 1), "order_id must be"),
        (ManualOrder("x" * 41, "TXFL6", Side.BUY, 1), "order_id must be"),
        (ManualOrder("a b;", "TXFL6", Side.BUY, 1), "order_id may hold"),
        (ManualOrder("m-1", " ", Side.BUY, 1), "symbol is empty"),
        (ManualOrder("m-1", "TXFL6", Side.SELL, 0), "quantity must be at least 1"),
    ],
)
def test_a_bad_manual_order_is_refused_naming_the_field(order: ManualOrder, problem: str) -> None:
    assert _manual_problem(order).startswith(problem)


def test_a_good_manual_order_has_no_problem() -> None:
    assert _manual_problem(ManualOrder("M0123-ab_c", "TXFL6", Side.BUY, 3)) == ""
