"""Profit and loss in TWD for the daily loss limit: realised by fills, marked to market by the
last traded prices. Pure: values in, values out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.errors import InvalidInput
from aftm.market.products import product_of

ZERO = Decimal(0)
NS_PER_DAY = 86_400 * 1_000_000_000
TAIPEI_OFFSET_NS = 8 * 3_600 * 1_000_000_000  # UTC+8, no daylight saving


def point_value(symbol: str) -> int:
    try:
        return product_of(symbol).point_value_twd
    except InvalidInput:
        return 0  # unknown product: no TWD figure rather than a wrong one


def trading_day(ts_ns: int) -> int:
    """The Taipei calendar day of an instant, as days since the epoch: the loss limit's day."""
    return (ts_ns + TAIPEI_OFFSET_NS) // NS_PER_DAY


def realised_twd(before: Position | None, fill: OrderFilled) -> Decimal:
    """What a fill realises: the part that closes the position, at its distance from the
    position's average price. A fill that only adds realises nothing."""
    held = before.net_quantity if before else 0
    if held == 0 or held * fill.side.sign > 0:
        return ZERO
    closed = min(abs(held), fill.quantity)
    direction = 1 if held > 0 else -1
    points = (fill.price - before.average_price) * direction * closed if before else ZERO
    return points * point_value(fill.symbol)


def unrealised_twd(positions: Iterable[Position], last_prices: Mapping[str, int]) -> Decimal:
    """Open positions marked at the last traded prices; a symbol without a price counts 0."""
    total = ZERO
    for position in positions:
        last = last_prices.get(position.symbol)
        if last is not None and position.net_quantity:
            distance = Decimal(last) - position.average_price
            total += distance * position.net_quantity * point_value(position.symbol)
    return total


def is_loss_breached(day_pnl_twd: Decimal, limit_twd: float) -> bool:
    return limit_twd > 0 and day_pnl_twd <= -Decimal(str(limit_twd))
