"""TAIFEX contract months: what a symbol's month letter and year digit mean, and expiries.

Per the TX contract specification as amended 2018-03-31
(https://www.selaw.com.tw/SFIWebSeLaw/English/LawArticle/Index/120988), shared by MTX and TMF:
- delivery months: the spot month, the next two calendar months and the next three quarterly
  months (Mar, Jun, Sep, Dec); when the spot month expires the new month is listed from the next
  regular session;
- last trading day: the third Wednesday of the delivery month. When that is a TAIFEX holiday
  the next business day is the last trading day (TAIFEX trading rules, e.g. art. 8 for EUR/USD
  futures, https://www.selaw.com.tw/SFIWebSeLaw/English/LawArticle/LawHistory?releaseDate=2025-06-10&sysNumber=LW10872612;
  TAIFEX's 2026 calendar settles the February 2026 contracts on 2-23, the first business day
  after the 2-18 Lunar New Year holiday, https://histock.tw/blog/49973/1274).
A symbol carries only the year's last digit (TXFL6 = TX, December 2026): the year is the
earliest one not before the reference year - 1 that ends in that digit, so on any date in 2026
"5" is 2025 (the December 2025 contract, just expired) and "4" is 2034.
"""

from __future__ import annotations

import calendar as weeks
from dataclasses import dataclass
from datetime import date

from aftm.market.calendar import Calendar, trading_day_on_or_after
from aftm.market.products import Product, product_of

MONTH_LETTERS = "ABCDEFGHIJKL"  # A = January ... L = December
QUARTERLY_MONTHS = (3, 6, 9, 12)
_WEDNESDAY = 2


@dataclass(frozen=True, slots=True, order=True)
class ContractMonth:
    year: int
    month: int

    def following(self) -> ContractMonth:
        return ContractMonth(self.year + self.month // 12, self.month % 12 + 1)


@dataclass(frozen=True, slots=True)
class Contract:
    product: Product
    delivery: ContractMonth

    @property
    def symbol(self) -> str:
        return symbol_of(self.product.code, self.delivery)


def symbol_of(product_code: str, delivery: ContractMonth) -> str:
    return f"{product_code}{MONTH_LETTERS[delivery.month - 1]}{delivery.year % 10}"


def contract_of(symbol: str, reference: date) -> Contract:
    """The product and delivery month a symbol names, its decade resolved from `reference`."""
    product = product_of(symbol)  # InvalidInput for a malformed symbol or unlisted product
    month = MONTH_LETTERS.index(symbol[3]) + 1
    digit = int(symbol[4])
    earliest = reference.year - 1
    year = earliest + (digit - earliest) % 10
    return Contract(product, ContractMonth(year, month))


def third_wednesday(delivery: ContractMonth) -> date:
    weeks_of_month = weeks.monthcalendar(delivery.year, delivery.month)
    wednesdays = [week[_WEDNESDAY] for week in weeks_of_month if week[_WEDNESDAY]]
    return date(delivery.year, delivery.month, wednesdays[2])


def last_trading_day(calendar: Calendar, delivery: ContractMonth) -> date:
    """The third Wednesday, or the next trading day when that Wednesday is a holiday."""
    return trading_day_on_or_after(calendar, third_wednesday(delivery))


def spot_month(calendar: Calendar, day: date) -> ContractMonth:
    """The nearest month still trading on `day`: this month until its last trading day."""
    this_month = ContractMonth(day.year, day.month)
    if day <= last_trading_day(calendar, this_month):
        return this_month
    return this_month.following()


def listed_months(calendar: Calendar, day: date) -> tuple[ContractMonth, ...]:
    """The six delivery months listed on `day` (as of its regular session), nearest first.

    The after-hours session of a last trading day lists neither the expired month nor the new
    far month until the next regular session; ask for the next trading day's listing then.
    """
    months = [spot_month(calendar, day)]
    while len(months) < 3:
        months.append(months[-1].following())
    quarterly = months[-1].following()
    while len(months) < 6:
        if quarterly.month in QUARTERLY_MONTHS:
            months.append(quarterly)
        quarterly = quarterly.following()
    return tuple(months)


def is_listed(calendar: Calendar, symbol: str, day: date) -> bool:
    """True when the symbol's contract trades on `day`; InvalidInput for a malformed symbol."""
    return contract_of(symbol, day).delivery in listed_months(calendar, day)
