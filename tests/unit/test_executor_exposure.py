"""Exposure in TX-equivalent lots, and positions folded from fills: pure, both sides."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.types import Side
from aftm_executor.exposure import account_exposure_after, weight
from aftm_executor.positions import PositionBook, apply_fill

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])


@pytest.mark.parametrize(
    ("symbol", "weighs"),
    [
        ("TXFL6", 1.0),
        ("MXFA7", 0.25),
        ("TMFL6", 0.05),
        ("ZZZL6", 1.0),  # a product this build does not list: as heavy as TX
        ("not a symbol", 1.0),
    ],
)
def test_a_lot_weighs_its_point_value_over_tx(symbol: str, weighs: float) -> None:
    assert weight(symbol) == pytest.approx(weighs)


@SIDES
@pytest.mark.parametrize(
    ("held", "symbol", "quantity", "after"),
    [
        pytest.param({}, "TXFL6", 2, 2.0, id="first lots"),
        pytest.param({}, "TMFL6", 10, 0.5, id="micro lots"),
        pytest.param({"TXFL6": 3, "MXFL6": -4}, "TMFL6", 10, 4.5, id="adds across products"),
        pytest.param({"TXFL6": 3, "MXFL6": 4}, "MXFL6", 4, 5.0, id="adds to the same symbol"),
        pytest.param({"TXFL6": 3}, "TXFL6", -2, 1.0, id="reduces"),
        pytest.param({"TXFL6": 3}, "TXFL6", -5, 2.0, id="flips"),
        pytest.param({"TXFL6": 2, "TXFA7": -2}, "TXFL6", 0, 4.0, id="months do not net"),
        pytest.param({"ZZZL6": 1}, "TXFL6", 1, 2.0, id="an unknown product counts as TX"),
    ],
)
def test_account_exposure_after_an_order(
    side: Side, held: dict[str, int], symbol: str, quantity: int, after: float
) -> None:
    mirrored = {held_symbol: side.sign * lots for held_symbol, lots in held.items()}

    assert account_exposure_after(mirrored, symbol, side.sign * quantity) == pytest.approx(after)


def a_fill(side: Side, quantity: int, price: str, *, fill_id: str = "f1") -> OrderFilled:
    return OrderFilled(
        client_order_id="A1",
        broker_order_id="B1",
        fill_id=fill_id,
        symbol="TXFL6",
        side=side,
        quantity=quantity,
        price=Decimal(price),
        ts_ns=1,
    )


@SIDES
@pytest.mark.parametrize(
    ("fills", "net", "average"),
    [
        pytest.param([(1, 2, "100")], 2, "100", id="opens"),
        pytest.param([(1, 2, "100"), (1, 2, "110")], 4, "105", id="adds and averages"),
        pytest.param([(1, 3, "100"), (-1, 1, "120")], 2, "100", id="reduces, keeps the average"),
        pytest.param([(1, 2, "100"), (-1, 2, "120")], 0, "0", id="flat has no average"),
        pytest.param([(1, 2, "100"), (-1, 5, "120")], -3, "120", id="flips at the fill price"),
    ],
)
def test_fills_fold_into_a_position(
    side: Side, fills: list[tuple[int, int, str]], net: int, average: str
) -> None:
    """`fills`: (+1 same side as `side`, -1 the other side, quantity, price)."""
    position = None
    for way, quantity, price in fills:
        position = apply_fill(
            position, "ACC1", a_fill(side if way > 0 else side.opposite, quantity, price)
        )

    assert position == Position("ACC1", "TXFL6", side.sign * net, Decimal(average))


def test_a_book_keeps_accounts_apart_and_starts_from_stored_positions() -> None:
    book = PositionBook([Position("ACC1", "TXFL6", 2, Decimal(100))])

    book.apply("ACC1", a_fill(Side.BUY, 2, "110"))
    book.apply("ACC2", a_fill(Side.SELL, 1, "120"))

    assert book.net_quantity("ACC1", "TXFL6") == 4
    assert book.net_quantity("ACC2", "TXFL6") == -1
    assert book.net_quantity("ACC3", "TXFL6") == 0
    assert book.positions() == (
        Position("ACC1", "TXFL6", 4, Decimal(105)),
        Position("ACC2", "TXFL6", -1, Decimal(120)),
    )
