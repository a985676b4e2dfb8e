"""Pre-trade checks on entries, the entry rate limit and the gateway's state: pure, both sides.

Exits are not judged by risk (the trade model holds or retries them), so every case here is an
entry. `position` in a case is in units of the entry's side: +3 means already 3 lots the same
way, -3 means 3 lots the other way (which a reducing entry shrinks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from aftm.domain.types import Side
from aftm.wire.protocol import TradingMode
from aftm_executor import trades
from aftm_executor.journal import Journal
from aftm_executor.risk import (
    NS_PER_MINUTE,
    EntryCheck,
    GatewayState,
    Limits,
    OrderRate,
    Verdict,
    check_entry,
    gateway_state,
    is_reducing,
)
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Order
from tests.builders import a_signal

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
LIMITS = Limits(
    max_lots_per_order=10, max_net_position=20, max_orders_per_minute=60, max_account_lots_tx=40.0
)
S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    verdict: Verdict
    reason: str = ""  # a part of the decision's reason
    quantity: int = 1
    mode: TradingMode = TradingMode.ACTIVE
    gateway: GatewayState = GatewayState.ALIVE
    account: str = "ACC1"
    position: int = 0  # in units of the entry's side
    exposure: float = 1.0
    in_window: int = 0

    def entry(self, side: Side) -> EntryCheck:
        return EntryCheck(
            side=side,
            quantity=self.quantity,
            symbol="TXFL6",
            account=self.account,
            mode=self.mode,
            gateway=self.gateway,
            position=side.sign * self.position,
            account_exposure=self.exposure,
            orders_in_window=self.in_window,
        )


ALLOW, REFUSE, WAIT = Verdict.ALLOW, Verdict.REFUSE, Verdict.WAIT
REDUCING, HALTED = TradingMode.REDUCING, TradingMode.HALTED
CASES = [
    Case("plain entry", ALLOW),
    Case("zero quantity", REFUSE, "quantity 0 is not positive", quantity=0),
    Case("negative quantity", REFUSE, "not positive", quantity=-1),
    Case("halted", REFUSE, "halted", mode=HALTED),
    Case("halted, even a reducing entry", REFUSE, "halted", mode=HALTED, position=-3),
    Case(
        "halted beats a starting gateway",
        REFUSE,
        "halted",
        mode=HALTED,
        gateway=GatewayState.STARTING,
    ),
    Case("gateway not heard yet", WAIT, "no gateway health", gateway=GatewayState.STARTING),
    Case("gateway silent: waits for it", WAIT, "silent", gateway=GatewayState.SILENT),
    Case("broker logged out", REFUSE, "logged out", gateway=GatewayState.LOGGED_OUT),
    Case("no account", REFUSE, "no account selected", account=""),
    Case("reducing, flat", REFUSE, "reducing and position 0 would not shrink", mode=REDUCING),
    Case("reducing, adding", REFUSE, "would not shrink", mode=REDUCING, position=3),
    Case("reducing, shrinking", ALLOW, mode=REDUCING, position=-3, quantity=2),
    Case("reducing, closing exactly", ALLOW, mode=REDUCING, position=-3, quantity=3),
    Case(
        "reducing, through zero", REFUSE, "would not shrink", mode=REDUCING, position=-3, quantity=4
    ),
    Case("at the lot limit", ALLOW, quantity=10),
    Case("over the lot limit", REFUSE, "quantity 11 is over 10 per order", quantity=11),
    Case("over the lot limit, reducing", REFUSE, "per order", position=-25, quantity=11),
    Case("up to the net limit", ALLOW, position=15, quantity=5),
    Case("over the net limit", REFUSE, "net position would be", position=15, quantity=6),
    Case("reducing an over-limit position", ALLOW, position=-25, quantity=5),
    Case("flipping within the net limit", ALLOW, position=-5, quantity=10),
    Case("at the account limit", ALLOW, exposure=40.0),
    Case("over the account limit", REFUSE, "40.05 TX-equivalent lots, over 40", exposure=40.05),
    Case("over the account limit, reducing", ALLOW, position=-3, exposure=50.0),
    Case("rate below the limit", ALLOW, in_window=59),
    Case("rate at the limit", REFUSE, "order rate is at 60 per minute", in_window=60),
    Case("rate at the limit, reducing", REFUSE, "per minute", position=-3, in_window=60),
]


@SIDES
@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_check_entry(side: Side, case: Case) -> None:
    decision = check_entry(case.entry(side), LIMITS)

    assert decision.verdict is case.verdict, decision.reason
    assert case.reason in decision.reason
    if case.verdict is ALLOW:
        assert decision.reason == ""


@SIDES
def test_the_net_limit_names_the_position_after_the_order(side: Side) -> None:
    decision = check_entry(Case("", REFUSE, position=15, quantity=6).entry(side), LIMITS)

    assert decision.reason == f"net position would be {side.sign * 21}, over 20"


@pytest.mark.parametrize(
    ("heartbeat_ns", "logged_in", "now_ns", "state"),
    [
        pytest.param(None, True, 9, GatewayState.STARTING, id="not heard, within the timeout"),
        pytest.param(None, True, 10, GatewayState.SILENT, id="not heard for a timeout"),
        pytest.param(5, True, 15, GatewayState.ALIVE, id="heard a timeout ago"),
        pytest.param(5, True, 16, GatewayState.SILENT, id="heard longer ago"),
        pytest.param(5, False, 15, GatewayState.LOGGED_OUT, id="heard, logged out"),
        pytest.param(5, False, 16, GatewayState.SILENT, id="silent beats logged out"),
        pytest.param(5, None, 15, GatewayState.STARTING, id="heard, no health yet"),
        pytest.param(5, None, 16, GatewayState.SILENT, id="heard once, silent since"),
    ],
)
def test_gateway_state_from_what_was_heard(
    heartbeat_ns: int | None, logged_in: bool | None, now_ns: int, state: GatewayState
) -> None:
    found = gateway_state(
        last_heard_ns=heartbeat_ns,
        logged_in=logged_in,
        started_ns=0,
        now_ns=now_ns,
        timeout_ns=10,
    )

    assert found is state


@SIDES
@pytest.mark.parametrize(
    ("position", "quantity", "reducing"),
    [(0, 1, False), (3, 1, False), (-3, 1, True), (-3, 3, True), (-3, 4, False)],
)
def test_is_reducing(side: Side, position: int, quantity: int, reducing: bool) -> None:
    assert is_reducing(side.sign * position, side, quantity) is reducing


def test_order_rate_slides_over_one_minute() -> None:
    rate = OrderRate()
    rate.record(0)
    rate.record(30 * S)

    assert rate.count(30 * S) == 2
    assert rate.count(NS_PER_MINUTE - 1) == 2
    assert rate.count(NS_PER_MINUTE) == 1  # the first one is exactly a minute old
    assert rate.count(90 * S) == 0


def test_order_rate_seeded_out_of_order_counts_the_same() -> None:
    rate = OrderRate([50 * S, 10 * S, 30 * S])

    assert rate.count(60 * S) == 3
    assert rate.count(70 * S) == 2  # the one sent at 10 s is a minute old
    assert rate.count(90 * S) == 1
    assert rate.count(110 * S) == 0


def _sent_trade(condition: str, leg: Leg, sent_ns: int) -> trades.Trade:
    signal = a_signal(condition=condition, ts_ns=sent_ns)
    trade = trades.from_entry(signal, "ACC1", sent_ns)
    order = Order(
        client_order_id=trades.client_order_id("ACC1", signal.id),
        leg=Leg.ENTRY,
        attempt=1,
        side=signal.side,
        quantity=1,
        state=OrderState.FILLED,
        filled=1,
        sent_ns=sent_ns,
    )
    trade = trades.placed(trade, order, sent_ns)
    if leg is Leg.EXIT:
        exit_order = Order(
            client_order_id=trades.client_order_id("ACC1", trade.exit_signal_id),
            leg=Leg.EXIT,
            attempt=1,
            side=signal.side.opposite,
            quantity=1,
            sent_ns=sent_ns + 1,
        )
        trade = trades.placed(trades.wants_exit(trade, "stop_loss", sent_ns), exit_order, sent_ns)
    return trade


def test_the_rate_limit_survives_a_restart(tmp_path: Path) -> None:
    now_ns = 1_000 * S
    path = tmp_path / "executor.sqlite"
    journal = Journal(path)
    journal.save(_sent_trade("old", Leg.ENTRY, now_ns - NS_PER_MINUTE))  # out of the window
    for n in range(LIMITS.max_orders_per_minute - 1):
        journal.save(_sent_trade(f"c{n}", Leg.ENTRY, now_ns - 50 * S + n))
    journal.save(_sent_trade("x", Leg.EXIT, now_ns - 50 * S))  # its exit is not an entry
    journal.close()

    reopened = Journal(path)  # the executor restarted
    try:
        rate = OrderRate(reopened.entry_send_times(now_ns - NS_PER_MINUTE))
    finally:
        reopened.close()

    assert rate.count(now_ns) == LIMITS.max_orders_per_minute  # 59 entries plus x's entry
    entry = Case("", ALLOW, in_window=rate.count(now_ns)).entry(Side.BUY)
    assert check_entry(entry, LIMITS).verdict is Verdict.REFUSE
    assert rate.count(now_ns + 11 * S) == 0  # a minute after they were sent
