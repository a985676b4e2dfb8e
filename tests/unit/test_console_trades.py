"""`aftm trades`: its options, its table, its one-line form and its JSON, from built values."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from aftm.domain.types import Side
from aftm.market.costs import CostSchedule
from aftm.wire.protocol import TradeOrder, TradeView
from aftm_console.cli import build_parser
from aftm_console.commands.trades import TRADE_HEADERS, describe, say_trades, trade_row
from aftm_console.parsing import UsageError
from aftm_console.render import jsonable, table
from tests import builders

an_entry = builders.a_trade_order
a_trade = builders.a_trade_view


def a_closed_trade() -> TradeView:
    """Bought 2 at 23008, sold 2 at 23018 in two attempts: +20 points, 4000 TWD."""
    exits = (
        an_entry(
            client_order_id="M0123456789abcde-x1",
            leg="exit",
            attempt=1,
            side=Side.SELL,
            filled_quantity=1,
            average_price=Decimal("23018"),
            state="cancelled",
            reason="session closed",
        ),
        an_entry(
            client_order_id="M0123456789abcde-x2",
            leg="exit",
            attempt=2,
            side=Side.SELL,
            quantity=1,
            filled_quantity=1,
            average_price=Decimal("23018"),
        ),
    )
    return a_trade(
        state="done",
        exit_filled=2,
        exit_price=Decimal("23018"),
        realised_points=Decimal("20"),
        realised_twd=Decimal("4000"),
        orders=(an_entry(), *exits),
    )


# --- parsing ---------------------------------------------------------------------------------


def test_trades_defaults_to_every_trade_as_a_table() -> None:
    args = build_parser().parse_args(["trades"])

    assert (args.open, args.json, args.limit) == (False, False, 200)


def test_trades_takes_open_json_and_limit() -> None:
    args = build_parser().parse_args(["trades", "--open", "--json", "--limit", "5"])

    assert (args.open, args.json, args.limit) == (True, True, 5)


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_trades_refuses_a_limit_below_one(limit: str) -> None:
    with pytest.raises(UsageError, match="--limit"):
        build_parser().parse_args(["trades", "--limit", limit])


# --- the table -------------------------------------------------------------------------------


def test_a_trade_row_shows_fills_at_their_price_and_realised_pnl() -> None:
    assert trade_row(a_closed_trade()) == (
        "M0123456789abcde",
        "SIM-0001",
        "TXFL6",
        Side.BUY,
        2,
        "done",
        "2 @ 23008",
        "2 @ 23018",
        Decimal("20"),
        Decimal("4000"),
        368,  # no commission set: the tax, 23,008 x 400 x 0.00002 -> 184, 23,018 -> 184
        Decimal("3632"),
        None,
    )


def test_a_trade_row_without_fills_shows_counts_and_the_reason() -> None:
    refused = a_trade(
        state="done",
        reason="max lots per order 1",
        entry_filled=0,
        entry_price=None,
        account="",
    )

    row = trade_row(refused)

    assert row[1] is None
    assert row[6:8] == ("0", "0")
    assert row[-1] == "max lots per order 1"


def test_the_trades_table_has_one_line_per_trade_under_its_headers() -> None:
    lines = table(TRADE_HEADERS, [trade_row(a_trade()), trade_row(a_closed_trade())]).splitlines()

    assert len(lines) == 3
    assert lines[0].split("  ")[0] == "trade id"
    assert "realised pts" in lines[0]
    assert "realised TWD" in lines[0]
    assert "2 @ 23008" in lines[1]
    assert "2 @ 23018" in lines[2]
    assert lines[2].rstrip().endswith("4000        368     3632  -")  # right-aligned, no reason


def test_costs_add_the_commission_per_lot_of_every_filled_order() -> None:
    schedule = CostSchedule({"TXF": 50})

    row = trade_row(a_closed_trade(), schedule)

    assert row[-3:-1] == (368 + 2 * 50 * 2, Decimal("4000") - 568)
    unknown = replace(a_closed_trade(), symbol="ZZFL6")  # no point value: its tax is unknown
    assert trade_row(unknown, schedule)[-3:-1] == (None, None)


def test_no_trades_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    say_trades((), "no open trades")

    assert capsys.readouterr().out == "no open trades\n"


# --- one line --------------------------------------------------------------------------------


def test_an_open_trade_in_one_line() -> None:
    assert describe(a_trade()) == (
        "trade M0123456789abcde open: buy 2 TXFL6 on SIM-0001, entry filled 2 @ 23008"
    )


def test_a_closed_trade_in_one_line_shows_its_exit_and_pnl() -> None:
    assert describe(a_closed_trade()) == (
        "trade M0123456789abcde done: buy 2 TXFL6 on SIM-0001, entry filled 2 @ 23008, "
        "exit filled 2 @ 23018, realised 20 pts / 4000 TWD"
    )


def test_a_held_trade_in_one_line_says_why() -> None:
    held = a_trade(state="closing", reason="halted: exits held")

    assert describe(held) == (
        "trade M0123456789abcde closing: buy 2 TXFL6 on SIM-0001, entry filled 2 @ 23008, "
        "exit filled 0, realised 0 pts / 0 TWD (halted: exits held)"
    )


def test_a_trade_without_a_reason_of_its_own_shows_its_latest_orders() -> None:
    refused_entry = an_entry(filled_quantity=0, average_price=None, state="rejected",
                             reason="'ZZFL6' is not listed")  # fmt: skip
    trade = a_trade(state="done", entry_filled=0, entry_price=None, orders=(refused_entry,))

    assert describe(trade).endswith("entry filled 0 ('ZZFL6' is not listed)")
    assert trade_row(trade)[-1] == "'ZZFL6' is not listed"
    assert trade_row(a_trade())[-1] is None  # nothing wrong: no reason anywhere


def test_a_trade_without_an_account_names_the_selected_one() -> None:
    assert "on the selected account" in describe(a_trade(account=""))


# --- JSON ------------------------------------------------------------------------------------


def test_the_json_form_has_every_field_and_every_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say_trades((a_closed_trade(),), "no trades", as_json=True)

    listed = json.loads(capsys.readouterr().out)
    assert isinstance(listed, list)
    trade = listed[0]
    assert set(trade) == {*TradeView.__dataclass_fields__, "costs_twd", "net_twd"}
    assert (trade["side"], trade["state"], trade["entry_price"], trade["exit_price"]) == (
        "buy", "done", "23008", "23018",
    )  # fmt: skip
    assert (trade["realised_points"], trade["realised_twd"]) == ("20", "4000")
    assert (trade["costs_twd"], trade["net_twd"]) == (368, "3632")
    assert [o["client_order_id"] for o in trade["orders"]] == [
        "M0123456789abcde-0",
        "M0123456789abcde-x1",
        "M0123456789abcde-x2",
    ]
    assert set(trade["orders"][1]) == set(TradeOrder.__dataclass_fields__)
    assert trade["orders"][1]["reason"] == "session closed"
    assert trade["orders"][1]["side"] == "sell"


def test_missing_prices_are_null_in_json() -> None:
    value = jsonable(a_trade(exit_price=None, entry_price=None))

    assert isinstance(value, dict)
    assert (value["entry_price"], value["exit_price"]) == (None, None)
