"""A manual order's values are checked at the executor's boundary, whatever the console did."""

from __future__ import annotations

import pytest

from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm.wire.protocol import ManualOrder
from aftm_executor.control import check_manual


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (ManualOrder("", "TXFL6", Side.BUY, 1), "order_id"),
        (ManualOrder("x" * 41, "TXFL6", Side.BUY, 1), "order_id"),
        (ManualOrder("a b;", "TXFL6", Side.BUY, 1), "order_id"),
        (ManualOrder("m-1", " ", Side.BUY, 1), "symbol"),
        (ManualOrder("m-1", "TXF", Side.BUY, 1), "symbol"),
        (ManualOrder("m-1", "TXFL6", Side.SELL, 0), "quantity"),
        (ManualOrder("m-1", "TXFL6", Side.SELL, 11), "quantity"),  # TAIFEX: 10 lots at market
        (ManualOrder("m-1", "TXFL6", Side.SELL, 2**63), "quantity"),
        (ManualOrder("m-1", "TXFL6", Side.SELL, 1, "ACC 1"), "account"),
    ],
)
def test_a_bad_manual_order_is_refused_naming_the_field(order: ManualOrder, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_manual(order)
    assert refused.value.field == field


@pytest.mark.parametrize("order_id", ["M0123-ab_c", "x" * 40, "M0123456789abcde"])
def test_a_good_manual_order_passes(order_id: str) -> None:
    check_manual(ManualOrder(order_id, "TXFL6", Side.BUY, 10, "SIM-0001"))
