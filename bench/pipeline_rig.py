"""The three real services as local processes on 127.0.0.1, started and stopped by the bench.

Every port is a free one, every state file lives in the bench's folder, and every process is
stopped with SIGTERM (SIGKILL only if it ignores that) whatever happens to the bench; on Linux
the services also get SIGTERM should the bench itself die without cleaning up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import zmq

from aftm.security import keys
from aftm.security.roles import Role
from aftm.security.transport import Curve
from aftm.wire.reliable import ReliableClient
from bench.children import die_with_parent

SERVICES = ("gateway", "executor", "strategy")  # start order; stopped in reverse
STOP_TIMEOUT_S = 10.0
HEALTHY_TIMEOUT_S = 30.0
LOG_TAIL = 15  # lines of each service's log shown when the bench fails


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@dataclass(frozen=True)
class Endpoints:
    gateway_pub: str = field(default_factory=_endpoint)
    gateway_router: str = field(default_factory=_endpoint)
    strategy_control: str = field(default_factory=_endpoint)
    executor_signals: str = field(default_factory=_endpoint)
    executor_control: str = field(default_factory=_endpoint)
    metrics_ports: Mapping[str, int] = field(
        default_factory=lambda: {name: free_port() for name in SERVICES}
    )


@dataclass(frozen=True)
class RigConfig:
    folder: Path
    ticks_per_s: float
    symbols: tuple[str, ...]
    log_level: str
    executor_limits: Mapping[str, str]  # AFTM_EXECUTOR_* risk limits, raised for the bench
    # Per service, settings that have the last word (e.g. the gateway on another broker).
    extra_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # CURVE on every socket with a key pair per role in <folder>/keys, as shipped; False runs
    # plain TCP (the services' INSECURE switch), for a comparison in the same session.
    curve: bool = True


def keys_folder(config: RigConfig) -> Path:
    return config.folder / "keys"


def service_env(config: RigConfig, ends: Endpoints) -> dict[str, dict[str, str]]:
    """Each service's AFTM_* settings: all on 127.0.0.1, state files in the bench folder."""
    folder = config.folder
    common = {"AFTM_SECRETS_DIR": str(folder / "no-secrets")}
    for name in SERVICES:
        prefix = f"AFTM_{name.upper()}_"
        common[f"{prefix}LOG_LEVEL"] = config.log_level
        common[f"{prefix}INSECURE"] = "false" if config.curve else "true"
        if config.curve:
            common[f"{prefix}KEYS_DIR"] = str(keys_folder(config))
    gateway = {
        "AFTM_GATEWAY_PUB_BIND": ends.gateway_pub,
        "AFTM_GATEWAY_ROUTER_BIND": ends.gateway_router,
        "AFTM_GATEWAY_JOURNAL_PATH": str(gateway_journal(folder)),
        "AFTM_GATEWAY_SIM_STATE_PATH": str(folder / "sim-exchange.sqlite"),
        "AFTM_GATEWAY_SIM_TICKS_PER_S": str(config.ticks_per_s),
        "AFTM_GATEWAY_SIM_SYMBOLS": ",".join(config.symbols),
    }
    strategy = {
        "AFTM_STRATEGY_TICK_CONNECT": ends.gateway_pub,
        "AFTM_STRATEGY_SIGNAL_CONNECT": ends.executor_signals,
        "AFTM_STRATEGY_CONTROL_BIND": ends.strategy_control,
        "AFTM_STRATEGY_STORE_PATH": str(folder / "strategy.sqlite"),
    }
    executor = {
        "AFTM_EXECUTOR_SIGNAL_BIND": ends.executor_signals,
        "AFTM_EXECUTOR_CONTROL_BIND": ends.executor_control,
        "AFTM_EXECUTOR_GATEWAY_CONNECT": ends.gateway_router,
        "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": ends.gateway_pub,
        "AFTM_EXECUTOR_STRATEGY_CONNECT": ends.strategy_control,
        "AFTM_EXECUTOR_JOURNAL_PATH": str(executor_journal(folder)),
        "AFTM_EXECUTOR_ACCOUNT": "SIM-0001",
        "AFTM_EXECUTOR_MARKET_RULES": "always_open",  # the sim trades at any hour
        **config.executor_limits,
    }
    envs = {"gateway": gateway, "strategy": strategy, "executor": executor}
    return {
        name: common
        | envs[name]
        | {f"AFTM_{name.upper()}_METRICS_PORT": str(ends.metrics_ports[name])}
        | dict(config.extra_env.get(name, {}))
        for name in SERVICES
    }


def executor_journal(folder: Path) -> Path:
    return folder / "executor-journal.sqlite"


def gateway_journal(folder: Path) -> Path:
    return folder / "gateway-journal.sqlite"


class Services:
    """`with Services(config) as rig:` the three services, healthy, stopped on the way out.

    `kill` and `start` let a bench crash and restart one of them: the same settings, ports and
    state files, as an orchestrator restarting a container with its volume would.
    """

    def __init__(self, config: RigConfig) -> None:
        self.config = config
        self.endpoints = Endpoints()
        self._curve: dict[Role, Curve] = {}
        if config.curve and not keys_folder(config).exists():
            keys.create(keys_folder(config))
        (config.folder / "no-secrets").mkdir(exist_ok=True)  # empty: no host secret applies
        self._envs = service_env(config, self.endpoints)
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Services:
        try:
            for name in SERVICES:
                self._start(name)
            for name in SERVICES:
                self._wait_healthy(name)
        except BaseException:
            self.stop()
            self._show_logs()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
        if error is not None:
            self._show_logs()

    def client(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        name: str,
        *,
        timeout_ms: int,
        role: Role = Role.CONSOLE,
    ) -> ReliableClient:
        """A request client to `name`'s ROUTER, speaking as `role` when CURVE is on."""
        endpoint = {
            "gateway": self.endpoints.gateway_router,
            "strategy": self.endpoints.strategy_control,
            "executor": self.endpoints.executor_control,
        }[name]
        setup = None
        if self.config.curve:
            if role not in self._curve:
                self._curve[role] = Curve.load(keys_folder(self.config), role)
            setup = self._curve[role].client(Role(name))
        return ReliableClient(context, endpoint, timeout_ms=timeout_ms, setup=setup)

    def log_path(self, name: str) -> Path:
        return self.config.folder / f"{name}.log"

    def metrics(self, name: str) -> dict[str, float]:
        """The service's Prometheus samples by full name (labels included)."""
        url = f"http://127.0.0.1:{self.endpoints.metrics_ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                samples[key] = float(value)
        return samples

    def pid(self, name: str) -> int:
        return self._processes[name].pid

    def kill(self, name: str) -> int:
        """SIGKILL one service (no chance to clean up) and reap it; its exit code."""
        process = self._processes.pop(name)
        process.kill()
        return process.wait(STOP_TIMEOUT_S)

    def start(self, name: str, *, healthy_timeout_s: float = HEALTHY_TIMEOUT_S) -> float:
        """Start one service that is not running and wait until it is healthy; seconds taken."""
        if name in self._processes:
            raise RuntimeError(f"{name} is already running")
        started = time.monotonic()
        self._start(name)
        self._wait_healthy(name, healthy_timeout_s)
        return time.monotonic() - started

    def show_logs(self) -> None:
        self._show_logs()

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every service, strategy first (no new signals), gateway last; exit codes."""
        codes: dict[str, int | None] = {}
        for name in reversed(SERVICES):
            process = self._processes.pop(name, None)
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT_S)
            codes[name] = process.returncode
        return codes

    def _show_logs(self) -> None:
        """After a failure: the logs may go with a temporary folder, so show how each ended."""
        for name in SERVICES:
            path = self.log_path(name)
            tail = (
                path.read_text(errors="replace").splitlines()[-LOG_TAIL:] if path.exists() else []
            )
            print(f"--- {name} log tail", *tail, sep="\n", file=sys.stderr)

    def _start(self, name: str) -> None:
        with self.log_path(name).open("ab") as log:
            self._processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"aftm_{name}"],
                env={**os.environ, **self._envs[name]},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # the bench starts no threads of its own
            )

    def _wait_healthy(self, name: str, timeout_s: float = HEALTHY_TIMEOUT_S) -> None:
        url = f"http://127.0.0.1:{self.endpoints.metrics_ports[name]}/health"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            process = self._processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited {process.returncode}; see {self.log_path(name)}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} not healthy in {timeout_s} s; see {self.log_path(name)}")


@contextlib.contextmanager
def start_services(config: RigConfig, attempts: int = 3) -> Iterator[Services]:
    """The rig, started again on fresh ports should a port it picked be taken meanwhile: a free
    port is only free when it is picked, and other processes on this host (an outgoing
    connection's ephemeral port among them) may take it before the service binds it."""
    for attempt in range(1, attempts + 1):
        rig = Services(config)
        try:
            rig.__enter__()
        except RuntimeError as failure:
            if attempt == attempts:
                raise
            print(
                f"services did not start (attempt {attempt}: {failure}); trying other ports",
                file=sys.stderr,
                flush=True,
            )
            continue
        try:
            yield rig
        except BaseException as error:
            rig.__exit__(type(error), error, error.__traceback__)  # shows the services' logs
            raise
        rig.__exit__(None, None, None)
        return
