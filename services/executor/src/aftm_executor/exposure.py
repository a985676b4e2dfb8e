"""Exposure across symbols in TX-equivalent lots: a lot weighs its product's point value over
TX's (TX 1, MTX 0.25, TMF 0.05), so one account limit covers every product."""

from __future__ import annotations

from collections.abc import Mapping

from aftm.errors import InvalidInput
from aftm.market.products import PRODUCTS, product_of

_TX_POINT_VALUE = PRODUCTS["TXF"].point_value_twd


def weight(symbol: str) -> float:
    """TX-equivalent lots per lot of `symbol`; an unknown product weighs as TX (the safe side)."""
    try:
        return product_of(symbol).point_value_twd / _TX_POINT_VALUE
    except InvalidInput:
        return 1.0


def account_exposure_after(
    exposures: Mapping[str, int], symbol: str, signed_quantity: int
) -> float:
    """The account's TX-equivalent lots if an order for `signed_quantity` of `symbol` filled."""
    total = 0.0
    for held, quantity in exposures.items():
        if held != symbol:
            total += abs(quantity) * weight(held)
    after = exposures.get(symbol, 0) + signed_quantity
    return total + abs(after) * weight(symbol)
