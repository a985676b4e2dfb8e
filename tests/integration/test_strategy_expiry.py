"""The strategy beside contracts near or past their last trading day, on a fake market clock
(AFTM_MARKET_CLOCK_START): a real process, a test-owned gateway PUB and executor PULL.

TXFL6's last trading day is 2026-12-16 (the third Wednesday of December 2026).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from aftm.wire.protocol import AddCondition, RemoveCondition
from aftm.wire.sockets import bound_endpoint, make_socket
from tests.builders import a_condition
from tests.integration.test_strategy_service import Context, GatewayStandIn, Strategy

pytestmark = pytest.mark.slow
TWO_DAYS_BEFORE = "2026-12-14T10:00:00+08:00"  # TXFL6 expires in 2 days, TXFA7 in 37
DAY_AFTER = "2026-12-17T10:00:00+08:00"  # TXFL6 expired yesterday


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def gateway(context: Context) -> GatewayStandIn:
    return GatewayStandIn(context)


@pytest.fixture
def executor_pull(context: Context) -> zmq.Socket[bytes]:
    return make_socket(context, zmq.PULL, bind="tcp://127.0.0.1:*")


def started(
    context: Context, tmp_path: Path, gateway: GatewayStandIn, pull: zmq.Socket[bytes], **env: str
) -> Strategy:
    strategy = Strategy(context, tmp_path, gateway, bound_endpoint(pull))
    strategy.process.env.update(env)
    return strategy.start()


@pytest.fixture
def near_expiry(
    context: Context, tmp_path: Path, gateway: GatewayStandIn, executor_pull: zmq.Socket[bytes]
) -> Iterator[Strategy]:
    strategy = started(
        context, tmp_path, gateway, executor_pull, AFTM_MARKET_CLOCK_START=TWO_DAYS_BEFORE
    )
    yield strategy
    strategy.kill()


def test_a_condition_on_an_expiring_contract_is_added_warned_about_and_counted(
    near_expiry: Strategy,
) -> None:
    assert near_expiry.metric("aftm_strategy_conditions_near_expiry") == 0

    assert near_expiry.request(AddCondition(a_condition(id="soon", symbol="TXFL6"))).ok
    assert near_expiry.request(AddCondition(a_condition(id="later", symbol="TXFA7"))).ok

    assert near_expiry.metric("aftm_strategy_conditions_near_expiry") == 1
    deadline = time.monotonic() + 5
    line = "condition on an expiring contract id=soon symbol=TXFL6 last_trading_day=2026-12-16"
    while line not in near_expiry.process.log():
        assert time.monotonic() < deadline, near_expiry.process.log()
        time.sleep(0.05)
    assert "expiring contract id=later" not in near_expiry.process.log()

    assert near_expiry.request(RemoveCondition("soon")).ok
    assert near_expiry.metric("aftm_strategy_conditions_near_expiry") == 0


def test_zero_days_turns_the_warning_off(
    context: Context, tmp_path: Path, gateway: GatewayStandIn, executor_pull: zmq.Socket[bytes]
) -> None:
    strategy = started(
        context,
        tmp_path,
        gateway,
        executor_pull,
        AFTM_MARKET_CLOCK_START=TWO_DAYS_BEFORE,
        AFTM_STRATEGY_EXPIRY_WARNING_DAYS="0",
    )
    try:
        assert strategy.request(AddCondition(a_condition(id="soon", symbol="TXFL6"))).ok
        assert strategy.metric("aftm_strategy_conditions_near_expiry") == 0
        assert "expiring contract" not in strategy.process.log()
    finally:
        strategy.kill()


def test_a_condition_on_an_expired_contract_is_accepted_with_a_warning(
    context: Context, tmp_path: Path, gateway: GatewayStandIn, executor_pull: zmq.Socket[bytes]
) -> None:
    """What may trade is the broker's to say (unlisted symbols are refused); a simulated
    exchange that ignores expiry keeps its default months tradable on any date."""
    strategy = started(context, tmp_path, gateway, executor_pull, AFTM_MARKET_CLOCK_START=DAY_AFTER)
    try:
        assert strategy.request(AddCondition(a_condition(id="gone", symbol="TXFL6"))).ok

        deadline = time.monotonic() + 5
        while "condition on an expired contract id=gone" not in strategy.process.log():
            assert time.monotonic() < deadline, strategy.process.log()
            time.sleep(0.05)
        assert "last_trading_day=2026-12-16 roll_to=TXFA7" in strategy.process.log()
    finally:
        strategy.kill()
