"""Positions folded from fills: net quantity and average price per (account, symbol).

A fill report can arrive twice (a republished event, a replayed journal); the journal applies
a fill id once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position

ZERO = Decimal(0)


def apply_fill(position: Position | None, account: str, fill: OrderFilled) -> Position:
    """The position after `fill`.

    Adding to a position averages the price in; reducing keeps the average of what is left;
    going through zero starts the new side at the fill price; flat has no average.
    """
    before = position.net_quantity if position else 0
    average = position.average_price if position else ZERO
    signed = fill.side.sign * fill.quantity
    after = before + signed
    if after == 0:
        average = ZERO
    elif before == 0 or (before > 0) != (after > 0):
        average = fill.price
    elif (before > 0) == (signed > 0):
        average = (average * abs(before) + fill.price * fill.quantity) / abs(after)
    return Position(account=account, symbol=fill.symbol, net_quantity=after, average_price=average)


class PositionBook:
    """Every position, folded from fills. Telling a repeated fill from a new one is the
    journal's (its fills table, by fill id): holding every fill id here would grow forever."""

    def __init__(self, positions: Iterable[Position] = ()) -> None:
        self._positions = {(p.account, p.symbol): p for p in positions}

    def apply(self, account: str, fill: OrderFilled) -> Position:
        """Fold a new `fill` in and return the new position."""
        key = (account, fill.symbol)
        position = apply_fill(self._positions.get(key), account, fill)
        self._positions[key] = position
        return position

    def set(self, position: Position) -> None:
        """Replace a position outright (reconciliation adopting the broker's figure)."""
        self._positions[(position.account, position.symbol)] = position

    def position(self, account: str, symbol: str) -> Position | None:
        return self._positions.get((account, symbol))

    def net_quantity(self, account: str, symbol: str) -> int:
        position = self._positions.get((account, symbol))
        return position.net_quantity if position else 0

    def net_quantities(self, account: str) -> dict[str, int]:
        """The account's net quantity per symbol (a fresh dict: the caller may add to it)."""
        return {s: p.net_quantity for (a, s), p in self._positions.items() if a == account}

    def positions(self) -> tuple[Position, ...]:
        return tuple(sorted(self._positions.values(), key=lambda p: (p.account, p.symbol)))
