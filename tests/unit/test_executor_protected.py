"""Protected orders in the trade model: an IOC limit at the last price ± protection points; an
entry not filled within it is done with what it got, an exit is retried at the then-last price."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm_executor import decisions, trades
from aftm_executor.decisions import Hold, Nothing, Place, Refuse
from aftm_executor.journal import Journal
from aftm_executor.protection import Protection, limit_price, parse_points, points_for
from aftm_executor.settings import ExecutorSettings
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Phase
from tests.unit.test_trades import (
    NOW,
    SIDES,
    a_situation,
    an_entry_trade,
    exit_wanted,
    placed,
)

PROTECTED = Protection(points=20, last_price=17500)
NOT_FILLED = "not filled within protection 20 points"


def test_points_are_read_per_product() -> None:
    points = parse_points("TXF=20, MXF=15,TMF=5")
    assert points == {"TXF": 20, "MXF": 15, "TMF": 5}
    assert (points_for(points, "MXFL6"), points_for(points, "XXXL6")) == (15, None)


@pytest.mark.parametrize("text", ["", "TXF", "TXF=0", "TXF=-1", "TXF=1.5", "ABC=20", "TXF=1000001"])
def test_points_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_points(text)


@pytest.mark.parametrize(
    ("side", "last", "points", "price"),
    [(Side.BUY, 17500, 20, 17520), (Side.SELL, 17500, 20, 17480), (Side.SELL, 10, 20, 1)],
)
def test_the_limit_is_the_last_price_plus_or_minus_the_protection(
    side: Side, last: int, points: int, price: int
) -> None:
    assert limit_price(side, last, points) == price


def placed_protected(side: Side) -> tuple[trades.Trade, trades.Order]:
    decision = decisions.decide(an_entry_trade(side), a_situation(protection=PROTECTED))
    assert isinstance(decision, Place), decision
    return trades.placed(an_entry_trade(side), decision.order, NOW), decision.order


@SIDES
def test_a_protected_entry_is_an_ioc_limit_at_the_last_price_and_protection(side: Side) -> None:
    _, order = placed_protected(side)
    assert (order.limit_price, order.protection_points) == (17500 + side.sign * 20, 20)


def test_a_protected_entry_without_a_last_price_is_refused() -> None:
    unpriced = a_situation(protection=Protection(points=20, last_price=None))
    decision = decisions.decide(an_entry_trade(), unpriced)
    assert decision == Refuse("protected order: no last price for TXFL6")


@SIDES
@pytest.mark.parametrize(("filled", "phase"), [(0, Phase.DONE), (1, Phase.OPEN)])
def test_an_entry_not_filled_within_protection_is_done_with_what_it_got(
    side: Side, filled: int, phase: Phase
) -> None:
    trade, order = placed_protected(side)

    trade = trades.reported(
        trade, order.client_order_id, OrderState.CANCELLED, filled, "IOC limit not reachable", NOW
    )

    assert (trade.phase, trade.entry_filled) == (phase, filled)
    assert trade.leg_orders(Leg.ENTRY)[0].reason == NOT_FILLED
    later = replace(PROTECTED, last_price=17000)
    assert decisions.decide(trade, a_situation(protection=later)) == Nothing()  # never resent


@SIDES
def test_an_exit_not_filled_within_protection_is_retried_at_the_then_last_price(
    side: Side,
) -> None:
    trade, entry = placed_protected(side)
    trade = trades.reported(trade, entry.client_order_id, OrderState.FILLED, 2, "", NOW)
    trade = exit_wanted(trade)
    first = decisions.decide(trade, a_situation(protection=PROTECTED))
    assert isinstance(first, Place)
    assert first.order.limit_price == 17500 - side.sign * 20
    trade = trades.placed(trade, first.order, NOW)
    trade = trades.reported(trade, first.order.client_order_id, OrderState.CANCELLED, 1, "", NOW)
    assert trade.problem == NOT_FILLED

    moved = replace(PROTECTED, last_price=17400)
    waiting = decisions.decide(trade, a_situation(protection=moved))
    assert isinstance(waiting, Hold)  # the backoff: not chased within the attempt
    again = decisions.decide(trade, a_situation(now_ns=trade.retry_at_ns, protection=moved))
    assert isinstance(again, Place)
    assert (again.order.attempt, again.order.quantity) == (2, 1)
    assert again.order.limit_price == 17400 - side.sign * 20


def test_an_exit_without_a_last_price_is_held_not_dropped() -> None:
    trade, entry = placed_protected(Side.BUY)
    trade = trades.reported(trade, entry.client_order_id, OrderState.FILLED, 2, "", NOW)
    unpriced = a_situation(protection=Protection(points=20, last_price=None))
    decision = decisions.decide(exit_wanted(trade), unpriced)
    assert decision == Hold("protected order: no last price for TXFL6: exit held")


def test_the_journal_keeps_a_protected_order_s_price(tmp_path: Path) -> None:
    trade, order = placed_protected(Side.SELL)
    journal = Journal(tmp_path / "journal.sqlite")
    journal.save(trade)
    journal.close()

    reopened = Journal(tmp_path / "journal.sqlite")
    stored = reopened.trade(trade.trade_id)
    reopened.close()

    assert stored is not None
    assert stored.order(order.client_order_id) == order


def test_a_journal_from_before_protected_orders_opens_with_its_orders_at_market(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    trade, order = placed(an_entry_trade())
    journal = Journal(path)
    journal.save(trade)
    journal.close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("ALTER TABLE orders DROP COLUMN limit_price")
        db.execute("ALTER TABLE orders DROP COLUMN protection_points")
        db.commit()

    reopened = Journal(path)
    stored = reopened.trade(trade.trade_id)
    assert reopened.quarantined == 0
    reopened.close()

    assert stored is not None
    assert stored.order(order.client_order_id) == order
    assert order.limit_price is None


def test_orders_are_market_orders_unless_protected_is_asked_for() -> None:
    assert ExecutorSettings(_env_file=None).protection is None  # type: ignore[call-arg]
    protected = ExecutorSettings(
        _env_file=None,  # type: ignore[call-arg]
        order_type="protected",
        protection_points="TXF=30,MXF=20,TMF=10",
    )
    assert protected.protection == {"TXF": 30, "MXF": 20, "TMF": 10}


@pytest.mark.parametrize("points", ["TXF=0", "TXF", "XYZ=20", "TXF=20,MXF=abc"])
def test_protection_points_out_of_range_are_refused_at_start(points: str) -> None:
    with pytest.raises(ValidationError):
        ExecutorSettings(_env_file=None, protection_points=points)  # type: ignore[call-arg]
