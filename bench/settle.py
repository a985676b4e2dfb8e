"""The chaos soak's settle phase: no new trades, the open ones closed, the executor caught up.

Every condition is removed through the strategy's control socket (so no new signal fires), then
the executor is asked to flatten (the wire's `Flatten`, as `aftm flatten` does) every few seconds
until its journal shows every trade done and no order without a known outcome, or the time is up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from aftm.wire.protocol import ConditionList, Flatten, ListConditions, RemoveCondition
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from bench.journals import executor_backlog

FLATTEN_EVERY_S = 2.0
SIGNAL_DRAIN_S = 1.0  # after the conditions went: signals already pushed reach the executor
FILL_DRAIN_S = 1.0  # after the trades are done: their last reports reach the executor


@dataclass
class Settle:
    seconds: float = 0.0
    flattens: int = 0
    conditions_removed: int = 0
    trades_not_done: int = -1  # as the executor journal says at the end; -1: never read
    unresolved_orders: int = -1
    notes: list[str] = field(default_factory=list)


def settle(
    strategy: ReliableClient, executor: ReliableClient, journal: Path, settle_s: float
) -> Settle:
    """Stop new trades, close the open ones, wait until the executor's trades are done.
    `journal`: the executor's, read to see when it is done."""
    started = time.monotonic()
    deadline = started + settle_s
    outcome = Settle()
    outcome.conditions_removed = remove_conditions(strategy, deadline, outcome.notes)
    time.sleep(SIGNAL_DRAIN_S)
    while True:
        outcome.flattens += ask(executor, Flatten(), outcome.notes)
        time.sleep(FLATTEN_EVERY_S)
        outcome.trades_not_done, outcome.unresolved_orders = executor_backlog(journal)
        if outcome.trades_not_done == outcome.unresolved_orders == 0:
            break
        if time.monotonic() >= deadline:
            outcome.notes.append(f"settle ended after {settle_s} s with trades not done")
            break
    time.sleep(FILL_DRAIN_S)
    outcome.seconds = round(time.monotonic() - started, 1)
    return outcome


def remove_conditions(strategy: ReliableClient, deadline: float, notes: list[str]) -> int:
    removed = 0
    while time.monotonic() < deadline:
        try:
            reply = strategy.request(ListConditions(), retries=2)
        except RequestTimedOut:
            continue
        if not reply.ok or not isinstance(reply.body, ConditionList):
            notes.append(f"list conditions refused: {reply.error}")
            return removed
        if not reply.body.conditions:
            return removed
        for condition in reply.body.conditions:
            removed += ask(strategy, RemoveCondition(condition.id), notes)
    notes.append("conditions still there at the settle deadline")
    return removed


def ask(client: ReliableClient, body: object, notes: list[str]) -> int:
    """1 if the request was answered ok; a refusal or silence is noted, not raised."""
    try:
        reply = client.request(body)
    except RequestTimedOut as silent:
        notes.append(f"{type(body).__name__}: {silent}")
        return 0
    if not reply.ok:
        notes.append(f"{type(body).__name__} refused: {reply.error_code} {reply.error}")
    return int(reply.ok)
