"""`aftm trades`: the executor's trades (a condition's round trip, or a manual order) and how
each one is rendered: a table row, one line, or JSON with every field and order.

Each trade also shows its costs, the commission (AFTM_CONSOLE_COMMISSION, per lot and side) and
the futures transaction tax of every filled order at its average price, and its net P&L:
realised TWD less those costs, what the broker's statement will show (give or take a dollar of
rounding, as the broker taxes each fill rather than each order's average)."""

from __future__ import annotations

import argparse
import dataclasses
from decimal import Decimal

from aftm.errors import InvalidInput
from aftm.market.costs import CostSchedule
from aftm.market.products import product_of
from aftm.wire.protocol import TradeList, TradeView
from aftm_console.commands.common import live
from aftm_console.executors import EXECUTOR, add_account_option, is_several
from aftm_console.paging import newest_trades
from aftm_console.parsing import Subparsers, add_json_flag, at_least_one
from aftm_console.render import jsonable, say_json, say_table
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
    "costs TWD",
    "net TWD",
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


def trade_costs(trade: TradeView, schedule: CostSchedule) -> int | None:
    """Commission and tax of every lot filled so far; None for a product of unknown point
    value (its tax cannot be known)."""
    try:
        point_value = product_of(trade.symbol).point_value_twd
    except InvalidInput:
        return None
    return sum(
        schedule.side(
            trade.symbol, order.average_price, order.filled_quantity, point_value
        ).total_twd
        for order in trade.orders
        if order.filled_quantity > 0 and order.average_price is not None
    )


def net_twd(trade: TradeView, costs: int | None) -> Decimal | None:
    return None if costs is None else trade.realised_twd - costs


def trade_row(trade: TradeView, schedule: CostSchedule | None = None) -> tuple[object, ...]:
    """One trade under TRADE_HEADERS."""
    costs = trade_costs(trade, schedule or CostSchedule())
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
        costs,
        net_twd(trade, costs),
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


def say_trades(
    trades: tuple[TradeView, ...],
    empty: str,
    *,
    as_json: bool = False,
    schedule: CostSchedule | None = None,
) -> None:
    schedule = schedule or CostSchedule()
    if as_json:
        say_json([_with_costs(trade, schedule) for trade in trades])
    else:
        say_table(TRADE_HEADERS, [trade_row(t, schedule) for t in trades], empty)


def _with_costs(trade: TradeView, schedule: CostSchedule) -> dict[str, object]:
    costs = trade_costs(trade, schedule)
    view = jsonable(trade)
    assert isinstance(view, dict)  # noqa: S101 - a dataclass always renders as an object
    return {**view, "costs_twd": costs, "net_twd": jsonable(net_twd(trade, costs))}


# --- operations (the menu calls these too) ---------------------------------------------------


def list_trades(
    services: Services, *, open_only: bool = False, limit: int = DEFAULT_LIMIT
) -> TradeList:
    """The newest `limit` trades, newest last: of every executor's when several are listed
    and none was picked (each trade names its account)."""
    # A read: safe to ask twice. Paged: a long history takes several requests.
    if not is_several(services):
        return newest_trades(services, open_only=open_only, limit=limit)
    gathered = [
        trade
        for endpoint in services.endpoints(EXECUTOR)
        for trade in newest_trades(
            services, open_only=open_only, limit=limit, endpoint=endpoint
        ).trades
    ]
    gathered.sort(key=lambda trade: (trade.opened_ns, trade.trade_id))
    newest = tuple(gathered[-limit:])
    oldest = newest[0] if newest else None
    return TradeList(
        newest,
        oldest.opened_ns if oldest else 0,
        oldest.trade_id if oldest else "",
        more=len(gathered) > limit,
    )


def show_trades(
    services: Services,
    *,
    open_only: bool = False,
    limit: int = DEFAULT_LIMIT,
    as_json: bool = False,
    account: str = "",
) -> TradeList:
    """The newest trades; with `account`, only that account's (an executor may trade more than
    one where the console selects its account)."""
    listed = list_trades(services, open_only=open_only, limit=limit)
    if account:
        listed = dataclasses.replace(
            listed, trades=tuple(t for t in listed.trades if t.account == account)
        )
    empty = "no open trades" if open_only else "no trades"
    schedule = CostSchedule(services.settings.commission)
    say_trades(listed.trades, empty, as_json=as_json, schedule=schedule)
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
    add_account_option(parser)
    parser.set_defaults(handler=live(_trades))


def _trades(services: Services, args: argparse.Namespace) -> int:
    show_trades(
        services, open_only=args.open, limit=args.limit, as_json=args.json, account=args.account
    )
    return 0
