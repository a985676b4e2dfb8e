"""Trades as the console shows them: average prices and realised P&L from the journal's fills."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from aftm.domain.types import Side
from aftm.wire.protocol import TradeOrder
from aftm_executor import trades
from aftm_executor.journal import FillValue
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Order, Phase, Trade, client_order_id
from aftm_executor.views import trade_view
from tests.builders import a_signal

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])


def an_order(
    trade: Trade, leg: Leg, attempt: int, quantity: int, filled: int, state: OrderState
) -> Order:
    signal_id = trade.entry_signal_id if leg is Leg.ENTRY else trade.exit_signal_id
    return Order(
        client_order_id=client_order_id(trade.account, signal_id, attempt),
        leg=leg,
        attempt=attempt,
        side=trade.side if leg is Leg.ENTRY else trade.side.opposite,
        quantity=quantity,
        state=state,
        filled=filled,
    )


def closed_in_two_attempts(side: Side, symbol: str = "TXFL6") -> tuple[Trade, dict[str, FillValue]]:
    """2 lots entered at 17500; the first exit (IOC) got 1 lot at 17510, the second 1 at 17530."""
    trade = trades.from_entry(a_signal(side, quantity=2), "ACC1", 1)
    trade = trades.wants_exit(replace(trade, symbol=symbol), "take_profit", 2)
    entry = an_order(trade, Leg.ENTRY, 1, 2, 2, OrderState.FILLED)
    first = an_order(trade, Leg.EXIT, 1, 2, 1, OrderState.CANCELLED)
    second = an_order(trade, Leg.EXIT, 2, 1, 1, OrderState.FILLED)
    for order in (entry, first, second):
        trade = trades.placed(trade, order, 3)
    fills = {
        entry.client_order_id: FillValue(2, Decimal(35000)),
        first.client_order_id: FillValue(1, Decimal(17510)),
        second.client_order_id: FillValue(1, Decimal(17530)),
    }
    return trade, fills


@SIDES
def test_a_trade_closed_in_two_attempts_realises_its_points(side: Side) -> None:
    trade, fills = closed_in_two_attempts(side)

    view = trade_view(trade, fills)

    assert view.state == Phase.DONE.value
    assert (view.entry_filled, view.exit_filled) == (2, 2)
    assert view.entry_price == Decimal(17500)
    assert view.exit_price == Decimal(17520)
    assert view.realised_points == side.sign * Decimal(40)  # (17520 - 17500) x 2 lots
    assert view.realised_twd == side.sign * Decimal(8000)  # 200 TWD a point for TX
    assert str(view.realised_twd) == f"{side.sign * 8000}"  # no exponent on the wire
    assert [
        (o.leg, o.attempt, o.filled_quantity, o.average_price, o.state) for o in view.orders
    ] == [
        ("entry", 1, 2, Decimal(17500), "filled"),
        ("exit", 1, 1, Decimal(17510), "cancelled"),
        ("exit", 2, 1, Decimal(17530), "filled"),
    ]


@SIDES
@pytest.mark.parametrize(("symbol", "twd_per_point"), [("MXFL6", 50), ("TMFL6", 10), ("ZZZL6", 0)])
def test_twd_follow_the_products_point_value(side: Side, symbol: str, twd_per_point: int) -> None:
    trade, fills = closed_in_two_attempts(side, symbol)

    view = trade_view(trade, fills)

    assert view.realised_points == side.sign * Decimal(40)
    assert view.realised_twd == side.sign * Decimal(40 * twd_per_point)


@SIDES
def test_realised_points_are_exact_when_averages_are_not_whole(side: Side) -> None:
    """1 lot at 17500 and 2 at 17501, all closed at 17510: 10 + 9 + 9 = 28 points."""
    trade = trades.wants_exit(trades.from_entry(a_signal(side, quantity=3), "ACC1", 1), "tp", 2)
    entry = an_order(trade, Leg.ENTRY, 1, 3, 3, OrderState.FILLED)
    exit_ = an_order(trade, Leg.EXIT, 1, 3, 3, OrderState.FILLED)
    trade = trades.placed(trades.placed(trade, entry, 3), exit_, 3)
    fills = {
        entry.client_order_id: FillValue(3, Decimal(17500 + 2 * 17501)),
        exit_.client_order_id: FillValue(3, Decimal(3 * 17510)),
    }

    view = trade_view(trade, fills)

    assert view.entry_price == Decimal("17500.67")  # shown to two decimals
    assert view.realised_points == side.sign * Decimal(28)
    assert view.realised_twd == side.sign * Decimal(5600)


@SIDES
def test_a_partly_closed_trade_realises_only_what_closed(side: Side) -> None:
    trade = trades.wants_exit(trades.from_entry(a_signal(side, quantity=3), "ACC1", 1), "tp", 2)
    entry = an_order(trade, Leg.ENTRY, 1, 3, 3, OrderState.FILLED)
    exit_ = an_order(trade, Leg.EXIT, 1, 3, 1, OrderState.CANCELLED)
    trade = trades.placed(trades.placed(trade, entry, 3), exit_, 3)
    trade = trades.held(trade, "trading mode is halted", 4)
    fills = {
        entry.client_order_id: FillValue(3, Decimal(3 * 17500)),
        exit_.client_order_id: FillValue(1, Decimal(17490)),
    }

    view = trade_view(trade, fills)

    assert view.state == Phase.CLOSING.value
    assert view.reason == "trading mode is halted"
    assert view.realised_points == side.sign * Decimal(-10)
    assert view.realised_twd == side.sign * Decimal(-2000)


def test_a_trade_without_fills_has_no_prices_and_nothing_realised() -> None:
    signal = a_signal()
    trade = trades.refused(trades.from_entry(signal, "ACC1", 1), "risk: trading mode is halted", 2)

    view = trade_view(trade, {})

    assert view.state == Phase.DONE.value
    assert view.reason == "risk: trading mode is halted"
    assert view.entry_price is None
    assert view.exit_price is None
    assert view.realised_points == Decimal(0)
    assert view.realised_twd == Decimal(0)
    assert view.orders == ()


@SIDES
def test_a_manual_trade_keeps_its_order_id_in_its_trade_id(side: Side) -> None:
    trade = trades.manual("m-7", "ACC1", "MXFL6", side, 2, now_ns=5)
    entry = Order(
        client_order_id=client_order_id(trade.account, trade.entry_signal_id),
        leg=Leg.ENTRY,
        attempt=1,
        side=side,
        quantity=2,
        state=OrderState.ACCEPTED,
    )
    trade = trades.placed(trade, entry, 6)

    view = trade_view(trade, {})

    assert trade.is_manual
    assert not trades.from_entry(a_signal(), "ACC1", 1).is_manual
    assert view.trade_id == "manual:m-7"
    assert (trade.entry_signal_id, trade.exit_signal_id) == ("manual:m-7:entry", "manual:m-7:exit")
    assert client_order_id("ACC1", trade.entry_signal_id) != client_order_id("ACC1", "m-7:entry")
    assert view.state == Phase.ENTERING.value
    assert (view.account, view.symbol, view.side, view.quantity) == ("ACC1", "MXFL6", side, 2)
    assert view.orders == (
        TradeOrder(
            client_order_id=entry.client_order_id,
            leg="entry",
            attempt=1,
            side=side,
            quantity=2,
            filled_quantity=0,
            average_price=None,
            state="accepted",
            reason="",
        ),
    )
