"""`aftm run` as a user runs it: a subprocess that starts the three services and must leave
nothing behind, however it ends.

Every port is free and set through the environment; the state folder is the test's tmp_path.
The children's pids come from the run's own output ("started NAME (pid N)") and are checked
against /proc; after the run has exited each of them must be gone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from tests.support.processes import endpoint, free_port

pytestmark = pytest.mark.slow
AFTM = [sys.executable, "-m", "aftm_console"]
STARTED = re.compile(r"started (\w+) \(pid (\d+)\)")


def run_env() -> dict[str, str]:
    """Binds and metrics ports only: `aftm run` wires every connect endpoint from them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
    env.update(
        AFTM_GATEWAY_PUB_BIND=endpoint(),
        AFTM_GATEWAY_ROUTER_BIND=endpoint(),
        AFTM_GATEWAY_METRICS_PORT=str(free_port()),
        AFTM_STRATEGY_CONTROL_BIND=endpoint(),
        AFTM_STRATEGY_METRICS_PORT=str(free_port()),
        AFTM_EXECUTOR_SIGNAL_BIND=endpoint(),
        AFTM_EXECUTOR_CONTROL_BIND=endpoint(),
        AFTM_EXECUTOR_METRICS_PORT=str(free_port()),
    )
    return env


def console_env(env: Mapping[str, str]) -> dict[str, str]:
    """What a second `aftm` needs to reach the run's services (the run's throw-away keys are
    in its environment already: see start_run)."""
    return {
        **env,
        "AFTM_CONSOLE_GATEWAY_CONNECT": env["AFTM_GATEWAY_ROUTER_BIND"],
        "AFTM_CONSOLE_STRATEGY_CONNECT": env["AFTM_STRATEGY_CONTROL_BIND"],
        "AFTM_CONSOLE_EXECUTOR_CONNECT": env["AFTM_EXECUTOR_CONTROL_BIND"],
    }


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path
    env: dict[str, str]

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def errors(self) -> str:
        return self.err.read_text(errors="replace")

    def child_pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in STARTED.findall(self.output())}

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            assert self.process.poll() is None, f"aftm run exited:\n{self.output()}{self.errors()}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output()}{self.errors()}"
            time.sleep(0.1)

    def finish(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(
                f"aftm run did not stop:\n{self.output()}{self.errors()}"
            ) from None


class StartRun(Protocol):
    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run: ...


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[StartRun]:
    runs: list[Run] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Run:
        environment = env if env is not None else run_env()
        # Where `aftm run` puts its throw-away keys, for a second `aftm` (console_env).
        environment["AFTM_CONSOLE_KEYS_DIR"] = str(tmp_path / "state" / "keys")
        environment["AFTM_CONSOLE_INSECURE"] = "false"
        out, err = tmp_path / "run.out", tmp_path / "run.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [*AFTM, "run", "--state-dir", str(tmp_path / "state"), *args],
                env=environment,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        run = Run(process, out, err, environment)
        runs.append(run)
        return run

    yield start
    for run in runs:  # a failed test must not leave a run (or its children) behind
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGTERM)
            run.finish(15)
        for pid in run.child_pids().values():
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)


def is_alive(pid: int) -> bool:
    """Running (a zombie, being dead, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def children_of(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def assert_all_gone(pids: Mapping[str, int]) -> None:
    deadline = time.monotonic() + 5
    while (alive := {name for name, pid in pids.items() if is_alive(pid)}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not alive, f"left running: {alive}"


def orders(env: Mapping[str, str]) -> list[dict[str, object]]:
    result = subprocess.run(
        [*AFTM, "orders", "--json"],
        env=console_env(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return []
    listed = json.loads(result.stdout)
    assert isinstance(listed, list)
    return listed


def test_the_demo_trades_and_ctrl_c_stops_everything(start_run: StartRun) -> None:
    run = start_run("--demo", "--no-view")
    run.wait_for("strategy and executor healthy", timeout_s=60)
    pids = run.child_pids()
    assert set(pids) == {"gateway", "strategy", "executor"}
    assert set(pids.values()) == children_of(run.process.pid)

    deadline = time.monotonic() + 60
    while not any(o["side"] == "buy" and o["status"] == "filled" for o in orders(run.env)):
        assert run.process.poll() is None, run.output() + run.errors()
        assert time.monotonic() < deadline, f"no filled buy:\n{run.output()}{run.errors()}"
        time.sleep(0.5)
    assert re.search(r"condition c-[0-9a-f]{8} added: buy 1 TXFL6", run.output())

    run.process.send_signal(signal.SIGINT)
    assert run.finish(timeout_s=10) == 0, run.output() + run.errors()
    assert_all_gone(pids)
    assert "stopped" in run.output()
    assert "Traceback" not in run.errors()


def test_sigterm_stops_everything(start_run: StartRun) -> None:
    run = start_run("--no-view")
    run.wait_for("strategy and executor healthy", timeout_s=60)
    pids = run.child_pids()

    run.process.send_signal(signal.SIGTERM)

    assert run.finish(timeout_s=10) == 0
    assert_all_gone(pids)


def test_a_child_that_dies_stops_the_others(start_run: StartRun) -> None:
    run = start_run("--no-view")
    run.wait_for("strategy and executor healthy", timeout_s=60)
    pids = run.child_pids()

    os.kill(pids["strategy"], signal.SIGKILL)

    assert run.finish(timeout_s=15) == 1
    assert "the strategy stopped unexpectedly" in run.errors()
    assert_all_gone(pids)


def test_a_taken_port_is_refused_before_anything_starts(start_run: StartRun) -> None:
    env = run_env()
    port = int(env["AFTM_GATEWAY_ROUTER_BIND"].rpartition(":")[2])
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        run = start_run("--no-view", env=env)

        assert run.finish(timeout_s=40) == 2
    assert run.child_pids() == {}  # nothing was started, so nothing talks to another instance
    errors = run.errors()
    assert f"port {port} on 127.0.0.1 (AFTM_GATEWAY_ROUTER_BIND) is taken" in errors
    assert "Traceback" not in errors


def test_a_gateway_that_cannot_start_is_reported(start_run: StartRun) -> None:
    env = {**run_env(), "AFTM_GATEWAY_SIM_START_PRICE": "0"}
    run = start_run("--no-view", env=env)

    assert run.finish(timeout_s=40) == 1
    pids = run.child_pids()
    assert set(pids) == {"gateway"}  # nothing else was started
    errors = run.errors()
    assert "the gateway exited with code 2 while starting" in errors
    assert "AFTM_GATEWAY_SIM_START_PRICE" in errors  # the tail of its log says why
    assert "Traceback" not in errors
    assert_all_gone(pids)
