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
from aftm_executor.sizing import client_order_id
from tests.containers.stack import Stack, docker

pytestmark = pytest.mark.slow
BEFORE_KILL = (("TXFL6", Side.BUY), ("MXFL6", Side.SELL), ("TMFL6", Side.BUY))
WHILE_DOWN = (("TXFL6", Side.SELL), ("TMFL6", Side.SELL))
EXIT = SignalKind.TAKE_PROFIT  # take profit and stop loss share the exit's signal id


def entries_at_broker(stack: Stack, condition_ids: list[str]) -> int:
    wanted = {client_order_id(signal_id(c, SignalKind.ENTRY)) for c in condition_ids}
    return sum(order.client_order_id in wanted for order in stack.broker_orders())


def entries_signalled(stack: Stack, condition_ids: list[str]) -> bool:
    signalled = {signal.condition_id for signal in stack.signals()}
    return signalled.issuperset(condition_ids)


def unfilled(stack: Stack, condition_ids: list[str]) -> list[str]:
    """The entry and exit signals of `condition_ids` that have no filled broker order yet."""
    status = {order.client_order_id: order.status for order in stack.broker_orders()}
    return [
        signal
        for condition_id in condition_ids
        for signal in (signal_id(condition_id, SignalKind.ENTRY), signal_id(condition_id, EXIT))
        if status.get(client_order_id(signal)) is not OrderStatus.FILLED
    ]


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

    stack.wait_for(lambda: not unfilled(stack, first + later), 120, "every entry and exit filled")
    signals = stack.signals()
    time.sleep(2.0)  # a duplicate sent late would have reached the broker by now
    placed = Counter(order.client_order_id for order in stack.broker_orders())
    assert [cid for cid, count in placed.items() if count > 1] == []
    lost = [s.id for s in signals if placed[client_order_id(s.id)] != 1]
    assert lost == [], f"signals without a broker order: {lost}"
