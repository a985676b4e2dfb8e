"""The daily price limit of TAIFEX index futures: ±10% of the reference price, whole points.

Rule: "+/- 10% of daily settlement price of preceding regular trading session" (TAIFEX
contract specifications since the 2018-03-31 amendment, e.g.
https://www.selaw.com.tw/English/LawArticle?releaseDate=2018-08-08&sysNumber=LW10833616);
the after-hours session uses the limits of the next regular session, the same reference.
Rounding: prices move in whole points, and a limit price is kept inside the ±10% band, i.e.
the band's width is truncated toward the reference: upper = floor(ref * 1.1),
lower = ceil(ref * 0.9). The exchange's rule text for this rounding was not found; this is the
reading that never admits a price beyond 10%, so an order the exchange would refuse is never
accepted here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aftm.errors import InvalidInput

LIMIT_PERCENT = 10


@dataclass(frozen=True, slots=True)
class PriceLimits:
    reference: int
    lower: int
    upper: int

    def admits(self, price: int) -> bool:
        """True when a price in whole points lies within the day's limits, both ends included."""
        return self.lower <= price <= self.upper


def daily_price_limits(reference: int) -> PriceLimits:
    """The limit prices around a reference (previous settlement) price in whole points."""
    if isinstance(reference, bool) or not isinstance(reference, int) or reference <= 0:
        raise InvalidInput("reference", f"{reference!r:.40} is not a positive whole price")
    # Integer arithmetic: floor(ref * 10 / 100) is exact, where ref * 1.1 in floats is not.
    width = reference * LIMIT_PERCENT // 100
    return PriceLimits(reference, reference - width, reference + width)
