"""TAIFEX's sessions end to end: the sim in `taifex` mode and the executor on TAIFEX's rules, the
three services restarted on a fake market clock (AFTM_MARKET_CLOCK_START, running at real speed
from each start), CURVE on, signals pushed with the strategy's key. The sim exchange's own store
of orders is the witness (issue 13's done-when):

- at 13:44:30 on a business day an entry is refused (within 5 minutes of the 13:45 close);
- after the close an exit is held, shown with its reason, and sent when 15:00 opens the
  after-hours session;
- at 23:00 on a holiday nothing is sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq

from aftm.domain.signals import Signal
from aftm.security.roles import Role
from aftm.wire.codec import encode
from aftm.wire.protocol import ListTrades, TradeList
from aftm.wire.sockets import make_socket
from aftm_executor.trades import client_order_id
from tests.support.executor_rig import a_signal, an_exit
from tests.support.pipeline import SERVICES, BrokerOrder, Pipeline

pytestmark = pytest.mark.slow
Context = zmq.Context[zmq.Socket[bytes]]
SIM_TAIFEX = {"AFTM_GATEWAY_SIM_CALENDAR": "taifex"}
EXECUTOR_TAIFEX = {"AFTM_EXECUTOR_MARKET_RULES": "taifex"}
QUIET_S = 3.0  # long enough for an order the executor would send to reach the broker


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def restart_at(pipeline: Pipeline, instant: str) -> None:
    pipeline.stop_all()
    for name in SERVICES:
        pipeline.start(name, AFTM_MARKET_CLOCK_START=instant)


def push(pipeline: Pipeline, signal: Signal) -> None:
    pusher = make_socket(
        pipeline.context,
        zmq.PUSH,
        connect=pipeline.executor_signals,
        setup=pipeline.curve(Role.STRATEGY).client(Role.EXECUTOR),
    )
    try:
        pusher.send(encode(signal))
        time.sleep(0.2)  # delivered before the socket closes (linger 0)
    finally:
        pusher.close()


def order_of(pipeline: Pipeline, signal: Signal) -> BrokerOrder | None:
    wanted = client_order_id("SIM-0001", signal.id)
    return next((o for o in pipeline.broker_orders() if o.client_order_id == wanted), None)


def wait_filled(pipeline: Pipeline, signal: Signal, timeout_s: float) -> BrokerOrder:
    deadline = time.monotonic() + timeout_s
    while (order := order_of(pipeline, signal)) is None or order.status != "filled":
        assert time.monotonic() < deadline, f"{signal.id} not filled\n{pipeline.logs()}"
        time.sleep(0.1)
    return order


def reason_of(pipeline: Pipeline, trade_id: str) -> str:
    listed = pipeline.client("executor").request(ListTrades()).body
    assert isinstance(listed, TradeList)
    (trade,) = (t for t in listed.trades if t.trade_id == trade_id)
    return trade.reason


def test_a_late_entry_is_refused_an_exit_waits_for_the_open_and_a_holiday_sends_nothing(
    tmp_path_factory: pytest.TempPathFactory, context: Context
) -> None:
    folder = tmp_path_factory.mktemp("sessions")
    pipeline = Pipeline(folder, context, gateway=SIM_TAIFEX, executor=EXECUTOR_TAIFEX)
    try:
        # Wednesday 2026-12-02, 10:00: the day session; a trade opens (TXFL6 expires 12-16).
        restart_at(pipeline, "2026-12-02T10:00:00+08:00")
        entry = a_signal(condition="day")
        push(pipeline, entry)
        wait_filled(pipeline, entry, timeout_s=10)

        # 13:44:30: an entry is refused, within five minutes of the close.
        restart_at(pipeline, "2026-12-02T13:44:30+08:00")
        late = a_signal(condition="late")
        push(pipeline, late)
        time.sleep(QUIET_S)
        assert order_of(pipeline, late) is None
        assert reason_of(pipeline, "late").startswith("within 5 min of the 13:45 close")

        # 13:45:05, between the sessions: the open trade's exit is held, and says why.
        restart_at(pipeline, "2026-12-02T13:45:05+08:00")
        exit_signal = an_exit(entry)
        push(pipeline, exit_signal)
        time.sleep(QUIET_S)
        assert order_of(pipeline, exit_signal) is None
        assert reason_of(pipeline, "day") == "held: market closed until 15:00"

        # 14:59:55: the held exit goes out when 15:00 opens the after-hours session.
        restart_at(pipeline, "2026-12-02T14:59:55+08:00")
        started = time.monotonic()
        closed = wait_filled(pipeline, exit_signal, timeout_s=20)
        assert time.monotonic() - started >= 4.0  # not before the open
        assert (closed.side, closed.quantity) == (entry.side.opposite.value, entry.quantity)

        # 23:00 on National Day (Friday 2026-10-09, no session): nothing is sent.
        restart_at(pipeline, "2026-10-09T23:00:00+08:00")
        holiday = a_signal(condition="holiday")
        push(pipeline, holiday)
        time.sleep(QUIET_S)
        assert order_of(pipeline, holiday) is None
        assert reason_of(pipeline, "holiday").startswith("market closed")
        # The broker holds exactly the day's entry and its exit, nothing else.
        day = {client_order_id("SIM-0001", entry.id), client_order_id("SIM-0001", exit_signal.id)}
        assert {o.client_order_id for o in pipeline.broker_orders()} == day
    finally:
        pipeline.stop_all()
