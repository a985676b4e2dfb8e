"""One executor per account on one gateway: the same signals trade on every account, each
executor acts only on its own account's orders, fills and positions, and a killed executor
loses and duplicates nothing. Judged from the gateway's own queries (tests/support/accounts_rig.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import zmq

from aftm.domain.signals import Signal
from aftm.domain.types import OrderStatus, Side
from tests.support.accounts_rig import ACCOUNTS, AccountsDesk, Context
from tests.support.executor_rig import a_signal, an_exit

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
        desk.broker_positions(account) == wanted == executor.book()
        for account, executor in desk.executors.items()
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
