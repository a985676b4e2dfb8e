"""Daily P&L for the loss limit: what fills realise, what open positions are worth now."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.types import Side
from aftm_executor import pnl

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])


def a_fill(side: Side, quantity: int, price: int, symbol: str = "TXFL6") -> OrderFilled:
    return OrderFilled("A1", "B1", "F1", symbol, side, quantity, Decimal(price), 0)


@SIDES
def test_a_fill_that_closes_realises_its_distance_from_the_average(side: Side) -> None:
    held = Position("ACC1", "TXFL6", side.sign * 2, Decimal(17500))

    gained = pnl.realised_twd(held, a_fill(side.opposite, 1, 17510))

    assert gained == side.sign * Decimal(10 * 200)


@SIDES
def test_a_fill_through_zero_realises_only_what_it_closes(side: Side) -> None:
    held = Position("ACC1", "MXFL6", side.sign * 1, Decimal(100))

    assert pnl.realised_twd(held, a_fill(side.opposite, 3, 90, "MXFL6")) == side.sign * -500


@pytest.mark.parametrize("before", [None, Position("ACC1", "TXFL6", 2, Decimal(17500))])
def test_a_fill_that_opens_or_adds_realises_nothing(before: Position | None) -> None:
    assert pnl.realised_twd(before, a_fill(Side.BUY, 1, 17600)) == 0


def test_open_positions_are_marked_at_the_last_price_and_unpriced_ones_count_zero() -> None:
    positions = [
        Position("ACC1", "TXFL6", 2, Decimal(17500)),
        Position("ACC1", "TMFL6", -5, Decimal(17500)),
        Position("ACC1", "MXFL6", 1, Decimal(17500)),
    ]

    value = pnl.unrealised_twd(positions, {"TXFL6": 17490, "TMFL6": 17490})

    assert value == 2 * -10 * 200 + -5 * -10 * 10


@pytest.mark.parametrize(
    ("day_pnl", "limit", "breached"),
    [(-100_000, 100_000.0, True), (-99_999, 100_000.0, False), (-(10**9), 0.0, False)],
)
def test_the_limit_is_reached_at_its_value_and_zero_turns_it_off(
    day_pnl: int, limit: float, breached: bool
) -> None:
    assert pnl.is_loss_breached(Decimal(day_pnl), limit) is breached


def test_the_trading_day_turns_at_midnight_taipei() -> None:
    hour = 3_600 * 1_000_000_000
    midnight_taipei = 16 * hour  # 16:00 UTC on 1970-01-01
    assert pnl.trading_day(midnight_taipei - 1) == 0
    assert pnl.trading_day(midnight_taipei) == 1
