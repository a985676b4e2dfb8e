"""`aftm trades`: the executor's trades (a condition's round trip, or a manual order) and how
each one is rendered: a table row, one line, or JSON with every field and order."""

from __future__ import annotations

import argparse
from decimal import Decimal

from aftm.wire.protocol import TradeList, TradeView
from aftm_console.commands.common import live
from aftm_console.paging import newest_trades
from aftm_console.parsing import Subparsers, add_json_flag, at_least_one
from aftm_console.render import say_json, say_table
from aftm_console.services import Services

DEFAULT_LIMIT = 200
# An entry that has not reached the broker's final answer yet: its fills may still come.
UNSETTLED_STATES = frozenset({"pending", "entering"})
TRADE_HEADERS = (
    "trade id",
    "account",
    "symbol",
    "side",
    "qty",
    "state",
    "entry",
    "exit",
    "realised pts",
    "realised TWD",
    "reason",
)


# --- rendering -------------------------------------------------------------------------------


def fills(filled: int, price: Decimal | None) -> str:
    """Lots filled at their average price ("2 @ 23008"); just the count while none filled."""
    return str(filled) if price is None else f"{filled} @ {price}"


def reason(trade: TradeView) -> str:
    """Why the trade is held, refused or done: its own reason, else its latest order's (a
    broker or gateway refusal may be recorded on the order only; an earlier attempt's reason
    is history, not the trade's state); empty when nothing is wrong."""
    if trade.reason or not trade.orders:
        return trade.reason
    return trade.orders[-1].reason


def trade_row(trade: TradeView) -> tuple[object, ...]:
    """One trade under TRADE_HEADERS."""
    return (
        trade.trade_id,
        trade.account or None,
        trade.symbol,
        trade.side,
        trade.quantity,
        trade.state,
        fills(trade.entry_filled, trade.entry_price),
        fills(trade.exit_filled, trade.exit_price),
        trade.realised_points,
        trade.realised_twd,
        reason(trade) or None,
    )


def describe(trade: TradeView) -> str:
    """One line for a person: what the trade is, how far it got, and what is wrong if anything."""
    account = trade.account or "the selected account"
    parts = [
        f"trade {trade.trade_id} {trade.state}: {trade.side} {trade.quantity} {trade.symbol} "
        f"on {account}",
        f"entry filled {fills(trade.entry_filled, trade.entry_price)}",
    ]
    is_closed_or_closing = trade.state in {"closing", "done"} and trade.entry_filled > 0
    if trade.exit_filled or is_closed_or_closing:
        parts.append(f"exit filled {fills(trade.exit_filled, trade.exit_price)}")
        parts.append(f"realised {trade.realised_points} pts / {trade.realised_twd} TWD")
    line = ", ".join(parts)
    why = reason(trade)
    return f"{line} ({why})" if why else line


def say_trades(trades: tuple[TradeView, ...], empty: str, *, as_json: bool = False) -> None:
    if as_json:
        say_json(trades)
    else:
        say_table(TRADE_HEADERS, [trade_row(t) for t in trades], empty)


# --- operations (the menu calls these too) ---------------------------------------------------


def list_trades(
    services: Services, *, open_only: bool = False, limit: int = DEFAULT_LIMIT
) -> TradeList:
    # A read: safe to ask twice. Paged: a long history takes several requests.
    return newest_trades(services, open_only=open_only, limit=limit)


def show_trades(
    services: Services,
    *,
    open_only: bool = False,
    limit: int = DEFAULT_LIMIT,
    as_json: bool = False,
) -> TradeList:
    listed = list_trades(services, open_only=open_only, limit=limit)
    say_trades(listed.trades, "no open trades" if open_only else "no trades", as_json=as_json)
    return listed


# --- subcommand ------------------------------------------------------------------------------


def add_trade_commands(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "trades", help="the executor's trades: entry, exit, fills, state, realised P&L"
    )
    parser.add_argument("--open", action="store_true", help="only trades not yet done")
    parser.add_argument(
        "--limit",
        type=at_least_one,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"the newest N trades, newest last (default {DEFAULT_LIMIT})",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=live(_trades))


def _trades(services: Services, args: argparse.Namespace) -> int:
    show_trades(services, open_only=args.open, limit=args.limit, as_json=args.json)
    return 0
