"""The three services as real processes on 127.0.0.1, wired to each other on fixed free ports.

Ports are chosen once, so a killed service restarts where its peers expect it; state files live
in the test's folder and survive restarts, as volumes would.

Every socket is CURVE-secured as shipped: the pipeline makes a key pair per role in its folder,
and its own clients speak as the console (or the role a test names).

The gateway's broker is the simulated exchange by default; `broker="pfcf-double"` runs it on the
PFCF adapter over the .NET test double (tests/support/dotnet.py), whose state file is then the
broker's truth that `broker_orders` reads.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import zmq

from aftm.domain.market import Tick
from aftm.security import keys
from aftm.security.roles import Role
from aftm.security.transport import Curve
from aftm.wire.codec import decode
from aftm.wire.protocol import TICK_TOPIC
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import make_socket
from tests.support import dotnet
from tests.support.processes import ServiceProcess, endpoint, free_port, keyed_env

Context = zmq.Context[zmq.Socket[bytes]]
T = TypeVar("T")
SERVICES = ("gateway", "strategy", "executor")
BROKERS = ("sim", "pfcf-double")


@dataclass(frozen=True)
class BrokerOrder:
    client_order_id: str
    side: str
    quantity: int
    status: str


class Pipeline:
    def __init__(
        self, folder: Path, context: Context, broker: str = "sim", **extra_env: dict[str, str]
    ) -> None:
        self.folder, self.context, self.broker = folder, context, broker
        self.double_state = folder / "pfcf-double-state.tsv"
        self.gateway_pub, self.gateway_router = endpoint(), endpoint()
        self.strategy_control, self.executor_signals = endpoint(), endpoint()
        self.executor_control = endpoint()
        self.metrics_ports = {name: free_port() for name in SERVICES}
        self.sim_state = folder / "sim-exchange.sqlite"
        self.processes: dict[str, ServiceProcess] = {}
        self.runs = dict.fromkeys(SERVICES, 0)
        self.keys = folder / "keys"
        keys.create(self.keys)
        (folder / "no-secrets").mkdir()  # an empty secrets folder: no host secret applies
        self.envs = {name: {**self._base_env(name), **extra_env.get(name, {})} for name in SERVICES}

    def _base_env(self, name: str) -> dict[str, str]:
        common = {
            "AFTM_SECRETS_DIR": str(self.folder / "no-secrets"),
            f"AFTM_{name.upper()}_METRICS_PORT": str(self.metrics_ports[name]),
            **keyed_env(f"aftm_{name}", self.keys),
        }
        if name == "gateway":
            return common | {
                "AFTM_GATEWAY_PUB_BIND": self.gateway_pub,
                "AFTM_GATEWAY_ROUTER_BIND": self.gateway_router,
                "AFTM_GATEWAY_JOURNAL_PATH": str(self.folder / "gateway-journal.sqlite"),
                "AFTM_GATEWAY_SIM_STATE_PATH": str(self.sim_state),
                "AFTM_GATEWAY_SIM_TICKS_PER_S": "200",
                "AFTM_GATEWAY_HEARTBEAT_S": "0.2",
                **self._broker_env(),
            }
        if name == "strategy":
            return common | {
                "AFTM_STRATEGY_TICK_CONNECT": self.gateway_pub,
                "AFTM_STRATEGY_SIGNAL_CONNECT": self.executor_signals,
                "AFTM_STRATEGY_CONTROL_BIND": self.strategy_control,
                "AFTM_STRATEGY_STORE_PATH": str(self.folder / "strategy.sqlite"),
            }
        return common | {
            "AFTM_EXECUTOR_SIGNAL_BIND": self.executor_signals,
            "AFTM_EXECUTOR_CONTROL_BIND": self.executor_control,
            "AFTM_EXECUTOR_GATEWAY_CONNECT": self.gateway_router,
            "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": self.gateway_pub,
            "AFTM_EXECUTOR_STRATEGY_CONNECT": self.strategy_control,
            "AFTM_EXECUTOR_JOURNAL_PATH": str(self.folder / "executor-journal.sqlite"),
            "AFTM_EXECUTOR_ACCOUNT": "SIM-0001",
            "AFTM_EXECUTOR_REQUEST_TIMEOUT_MS": "1000",
            "AFTM_EXECUTOR_MARKET_RULES": "always_open",  # the sim trades at any hour
        }

    def _broker_env(self) -> dict[str, str]:
        if self.broker == "sim":
            return {}
        return dotnet.gateway_env(dotnet.double_dll(), self.double_state)

    def start(self, name: str, *, wait: bool = True, **env: str) -> ServiceProcess:
        self.runs[name] += 1
        log = self.folder / f"{name}-{self.runs[name]}.log"
        merged = {**self.envs[name], **env}
        if self.broker == "pfcf-double" and "AFTM_GATEWAY_FAULT_DELAY_MS" in merged:
            # The sim's "record, then answer late" fault is the double's delayed reply.
            merged["PFCF_DOUBLE_REPLY_DELAY_MS"] = merged["AFTM_GATEWAY_FAULT_DELAY_MS"]
        process = ServiceProcess(f"aftm_{name}", merged, log).start()
        self.processes[name] = process
        if wait:
            process.wait_healthy(self.metrics_ports[name])
        return process

    def start_all(self) -> Pipeline:
        for name in SERVICES:
            self.start(name)
        return self

    def kill(self, name: str) -> None:
        self.processes[name].kill()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.kill()

    def curve(self, role: Role = Role.CONSOLE) -> Curve:
        return Curve.load(self.keys, role)

    def client(
        self, name: str, timeout_ms: int = 3000, *, role: Role = Role.CONSOLE
    ) -> ReliableClient:
        target = {
            "gateway": self.gateway_router,
            "strategy": self.strategy_control,
            "executor": self.executor_control,
        }[name]
        setup = self.curve(role).client(Role(name))
        return ReliableClient(self.context, target, timeout_ms=timeout_ms, setup=setup)

    def last_price(self, symbol: str, timeout_s: float = 10.0) -> int:
        sub = make_socket(
            self.context,
            zmq.SUB,
            connect=self.gateway_pub,
            subscribe=(TICK_TOPIC,),
            setup=self.curve().client(Role.GATEWAY),
        )
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if sub.poll(100):
                    tick = decode(sub.recv_multipart()[1])
                    if isinstance(tick, Tick) and tick.symbol == symbol:
                        return tick.price
        finally:
            sub.close()
        raise AssertionError(f"no {symbol} tick within {timeout_s}s")

    def broker_orders(self) -> list[BrokerOrder]:
        """What the broker itself recorded: the truth a duplicate would show in."""
        if self.broker == "pfcf-double":
            return [
                BrokerOrder(order.client_order_id, order.side, order.quantity, order.status)
                for order in dotnet.read_orders(self.double_state)
            ]
        if not self.sim_state.exists():
            return []
        with closing(sqlite3.connect(self.sim_state, timeout=5)) as db:
            rows = db.execute(
                "SELECT client_order_id, side, quantity, status FROM orders ORDER BY rowid"
            ).fetchall()
        return [BrokerOrder(*row) for row in rows]

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log()}" for name, p in self.processes.items())


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str, pipeline: Pipeline) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{pipeline.logs()}")
