"""The argument parser every `aftm` subcommand plugs into.

A bad command line raises `UsageError` (one line, exit 2) instead of argparse's usage-and-exit,
so `cli.main` reports every failure the same way.
"""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias

from aftm.domain import limits
from aftm.domain.limits import INT64_MAX
from aftm.domain.types import OrderType
from aftm.errors import InvalidInput


class UsageError(Exception):
    """The command line itself is wrong (raised instead of argparse's print-usage-and-exit)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# argparse's type for the object add_subparsers returns has no public name (nor, at run time,
# a subscriptable one: hence the string).
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print JSON for scripts instead of a table"
    )


def at_least_one(text: str) -> int:
    """An argparse type: a whole number from 1 to what 64 bits hold (a count, a limit)."""
    number = _whole_number(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    if number > INT64_MAX:
        raise argparse.ArgumentTypeError(f"must be 1 to {INT64_MAX}, got {number}")
    return number


def market_lots(text: str) -> int:
    """An argparse type: lots of one market order, 1 to TAIFEX's limit (limits.py)."""
    number = _whole_number(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    try:
        return limits.check_quantity(number, order_type=OrderType.MARKET)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(error.message) from None


def an_account(text: str) -> str:
    """An argparse type: an account in the shared shape (limits.py), or "" for none given."""
    account = text.strip()
    if not account:
        return ""
    try:
        return limits.check_account(account)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _whole_number(text: str) -> int:
    """Plain ASCII digits with an optional sign: int() would also take other scripts' digits,
    1_000, and thousands of digits that take it long to read."""
    digits = text.strip().removeprefix("+")
    negative = digits.startswith("-")
    digits = digits.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a whole number")
    if len(digits.lstrip("0")) > len(str(INT64_MAX)):
        raise argparse.ArgumentTypeError(f"{_shown(text)} does not fit 64 bits")
    return -int(digits) if negative else int(digits)


def a_symbol(text: str) -> str:
    """An argparse type: a symbol such as TXFL6, never empty nor holding blanks."""
    symbol = text.strip()
    if not symbol:
        raise argparse.ArgumentTypeError("must not be empty, e.g. TXFL6")
    if not symbol.isprintable() or any(char.isspace() for char in symbol):
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a symbol, e.g. TXFL6")
    return symbol


def _shown(text: str) -> str:
    """`text` as an error repeats it: quoted, escaped, and cut short."""
    shown = repr(text[:41])
    return shown if len(shown) <= 40 else f"{shown[:37]}..."
