"""The seed's numbered menu, on top of the very operations the subcommands call.

Every answer is checked where it is typed: a wrong one is explained and asked again; an empty
answer to a required question goes back to the menu; end of input (Ctrl-D, a closed pipe) ends
the menu cleanly. A refused or unanswered request prints its one line and the menu goes on.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TypeVar

from aftm.domain.types import Side
from aftm.errors import AftmError, InvalidInput
from aftm.market.prices import whole_points
from aftm.wire.protocol import Reconciliation, TradingMode
from aftm_console.book import adoption_question
from aftm_console.commands import (
    accounts,
    brakes,
    conditions,
    orders,
    reconciliation,
    session,
    trades,
)
from aftm_console.commands.common import live
from aftm_console.errors import ConsoleError
from aftm_console.executors import choose_by_account, each_executor
from aftm_console.parsing import Subparsers
from aftm_console.render import say
from aftm_console.run.command import RunOptions, run_all
from aftm_console.services import Services

T = TypeVar("T")
# The seed's numbers keep their meaning; the executor's entries fill the gap at 9 and follow 10.
# 8 shows the executor's book beside the broker's (the seed showed the broker's alone).
MENU = """
AFTM
   1 login                  2 logout
   3 register item          4 create condition
   5 select order account   6 send market order
   7 show futures           8 show positions
   9 show trades           10 start all-in-one
  11 halt trading          12 resume trading
  13 flatten positions     14 reconcile positions
   0 exit"""


class Cancelled(Exception):
    """An empty answer to a required question: back to the menu."""


def run_menu(services: Services, start_all: Callable[[], int]) -> int:
    entries: dict[str, Callable[[Services], object]] = {
        "1": _login,
        "2": session.logout,
        "3": lambda s: session.register_item(s, _ask("symbol", _text)),
        "4": _create_condition,
        "5": _select_account,
        "6": _market_order,
        "7": session.show_futures,
        "8": reconciliation.show_positions,
        "9": trades.show_trades,
        "10": lambda s: start_all(),
        "11": lambda s: each_executor(s, lambda: brakes.set_mode(s, TradingMode.HALTED)),
        "12": lambda s: each_executor(s, lambda: brakes.set_mode(s, TradingMode.ACTIVE)),
        "13": _flatten,
        "14": _reconcile,
    }
    say(MENU)
    while True:
        try:
            choice = input("choice: ").strip()
        except EOFError:
            say()
            return 0
        if choice == "0":
            return 0
        if not choice:
            continue
        entry = entries.get(choice)
        if entry is None:
            say(f"{choice!r} is not on the menu: choose one of its numbers")
            continue
        services.forget_choices()  # an account picked for one entry is not the next one's
        try:
            entry(services)
        except EOFError:
            say()
            return 0
        except Cancelled:
            say("cancelled")
        except ConsoleError as failed:
            say(f"aftm: {failed}")
        except AftmError as refused:
            say(f"aftm: error: {refused}")
        say(MENU)


# --- entries that ask questions first --------------------------------------------------------


def _login(services: Services) -> None:
    user = _ask("user", _text)
    session.login(services, user, _secret("password: "))


def _create_condition(services: Services) -> None:
    fields: dict[str, object] = {
        "symbol": _ask("symbol", _text),
        "action": _ask("action (buy/sell)", _side).value,
        "trigger_price": _ask("trigger price", _positive),
        "quantity": _ask("quantity", _positive),
        "turning_point": _ask("turning point [15]", _points, default=15),
        "take_profit_point": _ask("take profit points [90]", _points, default=90),
        "stop_loss_point": _ask("stop loss points [30]", _points, default=30),
        "is_following": _ask("following (y/n) [n]", _yes, default=False),
    }
    conditions.add_condition(services, fields)


def _select_account(services: Services) -> None:
    accounts.show_accounts(services)
    account = _ask("account", _text)
    choose_by_account(services, account)  # with several executors: the one trading it
    accounts.use_account(services, account)


def _market_order(services: Services) -> None:
    symbol = _ask("symbol", _text)
    side = _ask("side (buy/sell)", _side)
    quantity = _ask("quantity", _positive)
    account = _ask("account [the selected one]", _text, default="")
    if account:
        choose_by_account(services, account)  # with several executors: the one trading it
    orders.send_market_order(services, symbol, side, quantity, account)


def _flatten(services: Services) -> None:
    symbol = _ask("symbol [every symbol]", _text, default="")
    scope = f"every open {symbol} position" if symbol else "every open position"
    if not _ask(f"close {scope} at market? (y/n)", _yes):
        raise Cancelled
    each_executor(services, lambda: brakes.flatten(services, symbol))


def _reconcile(services: Services) -> None:
    def confirm(found: Reconciliation) -> bool:
        return _ask(f"{adoption_question(found)}? (y/n)", _yes)

    reconciliation.adopt_broker_figures(services, confirm)


# --- questions -------------------------------------------------------------------------------


def _ask(label: str, parse: Callable[[str], T], *, default: T | None = None) -> T:
    """Ask until `parse` accepts the answer; empty means `default`, or Cancelled without one."""
    while True:
        text = input(f"{label}: ").strip()
        if not text:
            if default is None:
                raise Cancelled
            return default
        try:
            return parse(text)
        except InvalidInput as wrong:
            say(f"  {wrong.message}; try again (empty answer: back to the menu)")


def _secret(prompt: str) -> str:
    """Without echo on a terminal; from the next input line otherwise (a script, a test)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


def _text(text: str) -> str:
    return text


def _side(text: str) -> Side:
    if text.lower() not in {side.value for side in Side}:
        raise InvalidInput("side", f"{text!r} is not buy or sell")
    return Side(text.lower())


def _positive(text: str) -> int:
    number = whole_points(text, "value")
    if number < 1:
        raise InvalidInput("value", f"must be at least 1, got {number}")
    return number


def _points(text: str) -> int:
    number = whole_points(text, "value")
    if number < 0:
        raise InvalidInput("value", f"must be at least 0, got {number}")
    return number


def _yes(text: str) -> bool:
    answer = text.lower()
    if answer not in {"y", "yes", "n", "no"}:
        raise InvalidInput("value", f"{text!r} is not y or n")
    return answer in {"y", "yes"}


# --- the `menu` subcommand (also what a bare `aftm` runs on a terminal) -----------------------


def _menu(services: Services, args: argparse.Namespace) -> int:
    return run_menu(services, lambda: run_all(services.settings, RunOptions()))


menu_handler = live(_menu)


def add_menu_command(commands: Subparsers) -> None:
    parser = commands.add_parser("menu", help="the numbered menu (the default on a terminal)")
    parser.set_defaults(handler=menu_handler)
