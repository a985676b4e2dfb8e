"""The executors behind AFTM_CONSOLE_EXECUTOR_CONNECT: one per account, picked by its account.

Each executor trades one account (fixed by its settings where several run). A command that acts
on one executor (an order, a reconcile --accept) picks it with --account: the console asks each
executor which account it trades and sends there. A brake (halt, resume, mode, flatten) without
--account goes to every executor; a read (status, positions, trades) gathers from every one,
each row labelled with its account. With one executor nothing is asked first: as before.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from aftm.domain import limits
from aftm.errors import InvalidInput
from aftm.wire.protocol import ExecutorStatus, GetExecutorStatus, ReconcileState, Reconciliation
from aftm_console.errors import ConsoleError, ServiceDown, ServiceRefused
from aftm_console.parsing import an_account
from aftm_console.render import warn
from aftm_console.services import Service, Services

EXECUTOR = Service.EXECUTOR
T = TypeVar("T")


def add_account_option(parser: argparse.ArgumentParser, help_text: str = "") -> None:
    """--account ACCOUNT: with several executors, the one trading ACCOUNT (common.live picks
    it before the command runs)."""
    parser.add_argument(
        "--account",
        default="",
        type=an_account,
        help=help_text or "with several executors: the one trading ACCOUNT (default: every one)",
    )
    parser.set_defaults(picks_executor=True)


def is_several(services: Services) -> bool:
    """Several executors are listed and no command line picked one."""
    if len(services.endpoints(EXECUTOR)) == 1:
        return False
    try:
        services.endpoint(EXECUTOR)
    except ConsoleError:
        return True
    return False


def statuses(
    services: Services, *, timeout_ms: int | None = None, retries: int = 1
) -> list[tuple[str, ExecutorStatus | ConsoleError]]:
    """Every executor's status, or why it has none, by endpoint in the listed order."""
    found: list[tuple[str, ExecutorStatus | ConsoleError]] = []
    for endpoint in services.endpoints(EXECUTOR):
        try:
            status = services.ask(
                EXECUTOR,
                GetExecutorStatus(),
                ExecutorStatus,
                retries=retries,
                timeout_ms=timeout_ms,
                endpoint=endpoint,
            )
        except (ServiceDown, ServiceRefused) as failed:
            found.append((endpoint, failed))
            continue
        limits.check_account(status.account or "-", "account")  # a value from the wire
        found.append((endpoint, status))
    return found


def choose_by_account(services: Services, account: str) -> None:
    """Send executor requests to the executor trading `account`; InvalidInput (exit 2) naming
    each executor's account when none does. With one executor: nothing to choose."""
    account = limits.check_account(account.strip())
    if len(services.endpoints(EXECUTOR)) == 1:
        return
    found = statuses(services)
    for endpoint, status in found:
        if isinstance(status, ExecutorStatus) and status.account == account:
            services.choose(EXECUTOR, endpoint)
            return
    listed = "; ".join(f"{endpoint}: {_account_of(status)}" for endpoint, status in found)
    raise InvalidInput("account", f"no executor trades {account!r} (executors: {listed})")


def each_executor(services: Services, action: Callable[[], T]) -> list[T]:
    """`action` once per executor (once in all when one is listed or picked). One that fails
    does not stop the others: each failure is told, and the first is raised at the end."""
    if not is_several(services):
        return [action()]
    done: list[T] = []
    failures: list[ConsoleError] = []
    for endpoint in services.endpoints(EXECUTOR):
        services.choose(EXECUTOR, endpoint)
        try:
            done.append(action())
        except (ServiceDown, ServiceRefused) as failed:
            warn(f"executor at {endpoint}: {failed}")
            failures.append(failed)
    if failures:
        raise failures[0]
    return done


def _account_of(status: ExecutorStatus | ConsoleError) -> str:
    if isinstance(status, ConsoleError):
        return f"unknown ({status})"
    return status.account or "no account selected"


# Which state a reconciliation of several executors shows: the worst of theirs, in this order.
_WORST_FIRST = (
    ReconcileState.FAILED,
    ReconcileState.NEVER,
    ReconcileState.DIFFERS,
    ReconcileState.SETTLING,
    ReconcileState.AGREED,
)


def merged(found: list[tuple[str, Reconciliation]]) -> Reconciliation:
    """Several executors' reconciliations as one: the worst state, every executor's rows of
    its own account (all its rows when it names none), counts summed."""
    state = min((r.state for _, r in found), key=_WORST_FIRST.index)
    rows = tuple(
        check
        for account, r in found
        for check in r.positions
        if not account or check.account == account
    )
    return Reconciliation(
        state=state,
        ts_ns=min(r.ts_ns for _, r in found),
        detail="; ".join(f"{account or '?'}: {r.detail}" for account, r in found if r.detail),
        fills_applied=sum(r.fills_applied for _, r in found),
        orders_asked=sum(r.orders_asked for _, r in found),
        entries_halted=any(r.entries_halted for _, r in found),
        positions=rows,
        adopted=sum(r.adopted for _, r in found),
    )
