"""Manual market orders straight to the gateway, and the gateway's orders and positions."""

from __future__ import annotations

import argparse
import time

from aftm.domain.orders import PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus, Side
from aftm.errors import InvalidInput
from aftm.wire.protocol import (
    ErrorCode,
    ListOrders,
    ListPositions,
    OrderList,
    OrderSnapshot,
    PositionList,
)
from aftm_console.commands.accounts import list_accounts, selected_account
from aftm_console.commands.common import live, new_client_order_id
from aftm_console.errors import ConsoleError, OrderOutcomeUnknown, ServiceDown, ServiceRefused
from aftm_console.parsing import Subparsers, add_json_flag, at_least_one
from aftm_console.render import ORDER_HEADERS, order_row, say, say_json, say_table
from aftm_console.services import Service, Services

GATEWAY = Service.GATEWAY


# --- operations (the menu calls these too) ---------------------------------------------------


def send_market_order(
    services: Services, symbol: str, side: Side, quantity: int, account: str = ""
) -> OrderSnapshot:
    """One market order under one new client order id; a retry reuses that id (deduplicated)."""
    if quantity < 1:
        raise InvalidInput("quantity", f"must be at least 1, got {quantity}")
    account = account.strip() or default_account(services)
    order = PlaceOrder(
        client_order_id=new_client_order_id(),
        account=account,
        symbol=symbol.strip(),
        side=side,
        quantity=quantity,
        ts_ns=time.time_ns(),
    )
    say(
        f"sending order {order.client_order_id}: market {side} {quantity} {order.symbol} "
        f"on account {account}"
    )
    try:
        snapshot = services.ask(GATEWAY, order, OrderSnapshot, retries=1)
    except ServiceDown:
        why = (
            f"the gateway at {services.endpoint(GATEWAY)} did not answer within "
            f"{services.settings.timeout_ms} ms"
        )
        raise OrderOutcomeUnknown(order.client_order_id, why) from None
    except ServiceRefused as refused:
        if refused.code is ErrorCode.UNAVAILABLE:  # the broker did not answer the gateway
            why = f"the gateway could not get an answer from the broker ({refused.error})"
            raise OrderOutcomeUnknown(order.client_order_id, why) from None
        raise
    _report(snapshot)
    return snapshot


def default_account(services: Services) -> str:
    """The executor's selected account, else the broker session's only account."""
    try:
        selected = selected_account(services)
    except (ServiceDown, ServiceRefused):
        selected = ""
    if selected:
        return selected
    accounts = list_accounts(services)
    if len(accounts) == 1:
        return accounts[0]
    known = ", ".join(accounts) or "none"
    raise InvalidInput("account", f"choose one with --account (accounts: {known})")


def show_orders(services: Services, *, as_json: bool = False) -> OrderList:
    listed = services.ask(GATEWAY, ListOrders(), OrderList, retries=1)
    if as_json:
        say_json(listed.orders)
        return listed
    rows = [order_row(o) for o in listed.orders]
    say_table(("client order id", *ORDER_HEADERS), rows, "no orders")
    return listed


def show_positions(
    services: Services, account: str = "", *, as_json: bool = False
) -> tuple[Position, ...]:
    listed = services.ask(GATEWAY, ListPositions(account.strip()), PositionList, retries=1)
    if as_json:
        say_json(listed.positions)
    else:
        rows = [(p.account, p.symbol, p.net_quantity, p.average_price) for p in listed.positions]
        say_table(("account", "symbol", "net qty", "avg price"), rows, "no positions")
    return listed.positions


def _report(snapshot: OrderSnapshot) -> None:
    order = snapshot.client_order_id
    if snapshot.status is OrderStatus.REJECTED:
        raise ConsoleError(f"order {order} was rejected: {snapshot.reason or 'no reason given'}")
    fill = ""
    if snapshot.filled_quantity:
        fill = f", {snapshot.filled_quantity} filled at {snapshot.average_price}"
    say(f"order {order} {snapshot.status}{fill} (broker order {snapshot.broker_order_id or '-'})")


# --- subcommands -----------------------------------------------------------------------------


def add_order_commands(commands: Subparsers) -> None:
    parser = commands.add_parser("order", help="send a market order straight to the gateway")
    parser.add_argument("--symbol", required=True, help="e.g. TXFL6")
    parser.add_argument("--side", required=True, choices=("buy", "sell"))
    parser.add_argument("--quantity", required=True, type=at_least_one, metavar="LOTS")
    parser.add_argument("--account", default="", help="default: the executor's selected account")
    parser.set_defaults(handler=live(_order))
    listing = commands.add_parser("orders", help="every order the gateway knows")
    add_json_flag(listing)
    listing.set_defaults(handler=live(_orders))
    positions = commands.add_parser("positions", help="net positions per account and symbol")
    positions.add_argument("--account", default="", help="default: every account")
    add_json_flag(positions)
    positions.set_defaults(handler=live(_positions))


def _order(services: Services, args: argparse.Namespace) -> int:
    send_market_order(services, args.symbol, Side(args.side), args.quantity, args.account)
    return 0


def _orders(services: Services, args: argparse.Namespace) -> int:
    show_orders(services, as_json=args.json)
    return 0


def _positions(services: Services, args: argparse.Namespace) -> int:
    show_positions(services, args.account, as_json=args.json)
    return 0
