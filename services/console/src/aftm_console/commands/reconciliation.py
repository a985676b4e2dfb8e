"""`aftm positions` and `aftm reconcile`: the executor's book beside the broker's positions.

Both ask the executor to reconcile now (it asks the gateway for the broker's orders, fills and
positions, applies fills it missed and asks again about orders still working) and show what it
found (book.py). The broker's figures come only through the executor, so neither side is shown
without the other: when the executor, or the gateway behind it, does not answer, the command
says so and fails rather than show half a picture.

With several executors (one per account) and no --account, every executor reconciles and the
rows of each one's account are shown together (executors.merged); --accept needs --account.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from aftm.wire.protocol import Reconcile, ReconcileState, Reconciliation
from aftm_console.book import (
    adoption_question,
    differing,
    document,
    is_compared,
    say_reconciliation,
    text,
)
from aftm_console.commands.common import is_interactive, live
from aftm_console.errors import (
    EXIT_NOT_COMPARED,
    AdoptionUnknown,
    ConsoleError,
    NotCompared,
    ReconcileFailed,
    ServiceDown,
    ServiceRefused,
)
from aftm_console.executors import add_account_option, is_several, merged, statuses
from aftm_console.parsing import Subparsers, UsageError, add_json_flag, an_account
from aftm_console.render import say, say_json
from aftm_console.services import Service, Services

EXECUTOR = Service.EXECUTOR
# A reconciliation is several gateway requests in a row (orders, fills, positions per account),
# each under the executor's own time-out: the console waits for that many.
TIMEOUT_FACTOR = 4
EXIT_AGREED = 0
EXIT_DIFFERS = 1
Confirm = Callable[[Reconciliation], bool]


def exit_status(found: Reconciliation) -> int:
    """`aftm reconcile`'s exit status: 0 agreed, 1 a difference remains, 2 nothing compared."""
    if found.state is ReconcileState.AGREED:
        return EXIT_AGREED
    return EXIT_DIFFERS if is_compared(found) else EXIT_NOT_COMPARED


# --- operations (the menu calls these too) ---------------------------------------------------


def compare(services: Services, *, accept: bool = False) -> Reconciliation:
    """Ask the executor to reconcile now. Never repeated blind: a run applies missed fills and,
    with `accept`, adopts the broker's figures; a person looks at the result and runs it again."""
    timeout_ms = services.settings.timeout_ms * TIMEOUT_FACTOR
    if accept or not is_several(services):
        request = Reconcile(accept=accept)
        return services.ask(EXECUTOR, request, Reconciliation, timeout_ms=timeout_ms)
    found: list[tuple[str, Reconciliation]] = []
    for endpoint, status in statuses(services):
        if isinstance(status, ConsoleError):
            raise status  # half a picture would look like a flat account
        request = Reconcile()
        found.append(
            (
                status.account,
                services.ask(
                    EXECUTOR, request, Reconciliation, timeout_ms=timeout_ms, endpoint=endpoint
                ),
            )
        )
    return merged(found)


def show_positions(
    services: Services, account: str = "", *, as_json: bool = False
) -> Reconciliation:
    """Reconcile and show the result; NotCompared once shown if the broker's side is unknown."""
    found = compare(services)
    say_reconciliation(found, account.strip(), as_json=as_json)
    _require_compared(found)
    return found


def adopt_broker_figures(
    services: Services, confirm: Confirm, *, as_json: bool = False
) -> Reconciliation:
    """Reconcile, show the differences, and once `confirm` says yes, adopt the broker's figures
    where they differ. With `as_json` only the final document goes to stdout; what a person
    reads before deciding goes to stderr."""
    tell = _to_stderr if as_json else say
    services.endpoint(EXECUTOR)  # several executors: one must be picked (--account), or exit 2
    before = compare(services)
    tell(text(before))
    _require_compared(before)
    if not differing(before):
        why = (
            "the book agrees with the broker"
            if before.state is ReconcileState.AGREED
            else "orders in flight may explain every difference; run it again shortly"
        )
        tell(f"nothing to adopt: {why}")
        if as_json:
            say_json(document(before))
        return before
    if not confirm(before):
        raise ConsoleError("not confirmed: nothing was adopted, the difference remains")
    try:
        after = compare(services, accept=True)
    except ServiceDown:
        why = (
            f"the executor at {services.endpoint(EXECUTOR)} did not answer within "
            f"{services.settings.timeout_ms * TIMEOUT_FACTOR} ms"
        )
        raise AdoptionUnknown(why) from None
    say_reconciliation(after, as_json=as_json)
    _require_compared(after)
    tell(f"adopted the broker's figures for {after.adopted} position(s)")
    return after


def _require_compared(found: Reconciliation) -> None:
    if not is_compared(found):
        why = found.detail or f"the reconciliation {found.state}"
        raise NotCompared(f"the book was not compared with the broker: {why}")


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def ask_on_terminal(found: Reconciliation) -> bool:
    """The confirmation `aftm reconcile --accept` asks for (on stderr: stdout may be JSON)."""
    sys.stderr.write(f"{adoption_question(found)}? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


# --- subcommands -----------------------------------------------------------------------------

POSITIONS_EPILOG = (
    "Exit status: 0 shown (a difference is flagged, not an error: aftm reconcile's exit status "
    "tells), 1 the executor refused, 3 the executor or the gateway behind it did not answer."
)
RECONCILE_EPILOG = (
    "Exit status: 0 the book agrees with the broker; 1 a difference remains (differs, or "
    "settling: orders in flight may explain it; or --accept not confirmed); 2 nothing was "
    "compared (the executor or the gateway did not answer, or the executor refused) or the "
    "command line was wrong."
)


def add_reconciliation_commands(commands: Subparsers) -> None:
    positions = commands.add_parser(
        "positions",
        help="the executor's book beside the broker's positions, differences flagged",
        description="Ask the executor to reconcile now and show, per account and symbol, its "
        "book (net lots, average) beside the broker's.",
        epilog=POSITIONS_EPILOG,
    )
    positions.add_argument(
        "--account", default="", type=an_account, help="only ACCOUNT (default: every account)"
    )
    positions.set_defaults(picks_executor=True)
    add_json_flag(positions)
    positions.set_defaults(handler=live(_positions))
    reconcile = commands.add_parser(
        "reconcile",
        help="compare the executor's book with the broker now; --accept adopts the broker's",
        description="Ask the executor to reconcile now: it applies fills it missed, asks again "
        "about orders still working and compares its book with the broker's positions. With "
        "--accept it then shows the differences, asks, and adopts the broker's figures wherever "
        "they differ and no order is in flight.",
        epilog=RECONCILE_EPILOG,
    )
    reconcile.add_argument(
        "--accept", action="store_true", help="adopt the broker's figures where they differ"
    )
    reconcile.add_argument("--yes", action="store_true", help="with --accept: do not ask")
    add_account_option(reconcile)
    add_json_flag(reconcile)
    reconcile.set_defaults(handler=_reconcile_handler)


def _positions(services: Services, args: argparse.Namespace) -> int:
    show_positions(services, args.account, as_json=args.json)
    return 0


def _reconcile_handler(args: argparse.Namespace) -> int:
    # Checked before the settings are read or any service is asked anything.
    if args.yes and not args.accept:
        raise UsageError("--yes only goes with --accept")
    if args.accept and not args.yes and not is_interactive():
        raise UsageError(
            "reconcile --accept adopts the broker's figures and there is no terminal to "
            "confirm on: pass --yes"
        )
    return live(_reconcile)(args)


def _reconcile(services: Services, args: argparse.Namespace) -> int:
    try:
        if args.accept:
            confirm: Confirm = (lambda found: True) if args.yes else ask_on_terminal
            found = adopt_broker_figures(services, confirm, as_json=args.json)
        else:
            found = show_positions(services, as_json=args.json)
    except (ServiceDown, ServiceRefused, NotCompared) as failed:
        raise ReconcileFailed(str(failed)) from None
    return exit_status(found)
