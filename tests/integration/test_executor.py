"""The executor as a real process, with the gateway and strategy played by test-owned sockets
(tests/support/executor_rig.py): signals become orders, unanswered orders are resolved, risk,
recovery and control."""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from decimal import Decimal

import pytest
import zmq

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.types import OpenClose, OrderStatus, OrderType, Side, TimeInForce
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ORDER_TOPIC,
    ErrorCode,
    ExecutorStatus,
    ListSignals,
    ManualOrder,
    OrderSnapshot,
    OrderUpdated,
    QueryOrder,
    SelectAccount,
    SetTradingMode,
    TradingMode,
)
from aftm.wire.sockets import make_socket
from aftm_executor.states import OrderState
from aftm_executor.trades import Phase, client_order_id
from tests.support.executor_rig import (
    ACCOUNT,
    SIDES,
    Context,
    Harness,
    a_signal,
    an_exit,
    wait_for,
)
from tests.support.forged import ask_forged, forged
from tests.support.processes import ServiceProcess, http_json

ACCEPTED = 'aftm_executor_orders_total{result="accepted"}'
RISK_REJECTED = 'aftm_executor_orders_total{result="risk_rejected"}'


# --- a signal becomes exactly one order ---------------------------------------------------------


@SIDES
def test_a_signal_becomes_one_order_and_its_fills_a_position(harness: Harness, side: Side) -> None:
    harness.start()
    signal = a_signal(side, quantity=2)

    harness.push(signal)

    placed = harness.expect(PlaceOrder)
    assert placed == PlaceOrder(
        client_order_id=client_order_id(ACCOUNT, signal.id),
        account="ACC1",
        symbol="TXFL6",
        side=side,
        quantity=2,
        order_type=OrderType.MARKET,
        price=None,
        time_in_force=TimeInForce.IOC,
        open_close=OpenClose.AUTO,
        ts_ns=placed.ts_ns,
    )
    harness.wait_metric(ACCEPTED, 1)
    assert harness.metric("aftm_executor_tick_to_ack_seconds_count") == 1
    assert harness.metric("aftm_executor_signal_to_ack_seconds_count") == 1
    assert harness.metric("aftm_executor_order_round_trip_seconds_count") == 1

    harness.gateway.fill(placed.client_order_id)

    harness.wait_metric("aftm_executor_duplicate_fills_total", 1)
    (position,) = harness.status().positions
    assert (position.account, position.net_quantity) == ("ACC1", side.sign * 2)
    assert position.average_price == Decimal("17501")
    harness.stop()
    assert harness.journal_order_state(signal) is OrderState.FILLED
    assert harness.journal_trade(signal.condition_id).phase is Phase.OPEN
    # The accepting reply's arrival is on record for tick-to-ack audits.
    with closing(sqlite3.connect(harness.journal_path)) as db:
        received_ns, acked_ns = db.execute(
            "SELECT s.received_ns, o.acked_ns FROM orders o JOIN signals s USING (signal_id)"
        ).fetchone()
    assert acked_ns is not None
    assert received_ns <= acked_ns
    assert harness.gateway.place_ids() == [placed.client_order_id]


def test_the_same_signal_pushed_twice_is_one_order(harness: Harness) -> None:
    harness.start()
    first, second = a_signal(condition="c1"), a_signal(condition="c2")

    for signal in (first, first, second):
        harness.push(signal)

    harness.expect(PlaceOrder)
    harness.expect(PlaceOrder)  # the second signal's: the duplicate was handled before it
    harness.wait_metric("aftm_executor_duplicate_signals_total", 1)
    assert harness.gateway.place_ids() == [
        client_order_id(ACCOUNT, first.id),
        client_order_id(ACCOUNT, second.id),
    ]
    assert harness.metric("aftm_executor_signals_received_total") == 3


def test_a_burst_of_signals_sends_every_order_before_the_first_reply(harness: Harness) -> None:
    # One tick can fire several conditions: their orders must not queue behind each round trip.
    harness.start(AFTM_EXECUTOR_REQUEST_TIMEOUT_MS="5000")
    harness.gateway.hold_place_replies = True
    burst = [a_signal(condition=f"c{number}") for number in range(3)]

    for signal in burst:
        harness.push(signal)

    placed = [harness.expect(PlaceOrder).client_order_id for _ in burst]  # none answered yet
    assert placed == [client_order_id(ACCOUNT, signal.id) for signal in burst]
    assert all(harness.journal_order_state(s) is OrderState.SENDING for s in burst)
    harness.gateway.release_place_replies()
    harness.wait_metric(ACCEPTED, 3)
    assert harness.metric("aftm_executor_order_round_trip_seconds_count") == 3
    assert harness.metric('aftm_executor_orders_total{result="unknown"}') == 0
    harness.stop()
    assert all(harness.journal_order_state(s) is OrderState.ACCEPTED for s in burst)


def test_an_unanswered_order_is_queried_then_resent_under_the_same_id(harness: Harness) -> None:
    harness.gateway.drop_places = 1
    harness.start()
    signal = a_signal()
    order_id = client_order_id(ACCOUNT, signal.id)

    harness.push(signal)

    assert harness.expect(PlaceOrder).client_order_id == order_id  # never answered
    assert harness.expect(QueryOrder).client_order_id == order_id  # -> NOT_FOUND
    assert harness.expect(PlaceOrder).client_order_id == order_id  # the same order again
    harness.wait_metric(ACCEPTED, 1)
    harness.wait_metric("aftm_executor_unknown_orders", 0)
    time.sleep(1.5)  # a resolver round or two more: nothing further may be sent
    assert harness.gateway.place_ids() == [order_id, order_id]
    assert harness.metric('aftm_executor_orders_total{result="unknown"}') == 1
    assert harness.metric("aftm_executor_order_resends_total") == 1


@pytest.mark.parametrize("lost", ["request", "reply"])
def test_a_killed_executor_never_asks_for_a_second_order_id(harness: Harness, lost: str) -> None:
    if lost == "request":
        harness.gateway.drop_places = 1
    else:
        harness.gateway.mute_places = 1
    # A long request timeout: the kill lands while the order request is still in flight.
    process = harness.start(AFTM_EXECUTOR_REQUEST_TIMEOUT_MS="10000")
    signal = a_signal()
    order_id = client_order_id(ACCOUNT, signal.id)
    harness.strategy.signals = [signal]  # what ListSignals will say after the restart
    harness.push(signal)
    assert harness.expect(PlaceOrder).client_order_id == order_id

    process.kill()
    assert harness.journal_order_state(signal) is OrderState.SENDING
    harness.start()

    assert harness.expect(QueryOrder).client_order_id == order_id
    harness.wait_metric("aftm_executor_unknown_orders", 0)
    harness.gateway.fill(order_id)
    wait_for("the fill", lambda: harness.status().positions, harness.log)
    harness.stop()
    assert harness.journal_order_state(signal) is OrderState.FILLED
    expected = [order_id, order_id] if lost == "request" else [order_id]
    assert harness.gateway.place_ids() == expected


def test_a_signal_emitted_while_the_executor_was_down_is_recovered(harness: Harness) -> None:
    signal = a_signal(Side.SELL)
    harness.strategy.signals = [signal]  # emitted, never pushed to us

    harness.start()

    placed = harness.expect(PlaceOrder)
    assert (placed.client_order_id, placed.side) == (client_order_id(ACCOUNT, signal.id), Side.SELL)
    harness.wait_metric("aftm_executor_signals_received_total", 1)


def test_the_periodic_resync_asks_only_for_what_is_new(harness: Harness) -> None:
    first, second = a_signal(Side.BUY, condition="c1"), a_signal(Side.SELL, condition="c2")
    harness.strategy.signals = [first]
    harness.start(AFTM_EXECUTOR_RESYNC_INTERVAL_S="1")
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(ACCOUNT, first.id)

    harness.strategy.signals.append(second)  # emitted later, its push lost

    assert harness.expect(PlaceOrder).client_order_id == client_order_id(ACCOUNT, second.id)
    cursors = list(harness.strategy.cursors)
    assert cursors[0] == 0
    assert set(cursors[1:]) <= {1, 2}, "after the first page the executor resumes from its cursor"
    assert 1 in cursors[1:]
    # Whole signals are fetched only for ids the executor never received.
    assert harness.strategy.fetched[:2] == [(first.id,), (second.id,)]


def test_a_resync_fetches_only_the_signals_it_never_received(harness: Harness) -> None:
    pushed, lost = a_signal(Side.BUY, condition="c1"), a_signal(Side.SELL, condition="c2")
    harness.start(AFTM_EXECUTOR_RESYNC_INTERVAL_S="1")
    harness.push(pushed)
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(ACCOUNT, pushed.id)

    harness.strategy.signals = [pushed, lost]  # both emitted; only the first push arrived

    assert harness.expect(PlaceOrder).client_order_id == client_order_id(ACCOUNT, lost.id)
    assert harness.strategy.fetched == [(lost.id,)]
    harness.wait_metric(ACCEPTED, 2)
    assert harness.gateway.place_ids() == [
        client_order_id(ACCOUNT, pushed.id),
        client_order_id(ACCOUNT, lost.id),
    ]


def test_an_exit_waits_for_its_unanswered_entry_and_closes_only_what_reached_the_market(
    harness: Harness,
) -> None:
    harness.gateway.drop_places = 1
    harness.start()
    entry = a_signal(condition="c1")

    harness.push(entry)
    harness.push(an_exit(entry))

    entry_id = client_order_id(ACCOUNT, entry.id)
    assert harness.expect(PlaceOrder).client_order_id == entry_id  # lost
    assert harness.expect(QueryOrder).client_order_id == entry_id  # not found
    # The entry never reached the market and its exit has come: neither goes out.
    wait_for("the trade to end", lambda: harness.journal_trade("c1").is_done, harness.log)
    trade = harness.journal_trade("c1")
    assert "exit came before the entry reached the market" in trade.refused
    assert harness.gateway.place_ids() == [entry_id]


@SIDES
def test_an_exit_closes_only_what_a_partly_filled_entry_got(harness: Harness, side: Side) -> None:
    harness.gateway.partial_ioc = True  # 1 of 2 lots, then cancelled
    harness.start()
    entry = a_signal(side, quantity=2)
    harness.push(entry)
    harness.expect(PlaceOrder)

    harness.push(an_exit(entry))

    placed = harness.expect(PlaceOrder)
    assert (placed.side, placed.quantity) == (side.opposite, 1)


# --- values out of range, forged signals ------------------------------------------------------

INVALID_SIGNALS = 'aftm_executor_invalid_signals_total{{field="{}"}}'


@SIDES
def test_a_forged_exit_on_the_entrys_side_never_reaches_the_gateway(
    harness: Harness, side: Side
) -> None:
    harness.start()
    entry = a_signal(side, quantity=2)
    harness.push(entry)
    placed = harness.expect(PlaceOrder)
    harness.gateway.fill(placed.client_order_id)
    harness.wait_metric("aftm_executor_duplicate_fills_total", 1)

    harness.push(replace(an_exit(entry), side=side))  # would add to the position

    harness.wait_metric(INVALID_SIGNALS.format("side"), 1)
    real = an_exit(entry)  # not journaled, the forged one did not take the real exit's id
    harness.push(real)
    closing = harness.expect(PlaceOrder)
    assert (closing.side, closing.quantity) == (side.opposite, 2)
    assert harness.gateway.place_ids() == [placed.client_order_id, closing.client_order_id]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 2**63}, "quantity"),
        ({"quantity": 101}, "quantity"),
        ({"price": 0}, "price"),
        ({"ts_ns": 2**64 - 1}, "ts_ns"),
        ({"id": "c9:exit"}, "id"),  # an entry under its exit's id
        ({"condition_id": "c" * 300, "id": "c" * 300 + ":entry"}, "condition_id"),
        ({"symbol": "TXF\n"}, "symbol"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_signal_out_of_range_is_refused_and_never_becomes_an_order(
    harness: Harness, change: dict[str, object], field: str
) -> None:
    harness.start()
    good = a_signal(condition="c9")

    harness.push_socket.send(forged(good, **change))  # as a hostile peer frames it

    harness.wait_metric(INVALID_SIGNALS.format(field), 1)
    harness.push(good)  # the refused signal was not journaled: the real one is no duplicate
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(ACCOUNT, good.id)
    assert harness.gateway.place_ids() == [client_order_id(ACCOUNT, good.id)]
    assert harness.metric("aftm_executor_duplicate_signals_total") == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"quantity": 2**63}, "quantity"), ({"price": Decimal("1E+20")}, "price")],
    ids=["quantity", "price"],
)
def test_a_fill_out_of_range_is_refused_and_the_position_untouched(
    harness: Harness, change: dict[str, object], field: str
) -> None:
    harness.start()
    harness.push(a_signal(Side.BUY, quantity=2))
    placed = harness.expect(PlaceOrder)
    fill = OrderFilled(
        placed.client_order_id, "B1", "B1-1", "TXFL6", Side.BUY, 2, Decimal(17501), time.time_ns()
    )

    harness.gateway.publish([FILL_TOPIC, forged(fill, **change)])

    harness.wait_metric(f'aftm_executor_invalid_fills_total{{field="{field}"}}', 1)
    assert harness.status().positions == ()
    assert harness.metric("aftm_executor_fills_total") == 0
    harness.gateway.publish([FILL_TOPIC, encode(fill)])  # the same fill id, in range: applied
    harness.wait_metric("aftm_executor_fills_total", 1)


def test_an_order_report_with_absurd_lots_is_refused(harness: Harness) -> None:
    harness.start()
    harness.push(a_signal(Side.BUY, quantity=2))
    placed = harness.expect(PlaceOrder)
    harness.wait_metric(ACCEPTED, 1)
    snapshot = OrderSnapshot(
        placed.client_order_id, "B1", "ACC1", "TXFL6", Side.BUY, 2, 2, Decimal(17501),
        OrderStatus.FILLED, "", time.time_ns(),
    )  # fmt: skip
    absurd = {"order__filled_quantity": 2**63}  # beyond 64 bits: only a forged frame holds it

    harness.gateway.publish([ORDER_TOPIC, forged(OrderUpdated(snapshot), **absurd)])

    harness.wait_metric('aftm_executor_invalid_fills_total{field="filled_quantity"}', 1)
    assert harness.status().positions == ()
    harness.gateway.fill(placed.client_order_id)  # the real report still counts
    harness.wait_metric("aftm_executor_fills_total", 1)


@pytest.mark.parametrize(
    ("order", "changes", "field"),
    [
        (ManualOrder("m-1", "TXFL6", Side.BUY, 1), {"quantity": 2**63}, "quantity"),
        (ManualOrder("m-1", "TXFL6", Side.BUY, 11), {}, "quantity"),
        (ManualOrder("m" * 300, "TXFL6", Side.BUY, 1), {}, "order_id"),
        (ManualOrder("m-1", "TXFL6\x00", Side.BUY, 1), {}, "symbol"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_manual_order_out_of_range_is_invalid_and_never_an_order(
    harness: Harness, order: ManualOrder, changes: dict[str, object], field: str
) -> None:
    harness.start()

    reply = ask_forged(harness.context, harness.control_endpoint, order, changes)

    assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID)
    assert f"field {field!r}" in reply.error
    assert len(reply.error) < 300
    assert harness.control.request(ManualOrder("m-2", "TXFL6", Side.BUY, 1)).ok  # still serving
    assert harness.expect(PlaceOrder).quantity == 1
    assert len(harness.gateway.place_ids()) == 1


# --- risk -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gateway", ["silent", "logged_out"])
def test_entries_need_a_live_gateway_and_exits_go_out(harness: Harness, gateway: str) -> None:
    """Logged out refuses an entry at once; a gateway gone (no heartbeat, no answer) holds it
    until it is stale, then refuses it naming the silence. Exits go out either way."""
    harness.start(AFTM_EXECUTOR_MAX_ENTRY_AGE_S="2")
    opened = a_signal(condition="c1")
    harness.push(opened)
    harness.gateway.fill(harness.expect(PlaceOrder).client_order_id)
    harness.wait_metric("aftm_executor_fills_total", 1)

    if gateway == "silent":
        harness.gateway.heartbeats = False
        harness.gateway.answering = False
    else:
        harness.gateway.logged_in = False
    wait_for("the gateway to look dead", lambda: not harness.status().gateway_alive, harness.log)
    refused = a_signal(condition="c2")
    harness.push(refused)
    harness.wait_metric(RISK_REJECTED, 1)
    harness.push(an_exit(refused))  # its entry never reached the market: nothing to close
    wait_for("the exit", lambda: harness.journal_trade("c2").exit_wanted, harness.log)
    harness.push(an_exit(opened))
    if gateway == "logged_out":  # held until the broker session is back, then sent
        with pytest.raises(queue.Empty):
            harness.gateway.requests.get(timeout=0.5)
        harness.gateway.logged_in = True

    placed = harness.expect(PlaceOrder)
    assert placed.client_order_id == client_order_id(ACCOUNT, an_exit(opened).id)
    assert placed.side is Side.SELL
    assert client_order_id(ACCOUNT, refused.id) not in harness.gateway.place_ids()
    assert harness.status().signals_rejected == 1
    harness.stop()
    closed_nothing = harness.journal_trade("c2")
    assert closed_nothing.is_done
    if gateway == "silent":
        assert closed_nothing.refused.startswith("stale")
        assert "gateway is silent" in closed_nothing.refused
    else:
        assert closed_nothing.refused.startswith("risk: gateway reports the broker logged out")
    assert closed_nothing.orders == ()


def test_the_daily_loss_limit_switches_to_reducing_and_exits_still_go_out(
    harness: Harness,
) -> None:
    harness.start(AFTM_EXECUTOR_DAILY_LOSS_LIMIT_TWD="100000")
    opened = a_signal(Side.BUY, condition="c1", quantity=2)
    harness.push(opened)
    harness.gateway.fill(harness.expect(PlaceOrder).client_order_id)  # 2 lots at 17501
    harness.wait_metric("aftm_executor_fills_total", 1)
    assert harness.status().mode is TradingMode.ACTIVE

    harness.gateway.last_price = 17501 - 300  # 2 lots x 300 points x 200 TWD = -120,000
    harness.wait_metric("aftm_executor_daily_loss_limit_breached", 1)

    assert harness.status().mode is TradingMode.REDUCING
    assert harness.metric("aftm_executor_daily_pnl_twd") == -120_000
    harness.push(a_signal(Side.BUY, condition="c2"))
    harness.wait_metric(RISK_REJECTED, 1)  # no new exposure
    harness.push(an_exit(opened))
    placed = harness.expect(PlaceOrder)  # the way out stays open
    assert (placed.side, placed.quantity) == (Side.SELL, 2)
    assert "daily loss limit reached" in harness.log()


def test_account_and_mode_come_from_the_console_and_survive_a_restart(harness: Harness) -> None:
    harness.start()

    unknown = harness.control.request(SelectAccount("NOPE"))
    chosen = harness.control.request(SelectAccount("ACC2"))
    halted = harness.control.request(SetTradingMode(TradingMode.HALTED))

    assert (unknown.ok, unknown.error_code) == (False, ErrorCode.INVALID)
    assert "NOPE" in unknown.error
    assert chosen.ok
    assert isinstance(halted.body, ExecutorStatus)
    assert (halted.body.account, halted.body.mode) == ("ACC2", TradingMode.HALTED)
    # Dashboards tell executors apart by the account each trades now.
    assert harness.metric('aftm_executor_account_info{account="ACC2"}') == 1
    assert harness.metric('aftm_executor_account_info{account="ACC1"}') is None
    harness.push(a_signal(condition="c1"))
    harness.wait_metric(RISK_REJECTED, 1)
    harness.stop()

    harness.start()
    assert (harness.status().account, harness.status().mode) == ("ACC2", TradingMode.HALTED)
    assert harness.control.request(SetTradingMode(TradingMode.ACTIVE)).ok
    harness.push(a_signal(condition="c2"))
    assert harness.expect(PlaceOrder).account == "ACC2"
    # The id names the account the order is for: ACC2's, not the harness's first one.
    assert harness.gateway.place_ids() == [client_order_id("ACC2", a_signal(condition="c2").id)]


# --- bad input ----------------------------------------------------------------------------------


def test_malformed_frames_are_counted_and_dropped(harness: Harness, context: Context) -> None:
    harness.start()
    control = make_socket(context, zmq.DEALER, connect=harness.control_endpoint)
    try:
        harness.push_socket.send(b"\x93not a signal")
        harness.push_socket.send_multipart([b"two", b"frames"])
        harness.gateway.publish([HEARTBEAT_TOPIC, b"\xc1"])
        harness.gateway.publish([ORDER_TOPIC, encode(a_signal())])  # wrong type for the topic
        control.send(b"garbage")

        for socket, count in (("signals", 2), ("reports", 2), ("control", 1)):
            harness.wait_metric(f'aftm_executor_malformed_frames_total{{socket="{socket}"}}', count)
        refused = harness.control.request(ListSignals())  # well framed, wrong service
        assert (refused.ok, refused.error_code) == (False, ErrorCode.BAD_REQUEST)
        harness.push(a_signal())
        harness.expect(PlaceOrder)
        assert harness.status().orders_sent == 1
    finally:
        control.close()


def test_a_garbled_order_reply_is_counted_and_the_order_resolved_not_resent(
    harness: Harness,
) -> None:
    harness.gateway.garble_places = 1
    harness.start()
    signal = a_signal()
    order_id = client_order_id(ACCOUNT, signal.id)

    harness.push(signal)

    assert harness.expect(PlaceOrder).client_order_id == order_id  # answered with garbage
    harness.wait_metric('aftm_executor_malformed_frames_total{socket="gateway"}', 1)
    assert harness.expect(QueryOrder).client_order_id == order_id  # after the time-out
    wait_for(
        "the order resolved as accepted",
        lambda: harness.journal_order_state(signal) is OrderState.ACCEPTED or None,
        harness.log,
    )
    harness.wait_metric("aftm_executor_unknown_orders", 0)
    assert harness.gateway.place_ids() == [order_id]  # the gateway had it: never resent


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_EXECUTOR_MAX_LOTS_PER_ORDER", "0"),
        ("AFTM_EXECUTOR_GATEWAY_CONNECT", "localhost:5556"),
        ("AFTM_EXECUTOR_HEARTBEAT_TIMEOUT_S", "soon"),
        ("AFTM_EXECUTOR_REQUEST_TIMEOUT_MS", "-1"),
    ],
)
def test_invalid_settings_exit_2_naming_the_variable(
    harness: Harness, variable: str, value: str
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "aftm_executor"],
        env={**ServiceProcess("aftm_executor", harness.env, harness.log_path).env, variable: value},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2
    assert f"invalid setting {variable}" in finished.stderr
    assert not harness.journal_path.exists()  # refused before touching anything


def test_health_says_why(harness: Harness) -> None:
    harness.start()

    status, body = http_json(f"http://127.0.0.1:{harness.metrics_port}/health")

    assert status == 200
    assert body["gateway"] == "alive"
    assert body["unknown_orders"] == 0
