"""The compose stack of docker-compose.yml, started for a test session, and ways to talk to it.

Each run gets its own compose project name, random loopback host ports and broker password (in
an env file given to `docker compose --env-file`), so it clashes neither with a stack a developer
keeps running nor with an earlier run. Images are tagged `test` and rebuilt (from the build
cache) each run. The host reaches the containers only through the ports published on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import zmq
from testcontainers.compose import DockerCompose

from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import OrderStatus, Side
from aftm.security.roles import Role
from aftm.security.transport import Curve
from aftm.wire.protocol import (
    FutureList,
    ListFutures,
    ListOrders,
    ListSignals,
    OrderList,
    OrderSnapshot,
    SignalList,
)
from aftm.wire.reliable import ReliableClient
from aftm_executor.trades import client_order_id
from tests.support.processes import free_port, http_json

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "aftm.json"
LOCAL_BASE_IMAGE = "aftm/base:bookworm"  # what deploy/scripts/prepare-machine.sh builds
SERVICES = ("gateway", "strategy", "executor")
IMAGE_TAG = "test"
ACCOUNT = "SIM-0001"  # the compose executor's account (AFTM_EXECUTOR_ACCOUNT's default)
# docker-compose.yml's host port variables, by what listens behind them.
PORT_VARIABLES = {
    "gateway_pub": "AFTM_HOST_GATEWAY_PUB_PORT",
    "gateway": "AFTM_HOST_GATEWAY_ROUTER_PORT",
    "strategy": "AFTM_HOST_STRATEGY_CONTROL_PORT",
    "executor": "AFTM_HOST_EXECUTOR_CONTROL_PORT",
    "gateway_metrics": "AFTM_HOST_GATEWAY_METRICS_PORT",
    "strategy_metrics": "AFTM_HOST_STRATEGY_METRICS_PORT",
    "executor_metrics": "AFTM_HOST_EXECUTOR_METRICS_PORT",
    "prometheus": "AFTM_HOST_PROMETHEUS_PORT",
    "alertmanager": "AFTM_HOST_ALERTMANAGER_PORT",
    "grafana": "AFTM_HOST_GRAFANA_PORT",
}
T = TypeVar("T")
Context = zmq.Context[zmq.Socket[bytes]]


def docker(*args: str, timeout_s: float = 120) -> str:
    """Run the docker CLI; a failure raises with its stderr."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def ensure_wheelhouse() -> None:
    """The images install from deploy/.wheelhouse (uv.lock's wheels) and deploy/.dist (the
    project's own); the script is quick when the lock has not changed."""
    done = subprocess.run(
        [str(REPO / "deploy" / "scripts" / "build-wheelhouse.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"build-wheelhouse.sh failed:\n{done.stdout}{done.stderr}"


def base_image() -> str | None:
    """AFTM_BASE_IMAGE if set, else the local base when this host built one, else the default."""
    configured = os.environ.get("AFTM_BASE_IMAGE")
    if configured:
        return configured
    try:
        docker("image", "inspect", LOCAL_BASE_IMAGE, timeout_s=30)
    except AssertionError:
        return None  # docker-compose.yml's default, pulled from a registry
    return LOCAL_BASE_IMAGE


@dataclass
class Stack:
    folder: Path
    context: Context
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    ports: dict[str, int] = field(default_factory=lambda: {k: free_port() for k in PORT_VARIABLES})
    password: str = field(default_factory=lambda: f"aftm-test-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        self.project = f"aftm-test-{self.run_id}"
        self.keys = self.folder / "keys"
        self.compose = DockerCompose(
            REPO,
            compose_file_name="docker-compose.yml",
            build=True,
            wait=True,
            env_file=str(self._write_env_file()),
        )

    def _write_env_file(self) -> Path:
        secret = self.folder / "broker-password.txt"
        secret.write_text(self.password + "\n")
        secret.chmod(0o644)  # compose bind-mounts it as is; the gateway runs as uid 10001
        values = {
            "COMPOSE_PROJECT_NAME": self.project,
            "AFTM_TAG": IMAGE_TAG,
            "AFTM_GATEWAY_PASSWORD_FILE": str(secret),
            "AFTM_KEYS_DIR": str(self.keys),  # the stack's keys service fills it on `up`
        } | {variable: str(self.ports[name]) for name, variable in PORT_VARIABLES.items()}
        if (image := base_image()) is not None:
            values["AFTM_BASE_IMAGE"] = image
        path = self.folder / "stack.env"
        path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
        return path

    def endpoint(self, name: str) -> str:
        return f"tcp://127.0.0.1:{self.ports[name]}"

    def image(self, service: str) -> str:
        return f"aftm/{service}:{IMAGE_TAG}"

    def curve(self, role: Role = Role.CONSOLE) -> Curve:
        """A role's keys as the stack's keys service made them (readable here: tests run as
        root, like the one-shot service that wrote them)."""
        return Curve.load(self.keys, role)

    def request(
        self, service: str, body: object, timeout_ms: int = 5000, role: Role = Role.CONSOLE
    ) -> object:
        """One request to a service's ROUTER through its published port, as `role` (the
        console unless said otherwise); the reply must be ok."""
        setup = self.curve(role).client(Role(service))
        client = ReliableClient(
            self.context, self.endpoint(service), timeout_ms=timeout_ms, setup=setup
        )
        try:
            reply = client.request(body)
        finally:
            client.close()
        assert reply.ok, f"{service} refused {body!r}: {reply.error_code} {reply.error}"
        return reply.body

    def broker_orders(self) -> tuple[OrderSnapshot, ...]:
        """Every order the broker holds, as the gateway lists it: where a duplicate would show."""
        listed = self.request("gateway", ListOrders())
        assert isinstance(listed, OrderList)
        return listed.orders

    def signals(self) -> tuple[Signal, ...]:
        listed = self.request("strategy", ListSignals(), role=Role.EXECUTOR)
        assert isinstance(listed, SignalList)
        return listed.signals

    def last_price(self, symbol: str) -> int:
        listed = self.request("gateway", ListFutures())
        assert isinstance(listed, FutureList)
        return next(future.last_price for future in listed.futures if future.symbol == symbol)

    def console(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`aftm ARGS` on the host, pointed at the stack's published ports."""
        env = os.environ | {
            "AFTM_CONSOLE_KEYS_DIR": str(self.keys),
            "AFTM_CONSOLE_INSECURE": "false",
            "AFTM_CONSOLE_GATEWAY_CONNECT": self.endpoint("gateway"),
            "AFTM_CONSOLE_GATEWAY_PUB_CONNECT": self.endpoint("gateway_pub"),
            "AFTM_CONSOLE_STRATEGY_CONNECT": self.endpoint("strategy"),
            "AFTM_CONSOLE_EXECUTOR_CONNECT": self.endpoint("executor"),
        }
        return subprocess.run(
            [sys.executable, "-m", "aftm_console", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.folder,  # no stray .env file of the checkout applies
            timeout=60,
            check=False,
        )

    def add_quick_condition(self, symbol: str, action: Side, *, quantity: int = 1) -> str:
        """Through the console: a condition that triggers at once, trails the price and enters
        on the first 3-point turn, then exits 10 points either way."""
        condition_id = f"c-{uuid.uuid4().hex[:8]}"
        price = self.last_price(symbol)
        trigger = price + 5 if action is Side.BUY else price - 5
        added = self.console(
            *("conditions", "add", "--id", condition_id, "--symbol", symbol),
            *("--action", action.value, "--trigger-price", str(trigger)),
            *("--quantity", str(quantity), "--turning-point", "3", "--following"),
            *("--take-profit-point", "10", "--stop-loss-point", "10"),
        )
        assert added.returncode == 0, f"aftm conditions add failed: {added.stderr}"
        return condition_id

    def broker_order(self, condition_id: str, kind: SignalKind) -> OrderSnapshot | None:
        """The broker's one order for a condition's entry or exit signal, once it is filled."""
        wanted = client_order_id(ACCOUNT, signal_id(condition_id, kind))
        found = [order for order in self.broker_orders() if order.client_order_id == wanted]
        assert len(found) <= 1, f"signal {signal_id(condition_id, kind)} ordered twice: {found}"
        return found[0] if found and found[0].status is OrderStatus.FILLED else None

    def container_id(self, service: str) -> str:
        return self.compose.get_container(service, include_all=True).ID or ""

    def health(self, service: str) -> str:
        state = docker(
            "inspect", "--format", "{{.State.Health.Status}}", self.container_id(service)
        )
        return state.strip()

    def prometheus(self, path: str, **query: str) -> object:
        url = f"http://127.0.0.1:{self.ports['prometheus']}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        status, body = http_json(url, timeout_s=10)
        assert status == 200, f"{url}: {status} {body}"
        assert body.get("status") == "success", f"{url}: {body}"
        return body["data"]

    def logs(self) -> str:
        stdout, stderr = self.compose.get_logs()
        return stdout + stderr

    def wait_for(self, probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
        """Poll `probe` until it returns something truthy; on timeout fail with the logs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{self.logs()}")


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title / legend, PromQL) for every query of the provisioned Grafana dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (f"{panel['title']} / {target.get('legendFormat', target['refId'])}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
