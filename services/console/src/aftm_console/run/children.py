"""Child processes of `aftm run`: start, health, stop; each one's output goes to its log file."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from aftm_console.run.wiring import ChildSpec

HEALTH_TIMEOUT_S = 0.5
HEALTH_POLL_S = 0.1
TAIL_LINES = 15


class Child:
    def __init__(self, spec: ChildSpec, log_path: Path, health: tuple[str, int]) -> None:
        self.spec = spec
        self.name = spec.name
        self.log_path = log_path
        self._health = health
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str]) -> None:
        """`python -m MODULE` in its own session (a terminal's Ctrl-C reaches only aftm, which
        stops the children in order) and dying with aftm should aftm itself be killed."""
        guard = [sys.executable, "-m", "aftm_console.run.guard", str(os.getpid()), self.spec.module]
        with self.log_path.open("ab") as log:
            # The log is appended to across runs: mark where this one begins.
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- aftm run started {self.name} at {stamp}\n".encode())
            log.flush()
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                guard,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    @property
    def exit_code(self) -> int | None:
        """None while running (or never started)."""
        return self._process.poll() if self._process is not None else None

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def is_healthy(self) -> bool:
        host, port = self._health
        connection = http.client.HTTPConnection(host, port, timeout=HEALTH_TIMEOUT_S)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status == http.HTTPStatus.OK
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def send(self, signum: signal.Signals) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signum)

    def wait(self, timeout_s: float) -> bool:
        """True once the process has exited (or never started)."""
        if self._process is None:
            return True
        try:
            self._process.wait(max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            return False
        return True

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as unreadable:
            return f"  (cannot read {self.log_path}: {unreadable.strerror})"
        tail = text.splitlines()[-lines:] or ["(the log is empty)"]
        return "\n".join(f"  {line}" for line in tail)


def wait_healthy(
    children: Sequence[Child], stop: threading.Event, timeout_s: float
) -> tuple[Child | None, str]:
    """Wait until every child answers /health with 200: (None, "") when they do (or `stop` is
    set meanwhile), else the first child in trouble and what happened to it."""
    deadline = time.monotonic() + timeout_s
    waiting = list(children)
    while waiting:
        for child in waiting:
            code = child.exit_code
            if code is not None:
                return child, f"the {child.name} exited with code {code} while starting"
        waiting = [child for child in waiting if not child.is_healthy()]
        if not waiting:
            return None, ""
        if time.monotonic() >= deadline:
            return waiting[0], f"the {waiting[0].name} was not healthy within {timeout_s:.0f} s"
        if stop.wait(HEALTH_POLL_S):
            return None, ""
    return None, ""


def stop_all(children: Sequence[Child], grace_s: float) -> list[Child]:
    """SIGTERM each, wait up to `grace_s` in total, SIGKILL what is left: the killed ones."""
    for child in reversed(children):  # the last started depends on the first
        child.send(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    killed = [child for child in children if not child.wait(deadline - time.monotonic())]
    for child in killed:
        child.send(signal.SIGKILL)
        child.wait(grace_s)
    return killed
