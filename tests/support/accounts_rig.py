"""One real gateway (the simulated exchange, several accounts) serving one real executor per
account, all as processes on 127.0.0.1; the strategy is played by the test, or run as real
strategy shards (`shards`: name -> symbols) each pushing to every executor.

`emit` does what every strategy shard does with a signal: stores it (a StrategyDouble answers
the executors' resync from that store) and pushes it to every executor through a real PUSH
socket per executor. The broker's side of the story comes from the gateway's own queries
(ListOrders, ListPositions), never from the executors under test.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import zmq

from aftm.domain.conditions import Condition
from aftm.domain.market import Tick
from aftm.domain.signals import Signal
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import (
    TICK_TOPIC,
    AddCondition,
    ExecutorStatus,
    GetExecutorStatus,
    ListOrders,
    ListPositions,
    OrderList,
    OrderSnapshot,
    PositionList,
    Reply,
)
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import make_socket
from tests.support.executor_rig import StrategyDouble
from tests.support.processes import ServiceProcess, endpoint, free_port

Context = zmq.Context[zmq.Socket[bytes]]
T = TypeVar("T")
ACCOUNTS = ("SIM-0001", "SIM-0002")
WAIT_S = 20.0


def answer(reply: Reply, kind: type[T]) -> T:
    """The body of a successful reply, of the kind asked for; fail with the reply if not."""
    assert reply.ok, reply
    assert isinstance(reply.body, kind), reply
    return reply.body


@dataclass
class AccountExecutor:
    """One executor with its fixed account, its own journal, ports and push socket."""

    account: str
    env: dict[str, str]
    metrics_port: int
    push: zmq.Socket[bytes]
    control: ReliableClient
    process: ServiceProcess | None = None
    runs: int = 0
    logs: list[Path] = field(default_factory=list)

    def status(self) -> ExecutorStatus:
        return answer(self.control.request(GetExecutorStatus()), ExecutorStatus)

    def book(self) -> dict[str, int]:
        """The executor's own positions, as it reports them, for its account."""
        positions = self.status().positions
        return {
            p.symbol: p.net_quantity
            for p in positions
            if p.account == self.account and p.net_quantity
        }

    def metric(self, sample: str) -> float | None:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(sample + " "):
                    return float(line.rsplit(" ", 1)[1])
        return None

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in self.logs[-2:])


class AccountsDesk:
    """`executors`: name -> account, one executor each (by default one per account, named by
    it; two names for one account make the twins an upgrade overlap could start)."""

    def __init__(
        self,
        folder: Path,
        context: Context,
        accounts: tuple[str, ...] = ACCOUNTS,
        executors: dict[str, str] | None = None,
        shards: dict[str, tuple[str, ...]] | None = None,
    ):
        self.folder, self.context = folder, context
        self.shards = shards or {}
        self.shard_controls = {name: endpoint() for name in self.shards}
        self.shard_processes: dict[str, ServiceProcess] = {}
        self.shard_ports = {name: free_port() for name in self.shards}
        (folder / "no-secrets").mkdir(exist_ok=True)
        self.gateway_pub, self.gateway_router = endpoint(), endpoint()
        self.gateway_metrics = free_port()
        self.gateway = ServiceProcess(
            "aftm_gateway",
            {
                "AFTM_SECRETS_DIR": str(folder / "no-secrets"),
                "AFTM_GATEWAY_PUB_BIND": self.gateway_pub,
                "AFTM_GATEWAY_ROUTER_BIND": self.gateway_router,
                "AFTM_GATEWAY_METRICS_PORT": str(self.gateway_metrics),
                "AFTM_GATEWAY_JOURNAL_PATH": str(folder / "gateway-journal.sqlite"),
                "AFTM_GATEWAY_SIM_STATE_PATH": str(folder / "sim-exchange.sqlite"),
                "AFTM_GATEWAY_SIM_ACCOUNTS": ",".join(accounts),
                "AFTM_GATEWAY_SIM_TICKS_PER_S": "50",
                "AFTM_GATEWAY_HEARTBEAT_S": "0.2",
            },
            folder / "gateway.log",
        )
        self.strategy = StrategyDouble(context)
        self.to_gateway = ReliableClient(context, self.gateway_router, timeout_ms=3000)
        named = executors or {account: account for account in accounts}
        self.executors = {name: self._executor(name, account) for name, account in named.items()}

    def _executor(self, name: str, account: str) -> AccountExecutor:
        signals, control, metrics_port = endpoint(), endpoint(), free_port()
        env = {
            "AFTM_SECRETS_DIR": str(self.folder / "no-secrets"),
            "AFTM_EXECUTOR_SIGNAL_BIND": signals,
            "AFTM_EXECUTOR_CONTROL_BIND": control,
            "AFTM_EXECUTOR_GATEWAY_CONNECT": self.gateway_router,
            "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": self.gateway_pub,
            "AFTM_EXECUTOR_STRATEGY_CONNECT": ",".join(self.shard_controls.values())
            or self.strategy.endpoint,
            "AFTM_EXECUTOR_METRICS_PORT": str(metrics_port),
            "AFTM_EXECUTOR_JOURNAL_PATH": str(self.folder / f"executor-{name}.sqlite"),
            "AFTM_EXECUTOR_ACCOUNT": account,
            "AFTM_EXECUTOR_ACCOUNT_FIXED": "true",
            "AFTM_EXECUTOR_REQUEST_TIMEOUT_MS": "1000",
            "AFTM_EXECUTOR_RECONCILE_INTERVAL_S": "1",
            "AFTM_EXECUTOR_RECONCILE_SETTLE_S": "0.5",
            "AFTM_EXECUTOR_RESYNC_INTERVAL_S": "1",
            # Entries recovered after a kill are still fresh: the test judges "nothing lost".
            "AFTM_EXECUTOR_MAX_ENTRY_AGE_S": "120",
        }
        push = make_socket(self.context, zmq.PUSH, connect=signals)
        control_client = ReliableClient(self.context, control, timeout_ms=3000)
        return AccountExecutor(account, env, metrics_port, push, control_client)

    # --- processes ------------------------------------------------------------------------

    def start(self) -> AccountsDesk:
        self.gateway.start()
        self.gateway.wait_healthy(self.gateway_metrics)
        for name in self.shards:
            self.start_shard(name)
        for name in self.executors:
            self.start_executor(name)
        return self

    def start_executor(self, name: str, **env: str) -> ServiceProcess:
        executor = self.executors[name]
        executor.runs += 1
        log = self.folder / f"executor-{name}-{executor.runs}.log"
        executor.logs.append(log)
        executor.process = ServiceProcess("aftm_executor", {**executor.env, **env}, log).start()
        executor.process.wait_healthy(executor.metrics_port)
        return executor.process

    def start_shard(self, name: str) -> ServiceProcess:
        env = {
            "AFTM_SECRETS_DIR": str(self.folder / "no-secrets"),
            "AFTM_STRATEGY_TICK_CONNECT": self.gateway_pub,
            "AFTM_STRATEGY_SIGNAL_CONNECT": ",".join(
                e.env["AFTM_EXECUTOR_SIGNAL_BIND"] for e in self.executors.values()
            ),
            "AFTM_STRATEGY_CONTROL_BIND": self.shard_controls[name],
            "AFTM_STRATEGY_STORE_PATH": str(self.folder / f"strategy-{name}.sqlite"),
            "AFTM_STRATEGY_SHARD": name,
            "AFTM_STRATEGY_SYMBOLS": ",".join(self.shards[name]),
            "AFTM_STRATEGY_METRICS_PORT": str(self.shard_ports[name]),
        }
        runs = sum(1 for path in self.folder.glob(f"strategy-{name}-*.log")) + 1
        log = self.folder / f"strategy-{name}-{runs}.log"
        process = ServiceProcess("aftm_strategy", env, log).start()
        self.shard_processes[name] = process
        process.wait_healthy(self.shard_ports[name])
        return process

    def add_condition(self, shard: str, condition: Condition) -> None:
        client = ReliableClient(self.context, self.shard_controls[shard], timeout_ms=3000)
        try:
            reply = client.request(AddCondition(condition))
        finally:
            client.close()
        assert reply.ok, reply

    def last_price(self, symbol: str) -> int:
        sub = make_socket(self.context, zmq.SUB, connect=self.gateway_pub, subscribe=(TICK_TOPIC,))
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if sub.poll(100):
                    tick = decode(sub.recv_multipart()[1])
                    if isinstance(tick, Tick) and tick.symbol == symbol:
                        return tick.price
        finally:
            sub.close()
        raise AssertionError(f"no {symbol} tick within 10 s")

    def kill_executor(self, name: str) -> None:
        process = self.executors[name].process
        assert process is not None
        process.kill()

    # --- the strategy's part ----------------------------------------------------------------

    def emit(self, signal: Signal) -> None:
        """Store the signal where the executors' resync finds it, then push it to each."""
        self.strategy.signals.append(signal)
        payload = encode(signal)
        for executor in self.executors.values():
            executor.push.send(payload)

    # --- the broker's record ----------------------------------------------------------------

    def broker_orders(self) -> list[OrderSnapshot]:
        """Every order the broker lists, every account's, oldest first."""
        orders: list[OrderSnapshot] = []
        after, more = 0, True
        while more:
            page = answer(self.to_gateway.request(ListOrders(after=after)), OrderList)
            orders.extend(page.orders)
            after, more = page.last, page.more
        return orders

    def broker_positions(self, account: str) -> dict[str, int]:
        listed = answer(self.to_gateway.request(ListPositions(account=account)), PositionList)
        return {p.symbol: p.net_quantity for p in listed.positions if p.net_quantity}

    def logs(self) -> str:
        parts = [f"--- gateway\n{self.gateway.log()}"]
        parts += [f"--- executor {a}\n{e.log()}" for a, e in self.executors.items()]
        parts += [f"--- strategy {n}\n{p.log()}" for n, p in self.shard_processes.items()]
        return "\n".join(parts)

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"gave up waiting for {what}\n{self.logs()}")

    def close(self) -> None:
        for executor in self.executors.values():
            if executor.process is not None:
                executor.process.kill()
            executor.control.close()
            executor.push.close()
        for process in self.shard_processes.values():
            process.kill()
        self.gateway.kill()
        self.to_gateway.close()
        self.strategy.close()
