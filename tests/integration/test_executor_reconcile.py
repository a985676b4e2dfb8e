"""Reconciliation with the broker and restarts that drop nothing: the executor as a real process
against the gateway double (tests/support/executor_rig.py), judged from the double's own record
of fills and positions, the broker's side of the story."""

from __future__ import annotations

import queue
import sqlite3
import time
from contextlib import closing

import pytest

from aftm.domain.orders import PlaceOrder
from aftm.domain.types import Side
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    ORDER_TOPIC,
    GetHealth,
    ListFills,
    OrderUpdated,
    Reconcile,
    ReconcileState,
    Reconciliation,
)
from aftm_executor.trades import client_order_id
from tests.support.executor_rig import ACCOUNT, Harness, a_signal, an_exit, wait_for

pytestmark = pytest.mark.slow

FAST = {
    "AFTM_EXECUTOR_RECONCILE_INTERVAL_S": "1",
    "AFTM_EXECUTOR_RECONCILE_SETTLE_S": "0.5",
}
HALTED = "aftm_executor_reconcile_halted"


def book(harness: Harness, account: str = "ACC1") -> dict[str, int]:
    """The executor's positions, as it reports them."""
    positions = harness.status().positions
    return {p.symbol: p.net_quantity for p in positions if p.account == account and p.net_quantity}


def broker(harness: Harness, account: str = "ACC1") -> dict[str, int]:
    """The broker's positions: the double's own record."""
    return {p.symbol: p.net_quantity for p in harness.gateway.positions(account)}


def reconcile(harness: Harness, *, accept: bool = False) -> Reconciliation:
    reply = harness.control.request(Reconcile(accept=accept))
    assert isinstance(reply.body, Reconciliation), reply
    return reply.body


def test_a_fill_nobody_reported_is_applied_from_the_broker_s_fill_ledger(
    harness: Harness,
) -> None:
    harness.start(**FAST)
    entry = a_signal(Side.BUY, quantity=2)
    harness.push(entry)
    order = harness.expect(PlaceOrder)

    harness.gateway.fill(order.client_order_id, publish=False)  # lost on its way

    wait_for("the book to meet the broker", lambda: book(harness) == broker(harness), harness.log)
    assert broker(harness) == {"TXFL6": 2}
    harness.wait_metric("aftm_executor_missed_fills_total", 1)
    assert harness.journal_trade(entry.condition_id).entry_filled == 2


def test_a_lost_fill_report_is_fetched_within_the_settle_time_not_the_interval(
    harness: Harness,
) -> None:
    harness.start(AFTM_EXECUTOR_RECONCILE_INTERVAL_S="3600", AFTM_EXECUTOR_RECONCILE_SETTLE_S="1")
    entry = a_signal(Side.BUY, quantity=2)
    harness.push(entry)
    order = harness.expect(PlaceOrder)
    wait_for("the start-up reconciliation", lambda: _asked(harness, ListFills), harness.log)
    _drain(harness)

    harness.gateway.fill(order.client_order_id, publish=False)
    filled = harness.gateway.orders[order.client_order_id]
    harness.gateway.publish([ORDER_TOPIC, encode(OrderUpdated(filled))])  # its fill report lost

    wait_for("the book to meet the broker", lambda: book(harness) == broker(harness), harness.log)
    assert broker(harness) == {"TXFL6": 2}
    assert _asked(harness, ListFills)


def test_fills_published_while_the_executor_was_dead_are_applied_after_its_restart(
    harness: Harness,
) -> None:
    harness.start(**FAST)
    entry = a_signal(Side.SELL, quantity=3)
    harness.push(entry)
    order = harness.expect(PlaceOrder)
    assert harness.process is not None
    harness.process.kill()

    harness.gateway.fill(order.client_order_id)  # published to nobody

    harness.start(**FAST)
    wait_for("the book to meet the broker", lambda: book(harness) == broker(harness), harness.log)
    assert broker(harness) == {"TXFL6": -3}
    assert reconcile(harness).state is ReconcileState.AGREED


def test_an_unexplained_difference_halts_entries_until_a_person_accepts_the_broker(
    harness: Harness,
) -> None:
    harness.start(**FAST)
    harness.gateway.outside_lots[("ACC1", "TXFL6")] = 3  # traded by hand, outside AFTM

    harness.wait_metric(HALTED, 1)
    harness.wait_metric('aftm_executor_position_difference_lots{account="ACC1",symbol="TXFL6"}', -3)
    found = reconcile(harness)
    assert found.state is ReconcileState.DIFFERS
    assert found.entries_halted
    assert [(c.symbol, c.book, c.broker) for c in found.positions] == [("TXFL6", 0, 3)]
    refused = a_signal(condition="c-refused")
    harness.push(refused)
    wait_for("the refusal", lambda: harness.status().signals_rejected == 1, harness.log)
    assert "positions differ from the broker" in harness.journal_trade("c-refused").refused
    assert client_order_id(ACCOUNT, refused.id) not in harness.gateway.place_ids()

    accepted = reconcile(harness, accept=True)

    assert (accepted.state, accepted.adopted, accepted.entries_halted) == (
        ReconcileState.AGREED,
        1,
        False,
    )
    assert book(harness) == broker(harness) == {"TXFL6": 3}
    harness.wait_metric(HALTED, 0)
    harness.push(a_signal(condition="c-after"))
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(
        ACCOUNT, a_signal(condition="c-after").id
    )
    with closing(sqlite3.connect(harness.journal_path)) as db:
        rows = db.execute("SELECT account, symbol, net_before, net_after FROM adjustments")
        assert rows.fetchall() == [("ACC1", "TXFL6", 0, 3)]


def test_a_difference_that_orders_in_flight_explain_does_not_halt(harness: Harness) -> None:
    harness.start(**FAST)
    entry = a_signal(Side.BUY, quantity=1)
    harness.push(entry)
    order = harness.expect(PlaceOrder)
    harness.gateway.fill(order.client_order_id)
    wait_for("the fill", lambda: book(harness) == {"TXFL6": 1}, harness.log)
    time.sleep(2.5)  # two settle periods and more: nothing differs, nothing halts

    assert harness.metric(HALTED) == 0
    assert reconcile(harness).state is ReconcileState.AGREED


def test_a_restarted_gateway_is_reconciled_at_once(harness: Harness) -> None:
    harness.start(AFTM_EXECUTOR_RECONCILE_INTERVAL_S="3600")
    wait_for("the start-up reconciliation", lambda: _asked(harness, ListFills), harness.log)
    _drain(harness)

    harness.gateway.started_ns = time.time_ns()  # its heartbeats now come from a new process

    wait_for("a reconciliation", lambda: _asked(harness, ListFills), harness.log)


def test_a_broker_login_is_reconciled_at_once(harness: Harness) -> None:
    harness.start(AFTM_EXECUTOR_RECONCILE_INTERVAL_S="3600")
    wait_for("the start-up reconciliation", lambda: _asked(harness, ListFills), harness.log)
    harness.gateway.logged_in = False
    wait_for("the logout", lambda: not harness.status().gateway_alive, harness.log)
    _drain(harness)

    harness.gateway.logged_in = True  # the broker session is back: what did it do meanwhile?

    wait_for("a reconciliation", lambda: _asked(harness, ListFills), harness.log)


def test_an_entry_waits_for_a_restarting_gateway_and_goes_out_when_it_is_back(
    harness: Harness,
) -> None:
    harness.start()
    harness.gateway.heartbeats = False
    harness.gateway.answering = False
    wait_for("the gateway to look dead", lambda: not harness.status().gateway_alive, harness.log)
    entry = a_signal(quantity=1)
    harness.push(entry)
    time.sleep(1.0)
    assert client_order_id(ACCOUNT, entry.id) not in harness.gateway.place_ids()

    harness.gateway.started_ns = time.time_ns()
    harness.gateway.answering = True
    harness.gateway.heartbeats = True

    placed = harness.expect(PlaceOrder)
    assert placed.client_order_id == client_order_id(ACCOUNT, entry.id)
    assert harness.journal_trade(entry.condition_id).refused == ""


def test_a_gateway_that_answers_requests_is_alive_though_its_heartbeats_are_lost(
    harness: Harness,
) -> None:
    harness.start()
    harness.gateway.heartbeats = False  # the PUB link is down; requests still work
    time.sleep(1.5)  # past the heartbeat timeout

    entry = a_signal(quantity=1)
    harness.push(entry)

    placed = harness.expect(PlaceOrder)
    assert placed.client_order_id == client_order_id(ACCOUNT, entry.id)
    assert _asked(harness, GetHealth)  # it asked, and the answer made the gateway alive
    harness.gateway.fill(placed.client_order_id)
    wait_for("the fill", lambda: book(harness) == {"TXFL6": 1}, harness.log)
    harness.push(an_exit(entry))
    assert harness.expect(PlaceOrder).side is Side.SELL


def _asked(harness: Harness, kind: type) -> bool:
    return any(isinstance(body, kind) for body in list(harness.gateway.seen))


def _drain(harness: Harness) -> None:
    with harness.gateway._lock:
        harness.gateway.seen.clear()
    while True:
        try:
            harness.gateway.requests.get_nowait()
        except queue.Empty:
            return
