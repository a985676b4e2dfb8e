"""Accounts: the gateway's broker session lists them, the executor trades the selected one.

With several executors each trades its own account: `account list` marks every account one of
them trades, and `account use ACCOUNT` goes to the executor trading ACCOUNT (executors.py)."""

from __future__ import annotations

import argparse

from aftm.domain import limits
from aftm.wire.protocol import (
    AccountList,
    ExecutorStatus,
    GetExecutorStatus,
    ListAccounts,
    SelectAccount,
)
from aftm_console.commands.common import live
from aftm_console.errors import ServiceDown
from aftm_console.executors import is_several, statuses
from aftm_console.parsing import Subparsers, add_json_flag
from aftm_console.render import printable, say, say_json, say_table, warn
from aftm_console.services import Service, Services

# --- operations (the menu and `aftm run` call these too) -------------------------------------


def list_accounts(services: Services) -> tuple[str, ...]:
    return services.ask(Service.GATEWAY, ListAccounts(), AccountList, retries=1).accounts


def selected_account(services: Services) -> str:
    """The executor's selected account; empty when none is selected."""
    status = services.ask(Service.EXECUTOR, GetExecutorStatus(), ExecutorStatus, retries=1)
    return status.account


def show_accounts(services: Services, *, as_json: bool = False) -> tuple[str, ...]:
    accounts = list_accounts(services)
    selected = _traded(services)
    if as_json:
        say_json([{"account": a, "selected": a in selected} for a in accounts])
    else:
        rows = [("*" if a in selected else "", a) for a in accounts]
        say_table(("selected", "account"), rows, "the broker session lists no accounts")
    return accounts


def _traded(services: Services) -> set[str]:
    """The accounts the executors trade (the one selected, with one executor)."""
    if not is_several(services):
        try:
            return {selected_account(services)}
        except ServiceDown as down:
            warn(f"{down}; which account is selected is unknown")
            return set()
    traded: set[str] = set()
    for endpoint, status in statuses(services):
        if isinstance(status, ExecutorStatus):
            traded.add(status.account)
        else:
            warn(f"executor at {endpoint}: {status}; which account it trades is unknown")
    return traded


def use_account(services: Services, account: str) -> ExecutorStatus:
    account = limits.check_account(account.strip())
    # Selecting the same account twice leaves the same selection: safe to ask again.
    status = services.ask(Service.EXECUTOR, SelectAccount(account), ExecutorStatus, retries=1)
    say(f"the executor now sends orders to account {printable(status.account)}")
    return status


# --- subcommands -----------------------------------------------------------------------------


def add_account_commands(commands: Subparsers) -> None:
    parser = commands.add_parser("account", help="list accounts or select the one to trade")
    actions: Subparsers = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the broker session's accounts, * = selected")
    add_json_flag(listing)
    listing.set_defaults(handler=live(_list))
    use = actions.add_parser("use", help="send the executor's orders to ACCOUNT")
    use.add_argument("account", metavar="ACCOUNT")
    use.set_defaults(handler=live(_use), picks_executor=True)


def _list(services: Services, args: argparse.Namespace) -> int:
    show_accounts(services, as_json=args.json)
    return 0


def _use(services: Services, args: argparse.Namespace) -> int:
    use_account(services, args.account)
    return 0
