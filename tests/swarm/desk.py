"""Talking to the swarm stack from the host, through its published ports and with its keys:
the broker's own state through the gateway, signals from each shard, each executor's book, and
the `aftm` console pointed at every shard and executor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import zmq

from aftm.domain.positions import Position
from aftm.domain.signals import Signal
from aftm.domain.types import Side
from aftm.security.roles import Role
from aftm.security.transport import Curve
from aftm.wire.protocol import (
    FutureList,
    ListFutures,
    ListOrders,
    ListPositions,
    ListSignals,
    OrderList,
    OrderSnapshot,
    PositionList,
    Reconcile,
    Reconciliation,
    SignalList,
)
from aftm.wire.reliable import ReliableClient
from tests.support.processes import http_json
from tests.swarm.cluster import DeployedStack

Context = zmq.Context[zmq.Socket[bytes]]
# Which shard owns which symbols, and which executor trades which account: as stack.yml says.
SHARDS = {"strategy-a": ("a", ("TXFL6", "MXFL6")), "strategy-b": ("b", ("TMFL6",))}
EXECUTORS = {"executor-1": "SIM-0001", "executor-2": "SIM-0002"}


@dataclass
class Desk:
    stack: DeployedStack
    context: Context

    def endpoint(self, name: str) -> str:
        return f"tcp://127.0.0.1:{self.stack.ports[name]}"

    def request(self, name: str, role: Role, body: object, as_role: Role = Role.CONSOLE) -> object:
        """One request to `name`'s ROUTER (a service of role `role`), as `as_role`; it must be
        answered ok."""
        setup = Curve.load(self.stack.keys, as_role).client(role)
        client = ReliableClient(self.context, self.endpoint(name), timeout_ms=5000, setup=setup)
        try:
            reply = client.request(body)
        finally:
            client.close()
        assert reply.ok, f"{name} refused {body!r}: {reply.error_code} {reply.error}"
        return reply.body

    # --- the broker, through the gateway ------------------------------------------------------
    def broker_orders(self) -> tuple[OrderSnapshot, ...]:
        listed = self.request("gateway", Role.GATEWAY, ListOrders())
        assert isinstance(listed, OrderList)
        assert not listed.more, "more broker orders than one page: the test expects a few"
        return listed.orders

    def broker_positions(self, account: str) -> dict[str, int]:
        """The broker's net lots by symbol for one account (flat symbols left out)."""
        listed = self.request("gateway", Role.GATEWAY, ListPositions(account=account))
        assert isinstance(listed, PositionList)
        return net_lots(p for p in listed.positions if p.account == account)

    def last_price(self, symbol: str) -> int:
        listed = self.request("gateway", Role.GATEWAY, ListFutures())
        assert isinstance(listed, FutureList)
        return next(future.last_price for future in listed.futures if future.symbol == symbol)

    # --- the strategies and executors -----------------------------------------------------------
    def signals(self) -> tuple[Signal, ...]:
        """Every signal of every shard, as the executors pull them."""
        found: list[Signal] = []
        for shard in SHARDS:
            listed = self.request(shard, Role.STRATEGY, ListSignals(), as_role=Role.EXECUTOR)
            assert isinstance(listed, SignalList)
            found.extend(listed.signals)
        return tuple(found)

    def book(self, executor: str) -> dict[str, int]:
        """The executor's own book after a reconciliation it runs now, by symbol."""
        done = self.request(executor, Role.EXECUTOR, Reconcile())
        assert isinstance(done, Reconciliation)
        account = EXECUTORS[executor]
        return {c.symbol: c.book for c in done.positions if c.account == account and c.book}

    # --- Prometheus -----------------------------------------------------------------------------
    def scraped(self) -> dict[str, str]:
        """Prometheus's scrape targets of the `aftm` job: task -> health (up, down, unknown)."""
        url = f"http://127.0.0.1:{self.stack.ports['prometheus']}/api/v1/targets"
        status, body = http_json(url, timeout_s=10)
        assert status == 200, f"{url}: {status} {body}"
        data = body["data"]
        assert isinstance(data, dict), f"{url}: {body}"
        return {
            target["labels"]["task"]: target["health"]
            for target in data["activeTargets"]
            if target["labels"].get("job") == "aftm"
        }

    # --- the console ----------------------------------------------------------------------------
    def console(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`aftm ARGS` on the host with the console's key, over every shard and executor."""
        env = os.environ | {
            "AFTM_CONSOLE_KEYS_DIR": str(self.stack.keys),
            "AFTM_CONSOLE_INSECURE": "false",
            "AFTM_CONSOLE_GATEWAY_CONNECT": self.endpoint("gateway"),
            "AFTM_CONSOLE_GATEWAY_PUB_CONNECT": self.endpoint("gateway_pub"),
            "AFTM_CONSOLE_STRATEGY_CONNECT": ",".join(self.endpoint(s) for s in SHARDS),
            "AFTM_CONSOLE_EXECUTOR_CONNECT": ",".join(self.endpoint(e) for e in EXECUTORS),
        }
        return subprocess.run(
            [sys.executable, "-m", "aftm_console", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.stack.folder,  # no stray .env file of the checkout applies
            timeout=60,
            check=False,
        )

    def add_condition(self, symbol: str, action: Side, *, quantity: int, exit_points: int) -> str:
        """Through the console, which routes it to the shard owning `symbol`: a condition that
        triggers at once, enters on the first 3-point turn and exits `exit_points` either way."""
        shard = next(name for name, symbols in SHARDS.values() if symbol in symbols)
        condition_id = f"{shard}.c-{uuid.uuid4().hex[:8]}"
        price = self.last_price(symbol)
        trigger = price + 5 if action is Side.BUY else price - 5
        added = self.console(
            *("conditions", "add", "--id", condition_id, "--symbol", symbol),
            *("--action", action.value, "--trigger-price", str(trigger)),
            *("--quantity", str(quantity), "--turning-point", "3", "--following"),
            *("--take-profit-point", str(exit_points), "--stop-loss-point", str(exit_points)),
        )
        assert added.returncode == 0, f"aftm conditions add failed: {added.stderr}"
        return condition_id

    def console_positions(self) -> dict[str, dict[str, dict[str, int]]]:
        """`aftm positions --json`: by account, by symbol, the book's and the broker's lots."""
        shown = self.console("positions", "--json")
        assert shown.returncode == 0, f"aftm positions --json failed: {shown.stderr}"
        found: dict[str, dict[str, dict[str, int]]] = {}
        for document in json_documents(shown.stdout):
            rows = document.get("positions", [])
            assert isinstance(rows, list), f"positions is not a list: {document}"
            for row in rows:
                lots = {"book": int(row["book"]), "broker": int(row["broker"])}
                found.setdefault(row["account"], {})[row["symbol"]] = lots
        return found


def net_lots(positions: Iterable[Position]) -> dict[str, int]:
    lots: dict[str, int] = {}
    for position in positions:
        if position.net_quantity:
            lots[position.symbol] = lots.get(position.symbol, 0) + position.net_quantity
    return lots


def json_documents(text: str) -> list[dict[str, Any]]:
    """One JSON document (an object, or a list of them per executor)."""
    parsed = json.loads(text)
    return parsed if isinstance(parsed, list) else [parsed]
