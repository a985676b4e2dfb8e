"""One executor per account on one gateway: the same signals trade on every account, each
executor acts only on its own account's orders, fills and positions, and a killed executor
loses and duplicates nothing. Judged from the gateway's own queries (tests/support/accounts_rig.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import zmq

from aftm.domain.signals import Signal
from aftm.domain.types import OrderStatus, Side
from aftm.wire.protocol import ErrorCode, ManualOrder, SelectAccount
from aftm_executor.trades import client_order_id
from tests.support.accounts_rig import ACCOUNTS, AccountsDesk, Context
from tests.support.executor_rig import a_signal, an_exit
from tests.support.processes import ServiceProcess, endpoint, free_port

pytestmark = pytest.mark.slow
FINAL = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[AccountsDesk]:
    context: Context = zmq.Context()
    rig = AccountsDesk(tmp_path, context)
    try:
        yield rig.start()
    finally:
        rig.close()
        context.destroy(linger=0)


def an_entry(condition: str, side: Side, quantity: int, symbol: str = "TXFL6") -> Signal:
    return replace(a_signal(side, condition=condition, quantity=quantity), symbol=symbol)


def orders_by_account(desk: AccountsDesk) -> dict[str, list[str]]:
    """The broker's final orders per account: their client order ids."""
    found: dict[str, list[str]] = {account: [] for account in ACCOUNTS}
    for order in desk.broker_orders():
        if order.status in FINAL:
            found.setdefault(order.account, []).append(order.client_order_id)
    return found


def settled(desk: AccountsDesk, orders_each: int) -> dict[str, list[str]] | None:
    found = orders_by_account(desk)
    return found if all(len(found[a]) == orders_each for a in ACCOUNTS) else None


def agree(desk: AccountsDesk, wanted: dict[str, int]) -> bool:
    """Every account holds `wanted` at the broker, and each executor's book says the same."""
    return all(
        desk.broker_positions(executor.account) == wanted == executor.book()
        for executor in desk.executors.values()
    )


def test_two_executors_trade_the_same_signals_each_on_its_own_account(
    desk: AccountsDesk,
) -> None:
    entries = [
        an_entry("c1", Side.BUY, 1),
        an_entry("c2", Side.SELL, 2),
        an_entry("c3", Side.BUY, 1, symbol="MXFL6"),
    ]
    for entry in entries:
        desk.emit(entry)
    desk.wait_for("every entry filled on both accounts", lambda: settled(desk, 3))
    desk.emit(an_exit(entries[0]))

    found = desk.wait_for("the exit filled on both accounts", lambda: settled(desk, 4))
    every_id = [order_id for ids in found.values() for order_id in ids]
    assert [i for i, n in Counter(every_id).items() if n > 1] == []  # no id placed twice
    assert all(order.status is OrderStatus.FILLED for order in desk.broker_orders())
    wanted = {"TXFL6": -2, "MXFL6": 1}
    desk.wait_for("each book to equal its account at the broker", lambda: agree(desk, wanted))


def test_two_executors_of_one_account_at_once_place_each_order_once(tmp_path: Path) -> None:
    """An overlap the stack's stop-first updates should prevent (old and new task of one
    account): both derive the same ids, and the gateway places an id once."""
    context: Context = zmq.Context()
    twins = AccountsDesk(tmp_path, context, executors={"old": ACCOUNTS[0], "new": ACCOUNTS[0]})
    try:
        twins.start()
        entries = [an_entry(f"t{n}", Side.BUY, 1) for n in range(4)]
        for entry in entries:
            twins.emit(entry)
        twins.emit(an_exit(entries[0]))

        twins.wait_for("five orders filled", lambda: settled_for(twins, ACCOUNTS[0], 5))
        time.sleep(1.0)  # a second order for any id would have reached the broker by now
        placed = Counter(o.client_order_id for o in twins.broker_orders())
        assert sorted(placed.values()) == [1] * 5
        twins.wait_for("both books to equal the broker", lambda: agree(twins, {"TXFL6": 3}))
    finally:
        twins.close()
        context.destroy(linger=0)


# --- a fixed account ----------------------------------------------------------------------------


def test_a_fixed_account_cannot_be_changed_by_the_console_nor_receive_another_s_orders(
    desk: AccountsDesk,
) -> None:
    first, second = (desk.executors[a] for a in ACCOUNTS)

    other = first.control.request(SelectAccount(second.account))
    same = first.control.request(SelectAccount(first.account))
    foreign = first.control.request(ManualOrder("m-foreign", "TXFL6", Side.BUY, 1, second.account))
    own = first.control.request(ManualOrder("m-own", "TXFL6", Side.BUY, 1))

    assert (other.ok, other.error_code) == (False, ErrorCode.REJECTED)
    assert "AFTM_EXECUTOR_ACCOUNT_FIXED" in other.error
    assert same.ok
    assert (foreign.ok, foreign.error_code) == (False, ErrorCode.REJECTED)
    assert "AFTM_EXECUTOR_ACCOUNT_FIXED" in foreign.error
    assert own.ok, own.error
    assert first.status().account == first.account
    desk.wait_for("the manual order filled", lambda: settled_for(desk, first.account, 1))
    assert [o.account for o in desk.broker_orders()] == [first.account]  # nothing on the other
    assert first.metric(f'aftm_executor_account_info{{account="{first.account}"}}') == 1
    assert second.metric(f'aftm_executor_account_info{{account="{second.account}"}}') == 1


def test_a_journaled_selection_of_another_account_is_ignored_once_the_account_is_fixed(
    desk: AccountsDesk,
) -> None:
    first, second = (desk.executors[a] for a in ACCOUNTS)
    desk.kill_executor(first.account)
    desk.start_executor(first.account, AFTM_EXECUTOR_ACCOUNT_FIXED="false")
    assert first.control.request(SelectAccount(second.account)).ok  # journaled
    desk.kill_executor(first.account)

    desk.start_executor(first.account)  # fixed again

    assert first.status().account == first.account
    assert "journaled account selection ignored" in first.log()
    desk.emit(an_entry("c1", Side.BUY, 1))
    found = desk.wait_for("the entry on both accounts", lambda: settled(desk, 1))
    assert all(len(ids) == 1 for ids in found.values())


def settled_for(desk: AccountsDesk, account: str, count: int) -> bool:
    return len(orders_by_account(desk).get(account, [])) == count


# --- kill -9 ------------------------------------------------------------------------------------


def test_an_executor_killed_mid_stream_loses_and_duplicates_nothing_at_the_broker(
    desk: AccountsDesk,
) -> None:
    victim = ACCOUNTS[1]
    entries = [
        an_entry(f"k{n}", Side.SELL if n % 3 == 0 else Side.BUY, 1 + n % 3) for n in range(12)
    ]
    for n, entry in enumerate(entries):
        desk.emit(entry)
        if n == 5:
            desk.kill_executor(victim)  # signals keep coming while it is dead
        time.sleep(0.05)
    exits = [an_exit(entry) for entry in entries[:6]]
    for exit_signal in exits:
        desk.emit(exit_signal)

    desk.start_executor(victim)

    desk.wait_for("every signal settled on each account", lambda: all_settled(desk, entries))
    wanted = {"TXFL6": sum(e.side.sign * e.quantity for e in entries[6:])}
    wanted = {symbol: lots for symbol, lots in wanted.items() if lots}
    desk.wait_for("each book to equal its account at the broker", lambda: agree(desk, wanted))
    time.sleep(1.0)  # a duplicate or a late order would have reached the broker by now
    placed = Counter(o.client_order_id for o in desk.broker_orders())
    assert [i for i, n in placed.items() if n > 1] == []
    assert all_settled(desk, entries)


def all_settled(desk: AccountsDesk, entries: list[Signal]) -> bool:
    """On every account, at the broker: each entry without an exit filled once; each entry
    with one either filled and closed by it, or neither sent (an entry still held when its exit
    came is refused, logged and counted: nothing to close). No other order."""
    orders = desk.broker_orders()
    for account in ACCOUNTS:
        filled = Counter(
            o.client_order_id
            for o in orders
            if o.account == account and o.status is OrderStatus.FILLED
        )
        expected = 0
        for n, entry in enumerate(entries):
            entered = filled[client_order_id(account, entry.id)]
            if n >= 6:
                if entered != 1:
                    return False
                expected += 1
                continue
            exited = filled[client_order_id(account, an_exit(entry).id)]
            if entered != exited or entered > 1:
                return False
            expected += 2 * entered
        if sum(o.account == account for o in orders) != expected:
            return False
    return True


def test_a_second_executor_on_one_journal_is_refused_and_a_killed_one_leaves_no_lock(
    desk: AccountsDesk, tmp_path: Path
) -> None:
    owner = desk.executors[ACCOUNTS[0]]
    ports = {
        "AFTM_EXECUTOR_SIGNAL_BIND": endpoint(),
        "AFTM_EXECUTOR_CONTROL_BIND": endpoint(),
        "AFTM_EXECUTOR_METRICS_PORT": str(free_port()),
    }
    log = tmp_path / "intruder.log"
    intruder = ServiceProcess("aftm_executor", {**owner.env, **ports}, log).start()
    assert intruder.process is not None
    try:
        code = intruder.process.wait(30)
    finally:
        intruder.kill()

    assert code == 1, log.read_text()
    assert "is in use by another executor" in log.read_text()
    assert owner.status().account == owner.account  # the owner goes on
    desk.kill_executor(ACCOUNTS[0])
    desk.start_executor(ACCOUNTS[0])  # kill -9 released the lock
    assert owner.status().account == owner.account
