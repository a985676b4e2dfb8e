"""The `aftm` command: arguments in, one line per error out, exit codes. The work lives elsewhere.

Each subcommand is a function that adds its parser and sets `handler`; a new subcommand is one
more such function in `SUBCOMMANDS`. Any bad input (a file, an option, a setting) ends with
exactly one line `aftm: error: ...` on stderr and exit code 2; a service that refused a request
exits 1 and one that did not answer exits 3, each with one line `aftm: ...` (errors.py); a
traceback means a bug in aftm. Without a subcommand, a terminal gets the menu, anything else
the help.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aftm.domain.limits import MAX_POINTS
from aftm.errors import AftmError, InvalidInput
from aftm.market.costs import MAX_COMMISSION_TWD, CostSchedule
from aftm.market.prices import whole_points
from aftm.version import describe
from aftm_console.backtest.report import DEFAULT_POINT_VALUES
from aftm_console.backtest.runner import Backtest, Summary, run
from aftm_console.commands.accounts import add_account_commands
from aftm_console.commands.brakes import add_brake_commands
from aftm_console.commands.conditions import add_condition_commands
from aftm_console.commands.keys import add_key_commands
from aftm_console.commands.orders import add_order_commands
from aftm_console.commands.reconciliation import add_reconciliation_commands
from aftm_console.commands.session import add_session_commands
from aftm_console.commands.status import add_status_command
from aftm_console.commands.trades import add_trade_commands
from aftm_console.errors import ConsoleError
from aftm_console.menu import add_menu_command, menu_handler
from aftm_console.parsing import Parser as _Parser
from aftm_console.parsing import Subparsers, UsageError
from aftm_console.run.command import add_run_command

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
# Below this size a backtest finishes before a progress bar would tell anything.
PROGRESS_MIN_BYTES = 10_000_000
# What an error line repeats of a file name, and the longest line it prints (the values in
# errors are shortened where they are made; this is the last guard).
_LONGEST_NAME = 200
_LONGEST_LINE = 1000
# A product code (TXF) or a whole symbol (TXFL6): what a symbol may start with.
_PRODUCT = re.compile(r"[A-Z0-9]{1,5}")
# A stock future's point (2,000 shares) is worth 2,000 TWD, the most on TAIFEX; this leaves room
# without letting a typo's P&L run to numbers a report reader cannot hold.
MAX_POINT_VALUE_TWD = 1_000_000


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace], int] | None = args.handler
        if handler is None:
            if not sys.stdin.isatty():
                parser.print_help()
                return EXIT_OK
            handler = menu_handler
        return handler(args)
    except ConsoleError as failed:
        sys.stderr.write(f"aftm: {_one_line(failed)}\n")
        return failed.exit_code
    except (UsageError, AftmError, OSError) as error:
        sys.stderr.write(f"aftm: error: {_one_line(error)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("aftm: interrupted\n")
        return EXIT_INTERRUPTED
    except SystemExit as done:  # --help and --version exit through argparse
        return done.code if isinstance(done.code, int) else EXIT_OK


def build_parser() -> _Parser:
    parser = _Parser(prog="aftm", description="AFTM: automatic TAIFEX futures trading.")
    parser.set_defaults(handler=None)
    parser.add_argument(
        "--version", action=_VersionAction, help="print the version and source commit, then exit"
    )
    commands: Subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(commands)
    return parser


class _VersionAction(argparse.Action):
    """`aftm --version`: asks git only when given (argparse's own action takes a ready string)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(describe() + "\n")
        parser.exit()


def _add_backtest(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "backtest",
        help="replay a tick file through conditions; write signals, a report and a plot",
        description="Replay TICKS.csv through the conditions in CONDITIONS.json with the live "
        "strategy engine. Fills are assumed at the signal price, SLIPPAGE points worse.",
        allow_abbrev=False,
    )
    _add_backtest_files(parser)
    _add_backtest_options(parser)
    parser.set_defaults(handler=_backtest)


def _add_backtest_files(parser: _Parser) -> None:
    parser.add_argument(
        "--ticks",
        type=Path,
        required=True,
        metavar="TICKS.csv",
        help="CSV with a header naming ts, symbol, price, qty",
    )
    parser.add_argument(
        "--conditions",
        type=Path,
        required=True,
        metavar="CONDITIONS.json",
        help="JSON list of condition objects",
    )
    parser.add_argument(
        "--signals",
        type=Path,
        required=True,
        metavar="SIGNALS.jsonl",
        help="where to write one JSON line per signal, as it fires",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="REPORT.json",
        help="where to write trades and P&L per condition and in total",
    )
    parser.add_argument(
        "--plot", type=Path, metavar="EQUITY.png", help="where to draw the realised equity curve"
    )


def _add_backtest_options(parser: _Parser) -> None:
    parser.add_argument(
        "--slippage",
        type=_slippage,
        default=0,
        metavar="POINTS",
        help="whole points each fill is worse than the signal (default 0)",
    )
    defaults = ", ".join(f"{k}={v}" for k, v in DEFAULT_POINT_VALUES.items())
    parser.add_argument(
        "--point-value",
        type=_point_value,
        action="append",
        default=[],
        metavar="PRODUCT=TWD",
        help=f"TWD per point for symbols starting with PRODUCT; repeatable; "
        f"the longest matching PRODUCT wins (defaults: {defaults})",
    )
    parser.add_argument(
        "--commission",
        type=_commission,
        action="append",
        default=[],
        metavar="PRODUCT=TWD",
        help="the broker's commission per lot and side for symbols starting with PRODUCT;"
        " repeatable (default 0); the futures transaction tax (0.002 %% a side) always applies",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: only on a terminal and for files over 10 MB)",
    )


SUBCOMMANDS: Sequence[Callable[[Subparsers], None]] = (
    _add_backtest,
    add_session_commands,
    add_condition_commands,
    add_account_commands,
    add_order_commands,
    add_reconciliation_commands,
    add_trade_commands,
    add_brake_commands,
    add_status_command,
    add_key_commands,
    add_menu_command,
    add_run_command,
)


def _backtest(args: argparse.Namespace) -> int:
    progress: bool | None = args.progress
    backtest = Backtest(
        ticks=args.ticks,
        conditions=args.conditions,
        signals=args.signals,
        report=args.report,
        plot=args.plot,
        slippage=args.slippage,
        point_values=dict(DEFAULT_POINT_VALUES) | dict(args.point_value),
        costs=CostSchedule(dict(args.commission)),
        progress=_should_show_progress(args.ticks) if progress is None else progress,
    )
    summary = run(backtest, progress_to=sys.stderr)
    sys.stdout.write(_summary_text(backtest, summary))
    return EXIT_OK


def _should_show_progress(ticks: Path) -> bool:
    try:
        return sys.stderr.isatty() and os.path.getsize(ticks) > PROGRESS_MIN_BYTES
    except OSError:  # reported properly when the file is opened
        return False


def _summary_text(backtest: Backtest, summary: Summary) -> str:
    total = summary.total
    lines = [
        f"ticks read: {summary.ticks:,} from {backtest.ticks}",
        f"signals:    {summary.signals:,} -> {backtest.signals}",
        f"trades:     {total.trades:,} closed ({total.wins:,} won, {total.losses:,} lost), "
        f"{summary.open_positions:,} still open",
        f"P&L:        {total.pnl_twd:+,} TWD ({total.pnl_points:+,} points x lots), "
        f"max drawdown {total.max_drawdown_twd:,} TWD",
        f"costs:      {total.costs_twd:,} TWD (commission and transaction tax, both sides); "
        f"net P&L {total.net_pnl_twd:+,} TWD",
    ]
    if backtest.report is not None:
        lines.append(f"report:     {backtest.report}")
    if backtest.plot is not None:
        lines.append(f"plot:       {backtest.plot}")
    return "\n".join(lines) + "\n"


def _slippage(text: str) -> int:
    points = _whole(text)
    if not 0 <= points <= MAX_POINTS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_POINTS} points, got {points}")
    return points


def _point_value(text: str) -> tuple[str, int]:
    return _product_twd(text, 1, MAX_POINT_VALUE_TWD, example="TXF=200")


def _commission(text: str) -> tuple[str, int]:
    return _product_twd(text, 0, MAX_COMMISSION_TWD, example="TXF=50")


def _product_twd(text: str, least: int, most: int, *, example: str) -> tuple[str, int]:
    """A `PRODUCT=TWD` option value with TWD in least..most."""
    product, sep, value = text.partition("=")
    product = product.strip()
    if not sep or not _PRODUCT.fullmatch(product):
        shown = repr(text[:30]) if len(text) <= 30 else f"{text[:27]!r}..."
        raise argparse.ArgumentTypeError(f"{shown} is not PRODUCT=TWD, e.g. {example}")
    twd = _whole_or_zero(value) if least == 0 else _whole(value)
    if not least <= twd <= most:
        raise argparse.ArgumentTypeError(f"{product}: must be {least} to {most} TWD, got {twd}")
    return product, twd


def _whole_or_zero(text: str) -> int:
    return 0 if text.strip() == "0" else _whole(text)


def _whole(text: str) -> int:
    try:
        return whole_points(text, "value")
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _one_line(error: BaseException) -> str:
    """The error as one line a terminal shows as it is: control characters escaped (a file
    name or a service's reply may hold any), a file name shortened in the middle."""
    if isinstance(error, OSError) and error.filename is not None:
        name = str(error.filename)
        if len(name) > _LONGEST_NAME:
            half = _LONGEST_NAME // 2
            name = f"{name[:half]}...{name[-half:]}"
        text = f"{name}: {error.strerror or error}"
    else:
        text = str(error) or type(error).__name__
    line = " ".join(text.splitlines())
    line = "".join(char if char.isprintable() else repr(char)[1:-1] for char in line)
    return line if len(line) <= _LONGEST_LINE else f"{line[: _LONGEST_LINE - 3]}..."
