"""The TAIFEX index futures the simulated brokers list, and how a symbol names its product.

A symbol is the product code plus a month letter (A = January ... L = December) and the last
digit of the year, e.g. TXFL6: TAIEX futures, December 2026. Prices move in whole points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aftm.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    name: str
    point_value_twd: int


PRODUCTS = {
    product.code: product
    for product in (
        Product("TXF", "臺股期貨", 200),
        Product("MXF", "小型臺指", 50),
        Product("TMF", "微型臺指", 10),
    )
}
DEFAULT_SYMBOLS = ("TXFL6", "MXFL6", "TMFL6")
# The shape of every TAIFEX futures symbol, whether or not this system trades its product.
SYMBOL_SHAPE = re.compile(r"([A-Z]{3})[A-L][0-9]")


def product_of(symbol: str) -> Product:
    """The product a symbol trades; InvalidInput for a malformed symbol or an unlisted product."""
    match = SYMBOL_SHAPE.fullmatch(symbol)
    if match is None:
        raise InvalidInput(
            "symbol", f"{symbol!r} is not a product code plus month letter and year, e.g. TXFL6"
        )
    product = PRODUCTS.get(match.group(1))
    if product is None:
        listed = ", ".join(PRODUCTS)
        raise InvalidInput("symbol", f"{symbol!r}: product {match.group(1)} is not one of {listed}")
    return product
