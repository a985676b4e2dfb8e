"""Glue between a parsed command line and an operation that talks to the services."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable

from aftm.settings import load
from aftm_console.executors import choose_by_account
from aftm_console.services import Services
from aftm_console.settings import ConsoleSettings

PROGRAM = "aftm"
LiveAction = Callable[[Services, argparse.Namespace], int]
Handler = Callable[[argparse.Namespace], int]


def live(action: LiveAction) -> Handler:
    """A handler that loads the console settings (exit 2 naming a bad variable), opens the
    service clients, picks the executor trading --account when the command takes one (see
    executors.py), runs `action` and closes the clients whatever happens."""

    def handler(args: argparse.Namespace) -> int:
        settings = load(ConsoleSettings, PROGRAM)
        with Services(settings) as services:
            account = getattr(args, "account", "") or ""
            if getattr(args, "picks_executor", False) and account.strip():
                choose_by_account(services, account.strip())
            return action(services, args)

    return handler


def new_condition_id() -> str:
    return "c-" + secrets.token_hex(4)


def new_client_order_id() -> str:
    """ "M" (manual) + 15 hex digits: 16 characters, within a broker NOTE field, never reused."""
    return "M" + secrets.token_hex(8)[:15]


def is_interactive() -> bool:
    return sys.stdin.isatty()
