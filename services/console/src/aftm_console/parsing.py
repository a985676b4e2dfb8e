"""The argument parser every `aftm` subcommand plugs into.

A bad command line raises `UsageError` (one line, exit 2) instead of argparse's usage-and-exit,
so `cli.main` reports every failure the same way.
"""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias


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
    """An argparse type: a whole number >= 1 (a lot count)."""
    try:
        number = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def a_symbol(text: str) -> str:
    """An argparse type: a symbol such as TXFL6, never empty nor holding blanks."""
    symbol = text.strip()
    if not symbol:
        raise argparse.ArgumentTypeError("must not be empty, e.g. TXFL6")
    if not symbol.isprintable() or any(char.isspace() for char in symbol):
        raise argparse.ArgumentTypeError(f"{text!r} is not a symbol, e.g. TXFL6")
    return symbol
