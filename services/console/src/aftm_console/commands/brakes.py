"""The operator's brakes on the executor: its trading mode, and flattening every open trade.

Both go to the executor, never to the gateway, so that what it closes is what it holds: a
flatten runs through the executor's trade lifecycle and works even while it is halted.
"""

from __future__ import annotations

import argparse

from aftm.domain import limits
from aftm.wire.protocol import ErrorCode, ExecutorStatus, Flatten, SetTradingMode, TradeList
from aftm.wire.protocol import TradingMode as Mode
from aftm_console.commands.common import Handler, is_interactive, live
from aftm_console.commands.trades import say_trades
from aftm_console.errors import ConsoleError, OutcomeUnknown, ServiceDown, ServiceRefused
from aftm_console.executors import add_account_option, each_executor
from aftm_console.parsing import Subparsers, UsageError, a_symbol
from aftm_console.render import say
from aftm_console.services import Service, Services

EXECUTOR = Service.EXECUTOR
MEANINGS = {
    Mode.ACTIVE: "entries and exits",
    Mode.REDUCING: "only orders that reduce a position",
    Mode.HALTED: "no new orders; exits are held; aftm flatten still closes",
}


# --- operations (the menu calls these too) ---------------------------------------------------


def set_mode(services: Services, mode: Mode) -> ExecutorStatus:
    # Setting the same mode twice leaves the same mode: safe to ask again.
    status = services.ask(EXECUTOR, SetTradingMode(mode), ExecutorStatus, retries=1)
    which = _which(services, status.account)
    say(f"the executor{which}'s trading mode is now {status.mode} ({MEANINGS[status.mode]})")
    return status


def _which(services: Services, account: str) -> str:
    """ " of account X" where several executors are listed: whose answer this is."""
    return f" of account {account or '(none)'}" if len(services.endpoints(EXECUTOR)) > 1 else ""


def flatten(services: Services, symbol: str = "") -> TradeList:
    """Cancel working orders and close every open trade at market (one symbol, or all).

    Not retried on a time-out: it cancels working orders, so a blind repeat could cancel the
    closing orders the first request placed; a person checks the trades and decides.
    """
    if symbol:
        limits.check_symbol(symbol)
    scope = f"{symbol} positions" if symbol else "every position"
    try:
        listed = services.ask(EXECUTOR, Flatten(symbol), TradeList)
    except ServiceDown:
        why = (
            f"the executor at {services.endpoint(EXECUTOR)} did not answer within "
            f"{services.settings.timeout_ms} ms"
        )
        raise _unknown(scope, why) from None
    except ServiceRefused as refused:
        if refused.code is ErrorCode.UNAVAILABLE:
            raise _unknown(scope, f"the executor could not finish: {refused.error}") from None
        raise
    if listed.trades:
        say(f"closing {scope} at market: {len(listed.trades)} trade(s)")
    say_trades(listed.trades, f"nothing to close: no open trade holds {scope}")
    return listed


def _unknown(scope: str, why: str) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"whether the executor is closing {scope}",
        why,
        "aftm trades --open (then flatten again if trades are still open)",
    )


def confirm_flatten(symbol: str) -> None:
    """Closing positions at market cannot be undone: a person says yes on a terminal, a script
    with --yes. UsageError (exit 2) without either, ConsoleError when the answer is no."""
    if not is_interactive():
        raise UsageError(
            "flatten closes positions at market and there is no terminal to confirm on: pass --yes"
        )
    scope = f"every open {symbol} position" if symbol else "every open position"
    try:
        answer = input(f"close {scope} at market? [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    if answer not in {"y", "yes"}:
        raise ConsoleError("flatten not confirmed: nothing was sent")


# --- subcommands -----------------------------------------------------------------------------


def add_brake_commands(commands: Subparsers) -> None:
    halt = commands.add_parser("halt", help="stop the executor placing orders (mode halted)")
    add_account_option(halt)
    halt.set_defaults(handler=_mode_handler(Mode.HALTED))
    resume = commands.add_parser("resume", help="let the executor trade again (mode active)")
    add_account_option(resume)
    resume.set_defaults(handler=_mode_handler(Mode.ACTIVE))
    mode = commands.add_parser(
        "mode",
        help="set the executor's trading mode",
        description="; ".join(f"{m}: {meaning}" for m, meaning in MEANINGS.items()),
    )
    mode.add_argument(
        "mode", choices=[m.value for m in Mode], metavar="MODE", help="active, reducing or halted"
    )
    add_account_option(mode)
    mode.set_defaults(handler=live(_set_mode))
    flat = commands.add_parser(
        "flatten",
        help="cancel working orders and close open trades at market (works while halted)",
    )
    # No "" default: argparse would pass a string default through a_symbol, which refuses it.
    flat.add_argument("--symbol", type=a_symbol, help="default: every symbol")
    flat.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_account_option(flat)
    flat.set_defaults(handler=_flatten_handler)


def _mode_handler(mode: Mode) -> Handler:
    def action(services: Services, args: argparse.Namespace) -> int:
        each_executor(services, lambda: set_mode(services, mode))
        return 0

    return live(action)


def _flatten_handler(args: argparse.Namespace) -> int:
    # Confirmed before the settings are read or any service is asked anything.
    if not args.yes:
        confirm_flatten(args.symbol or "")
    return live(_flatten)(args)


def _set_mode(services: Services, args: argparse.Namespace) -> int:
    each_executor(services, lambda: set_mode(services, Mode(args.mode)))
    return 0


def _flatten(services: Services, args: argparse.Namespace) -> int:
    each_executor(services, lambda: flatten(services, args.symbol or ""))
    return 0
