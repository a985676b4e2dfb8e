"""`aftm run [--demo] [--state-dir DIR] [--no-view]`: gateway, strategy and executor as child
processes on the simulated exchange, a live view, and a clean stop on Ctrl-C or SIGTERM.

The gateway starts first (the others connect to it) and must be healthy, meaning logged in and
ticking, before the strategy and the executor start. Whatever happens afterwards (a child that
fails to start or dies, Ctrl-C, SIGTERM, an error in aftm itself) every started child gets
SIGTERM, then SIGKILL if it is still there after a grace period: none outlives `aftm run`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from aftm.security import keys
from aftm.settings import load
from aftm_console.commands.accounts import list_accounts, selected_account, use_account
from aftm_console.commands.common import PROGRAM
from aftm_console.errors import ConsoleError
from aftm_console.parsing import Subparsers
from aftm_console.render import say, warn
from aftm_console.run.children import Child, stop_all, wait_healthy
from aftm_console.run.live import LiveLoop, LiveOptions
from aftm_console.run.ports import taken_ports
from aftm_console.run.wiring import (
    CHILDREN,
    child_env,
    console_overrides,
    health_address,
    keyed,
)
from aftm_console.services import Services
from aftm_console.settings import ConsoleSettings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
DEFAULT_STATE_DIR = Path("var/run")
KEYS_FOLDER = "keys"  # in the state folder: this run's throw-away keys
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class RunOptions:
    demo: bool = False
    state_dir: Path = DEFAULT_STATE_DIR
    view: bool = True


def add_run_command(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "run",
        help="start gateway, strategy and executor locally on the simulated exchange",
        description="Start the three services as child processes (sim broker), show a live "
        "view, stop them all on Ctrl-C. Every AFTM_* setting in the environment applies.",
    )
    parser.add_argument(
        "--demo", action="store_true", help="add a condition that trades within seconds"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help=f"state files and logs (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument("--no-view", action="store_true", help="no live view, only events")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = load(ConsoleSettings, PROGRAM)
    return run_all(settings, RunOptions(args.demo, args.state_dir, view=not args.no_view))


def run_all(settings: ConsoleSettings, options: RunOptions) -> int:
    missing = [c.module for c in CHILDREN if importlib.util.find_spec(c.module) is None]
    if missing:
        warn(f"aftm run needs these packages installed: {', '.join(missing)}")
        return EXIT_CANNOT_RUN
    env = dict(os.environ)
    taken = taken_ports(env)
    if taken:
        warn(
            f"aftm run cannot start: {'; '.join(taken)}. Is another aftm run or the compose"
            " stack running? Stop it, or move the ports with AFTM_<SERVICE>_*_BIND and"
            " AFTM_<SERVICE>_METRICS_PORT."
        )
        return EXIT_CANNOT_RUN
    settings = settings.model_copy(update=console_overrides(env))
    children = [
        Child(spec, options.state_dir / f"{spec.name}.log", health_address(env, spec))
        for spec in CHILDREN
    ]
    options.state_dir.mkdir(parents=True, exist_ok=True)
    say(f"aftm run: state files and logs in {options.state_dir}/")
    with _stop_signals() as stop, _throw_away_keys(options.state_dir) as keys_dir:
        # Every run is CURVE-secured with keys made for it and deleted after it: nothing
        # else on this host can drive these services, and no key outlives the run.
        settings = settings.model_copy(update={"keys_dir": keys_dir, "insecure": False})
        try:
            if not _start(children, keyed(child_env(env, options.state_dir), keys_dir), stop):
                return EXIT_FAILED
            if stop.is_set():
                return EXIT_OK
            with Services(settings) as services:
                _ensure_account(services)
                live = LiveOptions(
                    view=options.view, demo=options.demo, state_dir=options.state_dir
                )
                return LiveLoop(services, children, live, stop).run()
        finally:
            _stop(children)


def _start(children: list[Child], env: dict[str, str], stop: threading.Event) -> bool:
    """Gateway first, then the others; False (after saying why) when one does not come up."""
    gateway, others = children[:1], children[1:]
    for group in (gateway, others):
        for child in group:
            child.start(env)
            say(f"started {child.name} (pid {child.pid}), log {child.log_path}")
        failed, why = wait_healthy(group, stop, START_TIMEOUT_S)
        if stop.is_set():
            return True
        if failed is not None:
            hint = ""
            if failed is gateway[0] and failed.is_running:
                hint = " (healthy means logged in and ticking: is AFTM_GATEWAY_AUTO_LOGIN off?)"
            warn(f"{why}{hint}; last lines of {failed.log_path}:\n{failed.log_tail()}")
            return False
        say(f"{' and '.join(child.name for child in group)} healthy")
    return True


def _ensure_account(services: Services) -> None:
    """The executor refuses entries without an account: on the sim, pick the first one."""
    try:
        account = selected_account(services)
        if account:
            say(f"the executor trades account {account}")
            return
        accounts = list_accounts(services)
        if accounts:
            use_account(services, accounts[0])
            return
        warn("the broker session lists no accounts: the executor will refuse entries")
    except ConsoleError as failed:
        warn(f"no account selected ({failed}); select one with: aftm account use ACCOUNT")


def _stop(children: list[Child]) -> None:
    running = [child for child in children if child.is_running]
    if running:
        say(f"stopping {', '.join(child.name for child in running)}")
    for child in stop_all(children, STOP_GRACE_S):
        warn(f"the {child.name} ignored SIGTERM for {STOP_GRACE_S:.0f} s and was killed")
    if running:
        say("stopped")
    sys.stdout.flush()


@contextmanager
def _throw_away_keys(state_dir: Path) -> Iterator[Path]:
    """A key pair per role in `<state dir>/keys` (0700), removed when the run ends. Keys left
    by a run that was killed are replaced: its services are gone, so nothing trusts them."""
    folder = state_dir / KEYS_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    try:
        keys.create(folder)
        say(f"CURVE keys for this run in {folder}/; another console reaches the run with:")
        say(f"  AFTM_CONSOLE_KEYS_DIR={folder} aftm status")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """Ctrl-C, SIGTERM and a closed terminal set the event; the old handlers come back after."""
    stop = threading.Event()
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in _STOP_SIGNALS:
        signal.signal(signum, handle)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
