"""Protected orders: an IOC limit at the last price plus (buy) or minus (sell) some points.

A market order takes whatever the book offers; a thin book can fill it far from the price the
signal saw. A protected order is the executor's own "market with protection": an IOC limit
that fills at the last price or better by at most `points`, and what it cannot fill there is
cancelled by the exchange, never chased within the attempt. The daily price limit is not
applied here: the executor does not know the previous settlement; the exchange refuses a price
beyond it, and an exit refused so is retried like any refused exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aftm.domain.limits import MAX_POINTS, MAX_PRICE, MIN_PRICE
from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm.market.products import PRODUCTS, product_of

DEFAULT_POINTS = "TXF=20,MXF=20,TMF=20"


@dataclass(frozen=True, slots=True)
class Protection:
    """What a new order of one symbol is priced from; no last price: it cannot be priced."""

    points: int
    last_price: int | None


def parse_points(text: str) -> dict[str, int]:
    """'TXF=20,MXF=20' as {product code: points}, each 1 to MAX_POINTS; InvalidInput if not."""
    points: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        code, equals, value = item.partition("=")
        code, value = code.strip(), value.strip()
        if not equals or code not in PRODUCTS:
            listed = ", ".join(PRODUCTS)
            raise InvalidInput("protection_points", f"{item!r} is not PRODUCT=POINTS ({listed})")
        if not value.isdigit() or not 1 <= int(value) <= MAX_POINTS:
            raise InvalidInput("protection_points", f"{code}: {value!r} is not 1 to {MAX_POINTS}")
        points[code] = int(value)
    return points


def points_for(points: Mapping[str, int], symbol: str) -> int | None:
    """The protection of a symbol's product, None when the product has none configured."""
    try:
        return points.get(product_of(symbol).code)
    except InvalidInput:
        return None


def limit_price(side: Side, last_price: int, points: int) -> int:
    """The worst price the order may fill at, in whole points, within the price bounds."""
    worst = last_price + points if side is Side.BUY else last_price - points
    return min(max(worst, MIN_PRICE), MAX_PRICE)
