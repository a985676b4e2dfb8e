"""List replies in pages: real services over real sockets, a history longer than one page.

Each server holds more records than the page asked for; the pages must hold every record
exactly once, in order, a bad `limit` or cursor is answered INVALID naming the field, and the
console (its paging helpers, with a small page size) gathers everything it showed before.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import zmq

from aftm.domain.types import Side
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    MAX_CONDITION_PAGE,
    MAX_ORDER_PAGE,
    MAX_TRADE_PAGE,
    MAX_TRADE_PAGE_BYTES,
    ConditionList,
    ErrorCode,
    ListConditions,
    ListOrders,
    ListTrades,
    OrderList,
    OrderSnapshot,
    Reply,
    TradeList,
)
from aftm.wire.sockets import bound_endpoint, make_socket
from aftm_console import paging
from aftm_console.services import Services
from aftm_console.settings import ConsoleSettings
from aftm_executor.journal import Journal
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Order, Trade
from aftm_strategy.store import StrategyStore
from tests.builders import a_condition
from tests.integration.test_console import aftm
from tests.integration.test_gateway import Gateway, an_order
from tests.integration.test_quarantine import console_env
from tests.integration.test_strategy_service import GatewayStandIn, Strategy
from tests.support.executor_rig import Harness

pytestmark = pytest.mark.slow
Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def console(**endpoints: str) -> Services:
    settings = ConsoleSettings(insecure=True, timeout_ms=5000)
    return Services(settings.model_copy(update=endpoints))


def patient(**running: str) -> dict[str, str]:
    """The `aftm` command's environment, with time for pages of a few MB."""
    return {**console_env(**running), "AFTM_CONSOLE_TIMEOUT_MS": "20000"}


def assert_invalid(reply: Reply, field: str) -> None:
    assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID), reply
    assert field in reply.error


# --- strategy: conditions ----------------------------------------------------------------------


def test_conditions_come_in_pages_that_hold_each_one_once(
    context: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pull = make_socket(context, zmq.PULL, bind="tcp://127.0.0.1:*")
    strategy = Strategy(context, tmp_path, GatewayStandIn(context), bound_endpoint(pull)).start()
    try:
        added = [f"c{n}" for n in range(7)]
        for condition_id in added:
            strategy.add(a_condition(id=condition_id))

        pages: list[ConditionList] = []
        after = 0
        while not pages or pages[-1].more:
            page = strategy.request(ListConditions(after=after, limit=3)).body
            assert isinstance(page, ConditionList)
            pages.append(page)
            after = page.last
        assert [len(page.conditions) for page in pages] == [3, 3, 1]
        assert [c.id for page in pages for c in page.conditions] == added
        past_the_end = strategy.request(ListConditions(after=after, limit=3)).body
        assert past_the_end == ConditionList((), after, False)

        assert_invalid(strategy.request(ListConditions(limit=0)), "limit")
        assert_invalid(strategy.request(ListConditions(limit=MAX_CONDITION_PAGE + 1)), "limit")
        assert_invalid(strategy.request(ListConditions(after=-1)), "after")

        monkeypatch.setattr(paging, "CONDITION_PAGE", 2)
        with console(strategy_connect=strategy.control_endpoint) as services:
            gathered = paging.every_condition(services)
        assert [c.id for c in gathered.conditions] == added
    finally:
        strategy.kill()


# --- gateway: orders ---------------------------------------------------------------------------


def test_the_gateways_orders_come_in_pages_that_hold_each_one_once(
    context: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = Gateway(tmp_path, context).wait_healthy()
    try:
        for _ in range(5):
            assert gateway.ask(an_order(), timeout_ms=5000).ok
        whole = gateway.ask(ListOrders()).body
        assert isinstance(whole, OrderList)
        assert len(whole.orders) >= 5
        assert (whole.last, whole.more) == (len(whole.orders), False)

        paged: list[OrderSnapshot] = []
        after, more = 0, True
        while more:
            page = gateway.ask(ListOrders(after=after, limit=2)).body
            assert isinstance(page, OrderList)
            assert 1 <= len(page.orders) <= 2
            paged.extend(page.orders)
            after, more = page.last, page.more
        assert paged == list(whole.orders)
        assert gateway.ask(ListOrders(after=after)).body == OrderList((), after, False)

        assert_invalid(gateway.ask(ListOrders(limit=0)), "limit")
        assert_invalid(gateway.ask(ListOrders(limit=MAX_ORDER_PAGE + 1)), "limit")
        assert_invalid(gateway.ask(ListOrders(after=-1)), "after")

        monkeypatch.setattr(paging, "ORDER_PAGE", 2)
        with console(gateway_connect=gateway.router) as services:
            assert paging.every_order(services) == whole.orders
    finally:
        gateway.close()


# --- executor: trades --------------------------------------------------------------------------

# Recent: done trades older than the retention are pruned soon after the executor starts.
OPENED_NS = time.time_ns() - 3600 * 10**9


def a_done_trade(trade_id: str, opened_ns: int) -> Trade:
    """A trade refused before its entry: done, so the starting executor leaves it alone."""
    return Trade(
        trade_id=trade_id,
        account="ACC1",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        entry_signal_id=f"{trade_id}:entry",
        exit_signal_id=f"{trade_id}:exit",
        entry_ts_ns=None,
        refused="risk: a test",
        opened_ns=opened_ns,
        updated_ns=opened_ns,
    )


def test_trades_come_in_pages_that_hold_each_one_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two trades share an opened_ns: the cursor's id must still tell them apart.
    stamps = [OPENED_NS + n * 1000 for n in (0, 1, 2, 3, 3, 4, 5)]
    trade_ids = [f"t{n}" for n in range(len(stamps))]
    harness.journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(harness.journal_path)
    for trade_id, opened_ns in zip(trade_ids, stamps, strict=True):
        journal.save(a_done_trade(trade_id, opened_ns))
    journal.close()
    harness.start()

    pages: list[TradeList] = []
    before_ns, before_id = 0, ""
    while not pages or pages[-1].more:
        reply = harness.control.request(
            ListTrades(limit=3, before_ns=before_ns, before_id=before_id)
        )
        assert isinstance(reply.body, TradeList), reply
        pages.append(reply.body)
        before_ns, before_id = reply.body.oldest_ns, reply.body.oldest_id
    assert [len(page.trades) for page in pages] == [3, 3, 1]
    newest_last = [t.trade_id for page in reversed(pages) for t in page.trades]
    assert newest_last == trade_ids

    assert_invalid(harness.control.request(ListTrades(limit=0)), "limit")
    assert_invalid(harness.control.request(ListTrades(limit=MAX_TRADE_PAGE + 1)), "limit")
    assert_invalid(harness.control.request(ListTrades(before_ns=-1)), "before_ns")

    monkeypatch.setattr(paging, "TRADE_PAGE", 2)
    with console(executor_connect=harness.control_endpoint) as services:
        everything = paging.newest_trades(services, limit=100)
        newest = paging.newest_trades(services, limit=5)
    assert [t.trade_id for t in everything.trades] == trade_ids
    assert not everything.more
    assert [t.trade_id for t in newest.trades] == trade_ids[-5:]
    assert newest.more


# --- whole histories through the `aftm` command, with the shipped page sizes --------------------


def test_aftm_conditions_shows_more_conditions_than_one_page(
    context: Context, tmp_path: Path
) -> None:
    store = StrategyStore.open(tmp_path / "var" / "strategy.sqlite")
    added = [f"c{n:05d}" for n in range(MAX_CONDITION_PAGE + 3)]
    for condition_id in added:
        store.add(a_condition(id=condition_id))
    store.close()
    pull = make_socket(context, zmq.PULL, bind="tcp://127.0.0.1:*")
    strategy = Strategy(context, tmp_path, GatewayStandIn(context), bound_endpoint(pull)).start()
    try:
        first = strategy.request(ListConditions()).body
        assert isinstance(first, ConditionList)
        assert (len(first.conditions), first.more) == (MAX_CONDITION_PAGE, True)

        shown = aftm(patient(strategy=strategy.control_endpoint), "conditions", "list", "--json")
        assert shown.returncode == 0, shown.stderr
        assert [c["id"] for c in json.loads(shown.stdout)] == added
    finally:
        strategy.kill()


def test_a_page_of_trades_stops_at_its_byte_budget(harness: Harness) -> None:
    # Each trade holds thousands of exit attempts (~160 bytes each): a few trades fill the
    # byte budget long before the page's count, and the rest must follow on later pages.
    per_trade = 4000
    trade_ids = [f"t{n}" for n in range(5)]
    harness.journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(harness.journal_path)
    for n, trade_id in enumerate(trade_ids):
        attempts = tuple(
            Order(
                client_order_id=f"X{n}{attempt:014d}",
                leg=Leg.EXIT,
                attempt=attempt,
                side=Side.SELL,
                quantity=1,
                state=OrderState.REJECTED,
                reason="refused by the broker: a test",
                sent_ns=OPENED_NS,
            )
            for attempt in range(1, per_trade + 1)
        )
        journal.save(replace(a_done_trade(trade_id, OPENED_NS + n), orders=attempts))
    journal.close()
    harness.start()

    first = harness.control.request(ListTrades(limit=len(trade_ids)), timeout_ms=20_000).body
    assert isinstance(first, TradeList)
    assert 1 <= len(first.trades) < len(trade_ids)
    assert first.more
    assert sum(len(encode(trade)) for trade in first.trades) <= MAX_TRADE_PAGE_BYTES

    shown = aftm(patient(executor=harness.control_endpoint), "trades", "--json")
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)
    assert [trade["trade_id"] for trade in listed] == trade_ids
    assert all(len(trade["orders"]) == per_trade for trade in listed)
