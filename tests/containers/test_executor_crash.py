"""The executor container is killed (SIGKILL) while the stack trades and started again: every
signal the strategy emitted ends as exactly one broker order (DESIGN.md principles 4 and 5).

The gateway's ListOrders is the witness: it lists what the broker itself holds, so an order
sent twice under one client order id, or never sent, shows there."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from aftm.domain.signals import SignalKind, signal_id
from aftm.domain.types import OrderStatus, Side
from aftm_executor.trades import client_order_id
from tests.containers.stack import ACCOUNT, Stack, docker

pytestmark = pytest.mark.slow
BEFORE_KILL = (("TXFL6", Side.BUY), ("MXFL6", Side.SELL), ("TMFL6", Side.BUY))
WHILE_DOWN = (("TXFL6", Side.SELL), ("TMFL6", Side.SELL))
EXIT = SignalKind.TAKE_PROFIT  # take profit and stop loss share the exit's signal id


def entries_at_broker(stack: Stack, condition_ids: list[str]) -> int:
    wanted = {client_order_id(ACCOUNT, signal_id(c, SignalKind.ENTRY)) for c in condition_ids}
    return sum(order.client_order_id in wanted for order in stack.broker_orders())


def entries_signalled(stack: Stack, condition_ids: list[str]) -> bool:
    signalled = {signal.condition_id for signal in stack.signals()}
    return signalled.issuperset(condition_ids)


def unsettled(stack: Stack, condition_ids: list[str]) -> list[str]:
    """The conditions not yet settled: settled is entry and exit both filled at the broker, or
    the exit signalled with no entry at the broker (an entry refused as stale: an executor that
    was down does not send entries older than its maximum age when it comes back)."""
    status = {order.client_order_id: order.status for order in stack.broker_orders()}
    exited = {s.condition_id for s in stack.signals() if s.kind.is_exit}
    pending = []
    for condition_id in condition_ids:
        entry = status.get(client_order_id(ACCOUNT, signal_id(condition_id, SignalKind.ENTRY)))
        exit_ = status.get(client_order_id(ACCOUNT, signal_id(condition_id, EXIT)))
        round_trip = entry is OrderStatus.FILLED and exit_ is OrderStatus.FILLED
        if not round_trip and not (entry is None and condition_id in exited):
            pending.append(condition_id)
    return pending


def test_executor_killed_mid_run_loses_no_signal_and_duplicates_no_order(stack: Stack) -> None:
    first = [stack.add_quick_condition(symbol, action) for symbol, action in BEFORE_KILL]
    stack.wait_for(lambda: entries_at_broker(stack, first), 90, "the first entry at the broker")
    executor = stack.container_id("executor")
    docker("kill", executor)

    # Signals emitted while no executor runs: it must catch up on them after its restart.
    later = [stack.add_quick_condition(symbol, action) for symbol, action in WHILE_DOWN]
    stack.wait_for(lambda: entries_signalled(stack, later), 90, "entries signalled while down")
    docker("start", executor)
    stack.wait_for(lambda: stack.health("executor") == "healthy", 60, "the executor healthy")

    stack.wait_for(lambda: not unsettled(stack, first + later), 120, "every condition settled")
    time.sleep(2.0)  # a duplicate or a late entry would have reached the broker by now
    placed = Counter(order.client_order_id for order in stack.broker_orders())
    assert [cid for cid, count in placed.items() if count > 1] == []
    # The conditions traded before the kill went in and out; none is left open.
    for condition_id in first + later:
        entry = placed[client_order_id(ACCOUNT, signal_id(condition_id, SignalKind.ENTRY))]
        exit_ = placed[client_order_id(ACCOUNT, signal_id(condition_id, EXIT))]
        assert entry == exit_, f"{condition_id}: {entry} entry and {exit_} exit orders"
    assert entries_at_broker(stack, first) >= 1
