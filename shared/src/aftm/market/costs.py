"""What a trade costs besides its price move: the broker's commission and the futures
transaction tax, per side, so that P&L is what the trader's statement will show.

- Futures transaction tax on stock index futures (TX, MTX, TMF): 2/100,000 (0.002 %) of the
  contract value per side, the contract value being price x point value x lots (Futures
  Transaction Tax Act art. 2; the rate set by the Ministry of Finance's order of 2018-12-28, in
  force from 2019-01-01). Brokers charge it per order rounded to the whole dollar, half up, as
  their statements show (a TX order at 8,500 pays 34 TWD, an MTX order at 8,500 pays 9).
- Commission: what the broker charges per lot and side, by product; it varies by broker and
  contract, so it is configured (`PRODUCT=TWD` pairs) and 0 for a product not configured.

Pure: prices in whole points (or a Decimal average), amounts in whole TWD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from aftm.errors import InvalidInput

FUTURES_TAX_RATE = Decimal("0.00002")  # stock index futures, per side
MAX_COMMISSION_TWD = 10_000  # per lot and side: far above any broker's fee, so a typo is caught


@dataclass(frozen=True, slots=True)
class SideCost:
    commission_twd: int
    tax_twd: int

    @property
    def total_twd(self) -> int:
        return self.commission_twd + self.tax_twd


def transaction_tax_twd(price: int | Decimal, lots: int, point_value_twd: int) -> int:
    """The futures transaction tax of one order's fill: 0.002 % of its contract value."""
    value = Decimal(price) * point_value_twd * lots
    return int((value * FUTURES_TAX_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class CostSchedule:
    """Commission per lot and side by product code (TXF, MXF, TMF); tax as the law says."""

    commission_twd: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for product, twd in self.commission_twd.items():
            if isinstance(twd, bool) or not isinstance(twd, int):
                raise InvalidInput("commission", f"{product}: {twd!r} is not whole TWD")
            if not 0 <= twd <= MAX_COMMISSION_TWD:
                raise InvalidInput(
                    "commission", f"{product}: must be 0 to {MAX_COMMISSION_TWD} TWD, got {twd}"
                )

    def commission_for(self, symbol: str) -> int:
        """The longest configured product code `symbol` starts with, or 0."""
        matches = [product for product in self.commission_twd if symbol.startswith(product)]
        return self.commission_twd[max(matches, key=len)] if matches else 0

    def side(self, symbol: str, price: int | Decimal, lots: int, point_value_twd: int) -> SideCost:
        """What one order's fill of `lots` at `price` costs."""
        return SideCost(
            commission_twd=self.commission_for(symbol) * lots,
            tax_twd=transaction_tax_twd(price, lots, point_value_twd),
        )
