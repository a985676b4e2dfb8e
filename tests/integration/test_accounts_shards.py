"""Issue 14's desk on one host, every part a real process: two strategy shards (TX on s1, MTX on
s2), each pushing every signal to two executors on two sim accounts, one gateway. Conditions
on both shards trade on both accounts, and an executor that was down while they fired catches
up from both shards. Judged from the gateway's ListOrders and ListPositions."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from aftm.domain.conditions import Condition
from aftm.domain.signals import SignalKind, signal_id
from aftm.domain.types import OrderStatus, Side
from aftm_executor.trades import client_order_id
from tests.support.accounts_rig import ACCOUNTS, AccountsDesk, Context

pytestmark = pytest.mark.slow
SHARDS: dict[str, tuple[str, ...]] = {"s1": ("TXFL6",), "s2": ("MXFL6",)}
WAIT_S = 90.0  # a random walk decides when a condition enters and exits


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[AccountsDesk]:
    context: Context = zmq.Context()
    rig = AccountsDesk(tmp_path, context, shards=SHARDS)
    try:
        yield rig.start()
    finally:
        rig.close()
        context.destroy(linger=0)


def add_quick_condition(desk: AccountsDesk, shard: str) -> str:
    """A buy on the shard's symbol that triggers at once, trails down, enters on the first
    3-point bounce and exits 10 points either way."""
    symbol = SHARDS[shard][0]
    price = desk.last_price(symbol)
    condition = Condition(
        id=f"{shard}.q-{uuid.uuid4().hex[:8]}",
        symbol=symbol,
        action=Side.BUY,
        trigger_price=price + 5,
        quantity=1,
        turning_point=3,
        take_profit_point=10,
        stop_loss_point=10,
        is_following=True,
    )
    desk.add_condition(shard, condition)
    return condition.id


def filled_at_broker(desk: AccountsDesk) -> set[tuple[str, str]]:
    return {
        (o.account, o.client_order_id)
        for o in desk.broker_orders()
        if o.status is OrderStatus.FILLED
    }


def legs(account: str, condition: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """(account, client order id) of a condition's entry and exit on `account`."""
    entry, exit_ = (
        (account, client_order_id(account, signal_id(condition, kind)))
        for kind in (SignalKind.ENTRY, SignalKind.TAKE_PROFIT)
    )
    return entry, exit_


def round_trips(desk: AccountsDesk, conditions: list[str], accounts: tuple[str, ...]) -> bool:
    """Every condition's entry and exit filled at the broker on every one of `accounts`."""
    filled = filled_at_broker(desk)
    return all(
        leg in filled
        for account in accounts
        for condition in conditions
        for leg in legs(account, condition)
    )


def settled_or_refused(desk: AccountsDesk, conditions: list[str], account: str) -> bool:
    """Each condition's entry and exit both filled on `account`, or neither sent: an entry an
    executor still held (at its start) when the exit came is refused, logged and counted."""
    filled, sent = (
        filled_at_broker(desk),
        {(o.account, o.client_order_id) for o in desk.broker_orders()},
    )
    for condition in conditions:
        entry, exit_ = legs(account, condition)
        if not ({entry, exit_} <= filled or not {entry, exit_} & sent):
            return False
    return True


def flat_everywhere(desk: AccountsDesk) -> bool:
    return all(desk.broker_positions(e.account) == {} == e.book() for e in desk.executors.values())


def test_conditions_on_both_shards_trade_on_both_accounts_and_a_dead_executor_catches_up(
    desk: AccountsDesk,
) -> None:
    live, restarted = ACCOUNTS
    first = [add_quick_condition(desk, shard) for shard in SHARDS]
    desk.wait_for(
        "both shards' conditions round trip on both accounts",
        lambda: round_trips(desk, first, ACCOUNTS),
        WAIT_S,
    )

    desk.kill_executor(restarted)
    later = [add_quick_condition(desk, shard) for shard in SHARDS]
    desk.start_executor(restarted)  # catches up from both shards' backlogs and stores

    desk.wait_for(
        "the later conditions on both accounts",
        lambda: round_trips(desk, later, (live,)) and settled_or_refused(desk, later, restarted),
        WAIT_S,
    )
    desk.wait_for("every book flat with its account at the broker", lambda: flat_everywhere(desk))
    time.sleep(1.0)  # a duplicate would have reached the broker by now
    orders = desk.broker_orders()
    assert [i for i, n in Counter(o.client_order_id for o in orders).items() if n > 1] == []
    assert sum(o.account == live for o in orders) == 2 * len(first + later)
    assert settled_or_refused(desk, later, restarted)
