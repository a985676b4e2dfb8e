"""The stack trades: a condition created with the `aftm` console on the host, against the
containerised strategy, fires on the simulated exchange's ticks and becomes broker orders."""

from __future__ import annotations

import pytest

from aftm.domain.signals import SignalKind
from aftm.domain.types import Side
from tests.containers.stack import Stack

pytestmark = pytest.mark.slow
SYMBOL = "TXFL6"
ACCOUNT = "SIM-0001"  # AFTM_EXECUTOR_ACCOUNT in docker-compose.yml


@pytest.mark.parametrize("action", [Side.BUY, Side.SELL])
def test_a_condition_added_with_the_console_enters_and_exits_at_the_broker(
    stack: Stack, action: Side
) -> None:
    condition_id = stack.add_quick_condition(SYMBOL, action, quantity=2)

    entry = stack.wait_for(
        lambda: stack.broker_order(condition_id, SignalKind.ENTRY), 90, "the entry filled"
    )
    exit_order = stack.wait_for(
        lambda: stack.broker_order(condition_id, SignalKind.TAKE_PROFIT), 90, "the exit filled"
    )

    assert (entry.account, entry.symbol, entry.side, entry.quantity) == (ACCOUNT, SYMBOL, action, 2)
    assert (exit_order.side, exit_order.quantity) == (action.opposite, 2)
    listed = stack.console("conditions", "list")
    assert listed.returncode == 0, listed.stderr
    assert condition_id in listed.stdout
