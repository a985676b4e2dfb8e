"""Manual market orders through the executor, and the gateway's orders.

A manual order is a trade of the executor's own: it passes the same risk checks as a signal's
entry and its fills count in the executor's net position, which an order sent straight to the
gateway would bypass.
"""

from __future__ import annotations

import argparse
import time

from aftm.domain import limits
from aftm.domain.types import OrderType, Side
from aftm.errors import InvalidInput
from aftm.wire.protocol import ErrorCode, ManualOrder, OrderList, TradeView
from aftm_console.commands.common import live, new_client_order_id
from aftm_console.commands.trades import UNSETTLED_STATES, describe, list_trades, reason
from aftm_console.errors import ConsoleError, OrderOutcomeUnknown, ServiceDown, ServiceRefused
from aftm_console.paging import every_order
from aftm_console.parsing import Subparsers, a_symbol, add_json_flag, market_lots
from aftm_console.render import ORDER_HEADERS, order_row, say, say_json, say_table, warn
from aftm_console.services import Service, Services

GATEWAY = Service.GATEWAY
EXECUTOR = Service.EXECUTOR
# How often to look at a trade whose entry is still working: the executor publishes no trade
# updates, so the console asks; a market order usually settles within a few looks.
FOLLOW_INTERVAL_S = 0.1
FOLLOW_LIMIT = 50  # the newest trades hold the one just opened


# --- operations (the menu calls these too) ---------------------------------------------------


def send_market_order(
    services: Services, symbol: str, side: Side, quantity: int, account: str = ""
) -> TradeView:
    """One market order under one new order id, placed by the executor as a manual trade.

    A time-out is retried once under the same id, which the executor deduplicates: a repeat
    answers the trade the first request opened and places nothing new.
    """
    symbol = symbol.strip()
    if not symbol:
        raise InvalidInput("symbol", "must not be empty, e.g. TXFL6")
    # The executor checks the same limits; checked here too, a typo exits 2 without a request.
    limits.check_symbol(symbol)
    limits.check_quantity(quantity, order_type=OrderType.MARKET)
    if account.strip():
        limits.check_account(account.strip())
    order = ManualOrder(new_client_order_id(), symbol, side, quantity, account.strip())
    say(
        f"sending order {order.order_id}: market {side} {quantity} {symbol} through the "
        f"executor on {order.account or 'its selected account'}"
    )
    try:
        trade = services.ask(EXECUTOR, order, TradeView, retries=1)
    except ServiceDown:
        why = (
            f"the executor at {services.endpoint(EXECUTOR)} did not answer "
            f"(asked twice, {services.settings.timeout_ms} ms each)"
        )
        raise OrderOutcomeUnknown(order.order_id, why) from None
    except ServiceRefused as refused:
        if refused.code is ErrorCode.UNAVAILABLE:  # the gateway or broker did not answer it
            why = f"the executor could not learn it: {refused.error}"
            raise OrderOutcomeUnknown(order.order_id, why) from None
        raise
    trade = _follow(services, trade)
    _report(order.order_id, trade)
    return trade


def _follow(services: Services, trade: TradeView) -> TradeView:
    """The trade once its entry has settled, or as last seen when the time-out runs out.

    The order is already with the executor, so a failure to look again is only a warning.
    """
    deadline = time.monotonic() + services.settings.timeout_ms / 1000
    while trade.state in UNSETTLED_STATES and time.monotonic() < deadline:
        time.sleep(FOLLOW_INTERVAL_S)
        try:
            listed = list_trades(services, limit=FOLLOW_LIMIT)
        except (ServiceDown, ServiceRefused) as failed:
            warn(f"could not follow trade {trade.trade_id}: {failed}")
            return trade
        same = [t for t in listed.trades if t.trade_id == trade.trade_id]
        if not same:
            return trade
        trade = same[0]
    return trade


def _report(order_id: str, trade: TradeView) -> None:
    say(describe(trade))
    if trade.state == "done" and trade.entry_filled == 0:
        why = reason(trade) or "no reason given"
        raise ConsoleError(f"order {order_id} filled nothing: {why}")
    if trade.state in UNSETTLED_STATES:
        say("the entry is still working; follow it with: aftm trades --open")


def show_orders(services: Services, *, as_json: bool = False) -> OrderList:
    listed = OrderList(every_order(services))
    if as_json:
        say_json(listed.orders)
        return listed
    rows = [order_row(o) for o in listed.orders]
    say_table(("client order id", *ORDER_HEADERS), rows, "no orders")
    return listed


# --- subcommands -----------------------------------------------------------------------------


def add_order_commands(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "order", help="send a market order through the executor (risk checked, a trade of its own)"
    )
    parser.add_argument("--symbol", required=True, type=a_symbol, help="e.g. TXFL6")
    parser.add_argument("--side", required=True, choices=("buy", "sell"))
    parser.add_argument("--quantity", required=True, type=market_lots, metavar="LOTS")
    parser.add_argument(
        "--account",
        default="",
        help="default: the executor's selected account; with several executors, the one"
        " trading ACCOUNT (required)",
    )
    parser.set_defaults(handler=live(_order), picks_executor=True)
    listing = commands.add_parser("orders", help="every order the gateway knows")
    add_json_flag(listing)
    listing.set_defaults(handler=live(_orders))


def _order(services: Services, args: argparse.Namespace) -> int:
    send_market_order(services, args.symbol, Side(args.side), args.quantity, args.account)
    return 0


def _orders(services: Services, args: argparse.Namespace) -> int:
    show_orders(services, as_json=args.json)
    return 0
