"""Backtest accounting: fills with slippage, P&L per side, wins/losses, drawdown, point values."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm.market.costs import CostSchedule
from aftm_console.backtest.report import (
    DEFAULT_POINT_VALUES,
    OpenPosition,
    Report,
    Stats,
    Trade,
    UnknownPointValue,
    fill_price,
    point_value,
)
from tests.builders import a_condition

B, S = Side.BUY, Side.SELL
ENTRY, TP, SL = SignalKind.ENTRY, SignalKind.TAKE_PROFIT, SignalKind.STOP_LOSS


def a_signal(
    kind: SignalKind,
    side: Side,
    price: int,
    *,
    condition_id: str = "c1",
    symbol: str = "TXFL6",
    quantity: int = 1,
    ts_ns: int = 0,
) -> Signal:
    stage = "exit" if kind.is_exit else "entry"
    return Signal(
        f"{condition_id}:{stage}", condition_id, symbol, side, kind, quantity, price, ts_ns
    )


def round_trip(
    report: Report,
    side: Side,
    entry: int,
    exit_: int,
    kind: SignalKind,
    *,
    condition_id: str = "c1",
    symbol: str = "TXFL6",
    quantity: int = 1,
) -> Trade | None:
    """Enter at `entry` (ts 1) and leave at `exit_` (ts 2); return the closed trade."""
    for price, signal_kind, signal_side, ts_ns in [
        (entry, ENTRY, side, 1),
        (exit_, kind, side.opposite, 2),
    ]:
        signal = a_signal(
            signal_kind,
            signal_side,
            price,
            condition_id=condition_id,
            symbol=symbol,
            quantity=quantity,
            ts_ns=ts_ns,
        )
        trade = report.apply(signal)
    return trade


@pytest.mark.parametrize(
    ("side", "price", "slippage", "filled"),
    [(B, 23000, 0, 23000), (B, 23000, 2, 23002), (S, 23000, 0, 23000), (S, 23000, 2, 22998)],
)
def test_slippage_always_works_against_the_trader(
    side: Side, price: int, slippage: int, filled: int
) -> None:
    assert fill_price(side, price, slippage) == filled


class RoundTrip(NamedTuple):
    side: Side  # of the entry
    symbol: str
    qty: int
    entry: int  # signal prices
    exit: int
    kind: SignalKind  # of the exit
    slippage: int
    entry_fill: int  # expected
    exit_fill: int
    pnl_points: int
    pnl_twd: int


ROUND_TRIPS = [
    RoundTrip(B, "TXFL6", 2, 23015, 23105, TP, 0, 23015, 23105, 180, 36_000),
    RoundTrip(B, "TXFL6", 2, 23015, 23105, TP, 1, 23016, 23104, 176, 35_200),
    RoundTrip(B, "TMFL6", 1, 23015, 22985, SL, 0, 23015, 22985, -30, -300),
    RoundTrip(B, "MXFL6", 3, 23015, 22985, SL, 2, 23017, 22983, -102, -5_100),
    RoundTrip(S, "MXFL6", 3, 22985, 22895, TP, 0, 22985, 22895, 270, 13_500),
    RoundTrip(S, "MXFL6", 3, 22985, 22895, TP, 2, 22983, 22897, 258, 12_900),
    RoundTrip(S, "TXFL6", 1, 22985, 23015, SL, 0, 22985, 23015, -30, -6_000),
    RoundTrip(S, "TXFL6", 1, 22985, 23015, SL, 1, 22984, 23016, -32, -6_400),
]


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=lambda c: f"{c.side}-{c.kind}-slip{c.slippage}")
def test_round_trip_pnl(case: RoundTrip) -> None:
    condition = a_condition(symbol=case.symbol, action=case.side, quantity=case.qty)
    report = Report([condition], slippage=case.slippage)

    trade = round_trip(
        report, case.side, case.entry, case.exit, case.kind, symbol=case.symbol, quantity=case.qty
    )

    assert trade == Trade(
        condition_id="c1",
        symbol=case.symbol,
        side=case.side,
        quantity=case.qty,
        entry_price=case.entry_fill,
        entry_ts_ns=1,
        exit_price=case.exit_fill,
        exit_ts_ns=2,
        exit_kind=case.kind,
        pnl_points=case.pnl_points,
        pnl_twd=case.pnl_twd,
    )
    won, lost, drawdown = int(case.pnl_twd > 0), int(case.pnl_twd < 0), max(0, -case.pnl_twd)
    assert report.total() == Stats(1, won, lost, case.pnl_points, case.pnl_twd, drawdown)
    assert report.open_positions == []


@pytest.mark.parametrize("side", [B, S])
def test_a_trade_that_breaks_even_is_neither_win_nor_loss(side: Side) -> None:
    report = Report([a_condition(action=side)])

    round_trip(report, side, 23000, 23000, TP)

    assert report.total() == Stats(trades=1, wins=0, losses=0)


# P&L in points of successive TMF trades (10 TWD/point), and the expected totals.
# Realised equity starts at 0, so a first losing trade is already a drawdown.
SEQUENCES = [
    pytest.param([], Stats(), id="no-trades"),
    pytest.param([100, 200], Stats(2, 2, 0, 300, 3_000, 0), id="only-up"),
    pytest.param([-50], Stats(1, 0, 1, -50, -500, 500), id="first-trade-loses"),
    # equity 1000, -2000, -1500, -2500, 1500: peak 1000, trough -2500
    pytest.param([100, -300, 50, -100, 400], Stats(5, 3, 2, 150, 1_500, 3_500), id="deep-dip"),
    # equity 2000, 1000, 5000, 3500: the later, larger peak sets the drawdown
    pytest.param([200, -100, 400, -150], Stats(4, 2, 2, 350, 3_500, 1_500), id="new-peak"),
]


@pytest.mark.parametrize("side", [B, S])
@pytest.mark.parametrize(("pnl_points", "expected"), SEQUENCES)
def test_totals_and_drawdown_over_realised_equity(
    side: Side, pnl_points: list[int], expected: Stats
) -> None:
    ids = [f"c{n}" for n in range(len(pnl_points))]
    report = Report([a_condition(id=i, symbol="TMFL6", action=side) for i in ids])

    for condition_id, points in zip(ids, pnl_points, strict=True):
        exit_price = 20_000 + points * side.sign  # a sell profits when the price falls
        round_trip(report, side, 20_000, exit_price, TP, condition_id=condition_id, symbol="TMFL6")

    assert report.total() == expected


@pytest.mark.parametrize("side", [B, S])
def test_open_positions_are_listed_apart_from_trades(side: Side) -> None:
    report = Report(
        [a_condition(id="a", action=side), a_condition(id="b", action=side)], slippage=1
    )

    report.apply(a_signal(ENTRY, side, 23000, condition_id="a", quantity=2, ts_ns=7))
    round_trip(report, side, 23000, 23000 + 50 * side.sign, TP, condition_id="b")

    assert report.open_positions == [OpenPosition("a", "TXFL6", side, 2, 23000 + side.sign, 7)]
    assert [trade.condition_id for trade in report.trades] == ["b"]
    document = report.to_dict()
    assert document["open_positions"] == [
        {
            "condition_id": "a",
            "symbol": "TXFL6",
            "side": side,
            "quantity": 2,
            "entry_price": 23000 + side.sign,
            "entry_ts_ns": 7,
        }
    ]
    assert document["total"] == {
        "trades": 1,
        "wins": 1,
        "losses": 0,
        "pnl_points": 48,
        "pnl_twd": 9_600,
        "max_drawdown_twd": 0,
        "costs_twd": 0,  # no cost schedule given
        "net_pnl_twd": 9_600,
    }


def test_every_condition_is_reported_even_without_trades() -> None:
    report = Report([a_condition(id="x"), a_condition(id="y", symbol="MXFL6")])

    round_trip(report, B, 23000, 23010, TP, condition_id="y", symbol="MXFL6")

    assert report.by_condition() == {
        "x": Stats(),
        "y": Stats(trades=1, wins=1, pnl_points=10, pnl_twd=500),
    }
    conditions = report.to_dict()["conditions"]
    assert isinstance(conditions, dict)
    assert conditions["y"]["point_value_twd"] == 50


@pytest.mark.parametrize(
    ("symbol", "table", "expected"),
    [
        ("TXFL6", DEFAULT_POINT_VALUES, 200),
        ("TXL6", DEFAULT_POINT_VALUES, 200),
        ("MXFL6", DEFAULT_POINT_VALUES, 50),
        ("MTXL6", DEFAULT_POINT_VALUES, 50),
        ("TMFL6", DEFAULT_POINT_VALUES, 10),
        ("XYZL6", DEFAULT_POINT_VALUES, None),
        ("txfl6", DEFAULT_POINT_VALUES, None),  # symbols are matched as written
        ("TXFL6", {"TX": 200, "TXF": 250}, 250),  # the longest product wins
        ("TXAL6", {"TX": 200, "TXF": 250}, 200),
        ("TXFL6", {"TXF": 250, "TX": 200}, 250),  # whatever the table's order
    ],
)
def test_point_value_by_longest_prefix(
    symbol: str, table: dict[str, int], expected: int | None
) -> None:
    assert point_value(symbol, table) == expected


def test_a_symbol_without_point_value_is_refused_up_front() -> None:
    conditions = [a_condition(id="ok"), a_condition(id="odd", symbol="ZZZL6")]

    with pytest.raises(UnknownPointValue) as raised:
        Report(conditions)

    assert (raised.value.condition_id, raised.value.symbol) == ("odd", "ZZZL6")
    assert "'ZZZL6'" in str(raised.value)


def test_an_extended_table_prices_a_new_product() -> None:
    report = Report([a_condition(symbol="ZZZL6")], {**DEFAULT_POINT_VALUES, "ZZZ": 7})

    trade = round_trip(report, B, 100, 110, TP, symbol="ZZZL6")

    assert trade is not None
    assert trade.pnl_twd == 70


@pytest.mark.parametrize("slippage", [-1, True])
def test_bad_slippage_is_refused(slippage: int) -> None:
    with pytest.raises(InvalidInput):
        Report([a_condition()], slippage=slippage)


def test_an_exit_without_entry_is_a_bug() -> None:
    report = Report([a_condition()])

    with pytest.raises(ValueError, match="without an entry"):
        report.apply(a_signal(TP, S, 23000))


def test_costs_are_both_sides_of_each_trade_and_the_net_is_what_remains() -> None:
    report = Report([a_condition(quantity=2)], costs=CostSchedule({"TXF": 50, "MXF": 20}))
    report.apply(a_signal(ENTRY, B, 23_000, quantity=2))
    trade = report.apply(a_signal(TP, S, 23_100, quantity=2))

    assert trade is not None
    # commission 50 x 2 lots a side; tax 23,000 x 400 x 0.00002 = 184 and 23,100 x 400 -> 184.8
    assert trade.costs_twd == 100 + 184 + 100 + 185
    assert trade.pnl_twd == 100 * 2 * 200
    assert trade.net_pnl_twd == 40_000 - 569
    assert report.to_dict()["total"]["net_pnl_twd"] == 40_000 - 569  # type: ignore[index]
