"""The broker session at the gateway: login, logout, registered items, the futures list."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, date, datetime

from aftm.domain import limits
from aftm.errors import InvalidInput
from aftm.market.calendar import load_calendar
from aftm.wire.protocol import (
    FutureList,
    GatewayHealth,
    ListFutures,
    Login,
    Logout,
    RegisterItem,
    UnregisterItem,
)
from aftm_console.commands.common import is_interactive, live
from aftm_console.contracts import contract_facts
from aftm_console.errors import ServiceDown
from aftm_console.parsing import Subparsers, add_json_flag
from aftm_console.render import jsonable, printable, say, say_json, say_table
from aftm_console.services import Service, Services

GATEWAY = Service.GATEWAY


# --- operations (the menu calls these too) ---------------------------------------------------


def login(services: Services, user: str, password: str) -> GatewayHealth:
    # The gateway holds both to the same limits; checked here, a typo exits 2 without a request.
    user = limits.check_credential(user.strip(), "user", max_length=limits.MAX_USER_LENGTH)
    limits.check_credential(password, "password", max_length=limits.MAX_PASSWORD_LENGTH)
    # Logging in twice ends in the same session, so a lost reply may be asked again.
    health = services.ask(GATEWAY, Login(user=user, password=password), GatewayHealth, retries=1)
    say(f"logged in to the {printable(health.broker)} broker as {user}")
    return health


def logout(services: Services) -> GatewayHealth:
    health = services.ask(GATEWAY, Logout(), GatewayHealth, retries=1)
    say(f"logged out of the {printable(health.broker)} broker")
    return health


def register_item(services: Services, symbol: str) -> FutureList:
    limits.check_symbol(symbol.strip())
    listed = services.ask(GATEWAY, RegisterItem(symbol.strip()), FutureList, retries=1)
    say(f"registered {symbol.strip()}; ticks flow for: {_registered(listed)}")
    return listed


def unregister_item(services: Services, symbol: str) -> FutureList:
    limits.check_symbol(symbol.strip())
    listed = services.ask(GATEWAY, UnregisterItem(symbol.strip()), FutureList, retries=1)
    say(f"unregistered {symbol.strip()}; ticks flow for: {_registered(listed)}")
    return listed


def prepare_symbol(services: Services, symbol: str) -> str:
    """Refuse a symbol the gateway does not list; register it so its ticks reach the strategy.

    A gateway that does not answer cannot check anything: the condition is still added (the
    strategy keeps it), and what was skipped is returned to be told once it has been.
    """
    try:
        listed = services.ask(Service.GATEWAY, ListFutures(), FutureList, retries=1)
    except ServiceDown as down:
        return f"{down}; so {symbol} was neither checked nor registered for ticks"
    future = next((f for f in listed.futures if f.symbol == symbol), None)
    if future is None:
        known = ", ".join(f.symbol for f in listed.futures) or "none"
        raise InvalidInput("symbol", f"{symbol!r} is not listed at the gateway (listed: {known})")
    if not future.registered:
        services.ask(Service.GATEWAY, RegisterItem(symbol), FutureList, retries=1)
        say(f"registered {symbol} at the gateway so its ticks reach the strategy")
    return ""


def show_futures(
    services: Services, *, as_json: bool = False, now: datetime | None = None
) -> FutureList:
    """The gateway's futures, each with its last trading day and session now (TAIFEX's rules;
    the holiday file of aftm.market, or AFTM_MARKET_CALENDAR)."""
    listed = services.ask(GATEWAY, ListFutures(), FutureList, retries=1)
    calendar = load_calendar()
    at = now or datetime.now(UTC)
    facts = {f.symbol: contract_facts(calendar, f.symbol, at) for f in listed.futures}
    if as_json:
        say_json(
            [
                {
                    **jsonable(f),  # type: ignore[dict-item]
                    "last_trading_day": _iso(facts[f.symbol].last_trading_day),
                    "session": facts[f.symbol].session,
                }
                for f in listed.futures
            ]
        )
    else:
        rows = [
            (
                f.symbol,
                f.name,
                f.point_value_twd,
                f.last_price or None,
                f.registered,
                _iso(facts[f.symbol].last_trading_day),
                facts[f.symbol].session,
            )
            for f in listed.futures
        ]
        headers = (
            "symbol", "name", "TWD/point", "last price", "registered", "last trading day",
            "session now",
        )  # fmt: skip
        say_table(headers, rows, "the gateway lists no futures")
    return listed


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def read_password(*, from_stdin: bool) -> str:
    """From a pipe when asked to, else from the terminal without echo; never from argv."""
    if from_stdin:  # read no further than a password can reach: stdin may be a whole file
        return sys.stdin.readline(limits.MAX_PASSWORD_LENGTH + 2).rstrip("\r\n")
    if is_interactive():
        return getpass.getpass("password: ")
    raise InvalidInput("password", "no terminal to ask on: pipe it in with --password-stdin")


def _registered(listed: FutureList) -> str:
    return ", ".join(f.symbol for f in listed.futures if f.registered) or "none"


# --- subcommands -----------------------------------------------------------------------------


def add_session_commands(commands: Subparsers) -> None:
    parser = commands.add_parser("login", help="log the gateway in to the broker")
    parser.add_argument("--user", help="broker user (asked for on a terminal when left out)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (else asked for without echo)",
    )
    parser.set_defaults(handler=live(_login))
    parser = commands.add_parser("logout", help="log the gateway out of the broker")
    parser.set_defaults(handler=live(lambda services, args: _done(logout(services))))
    _add_items(commands)
    parser = commands.add_parser("futures", help="the futures the gateway lists, last prices")
    add_json_flag(parser)
    parser.set_defaults(
        handler=live(lambda services, args: _done(show_futures(services, as_json=args.json)))
    )


def _add_items(commands: Subparsers) -> None:
    parser = commands.add_parser("items", help="register or unregister symbols for ticks")
    items: Subparsers = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = items.add_parser("add", help="register SYMBOL: its ticks flow to the strategy")
    add.add_argument("symbol", metavar="SYMBOL")
    add.set_defaults(
        handler=live(lambda services, args: _done(register_item(services, args.symbol)))
    )
    remove = items.add_parser("rm", help="unregister SYMBOL: its ticks stop")
    remove.add_argument("symbol", metavar="SYMBOL")
    remove.set_defaults(
        handler=live(lambda services, args: _done(unregister_item(services, args.symbol)))
    )


def _login(services: Services, args: argparse.Namespace) -> int:
    user: str | None = args.user
    if user is None:
        if not is_interactive():
            raise InvalidInput("user", "is missing: pass --user")
        user = input("user: ")
    login(services, user, read_password(from_stdin=args.password_stdin))
    return 0


def _done(result: object) -> int:
    return 0
