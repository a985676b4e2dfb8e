"""Gateway, strategy and executor as real processes: a condition trades, and crashes of any one
of them neither duplicate nor lose a broker order (DESIGN.md principles 4 and 5).

The broker's own state is the witness: the simulated exchange's SQLite file, or the PFCF test
double's state file when the gateway runs the PFCF adapter (every test runs on both brokers).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
import zmq

from aftm.domain.conditions import Condition, Stage
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm.wire.protocol import AddCondition, ConditionList, ListConditions
from aftm_executor.trades import client_order_id
from aftm_strategy.store import StrategyStore
from tests.support.pipeline import BROKERS, BrokerOrder, Context, Pipeline, wait_for

pytestmark = pytest.mark.slow
SYMBOL = "TXFL6"
MakePipeline = Callable[..., Pipeline]
ENTRY, EXIT = SignalKind.ENTRY, SignalKind.TAKE_PROFIT  # exit ids share one stage


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture(params=BROKERS)
def make_pipeline(
    request: pytest.FixtureRequest, tmp_path: Path, context: Context
) -> Iterator[MakePipeline]:
    started: list[Pipeline] = []

    def build(**env: dict[str, str]) -> Pipeline:
        pipeline = Pipeline(tmp_path, context, request.param, **env)
        started.append(pipeline)
        return pipeline

    yield build
    for pipeline in started:
        pipeline.stop_all()


def add_quick_condition(pipeline: Pipeline, *, quantity: int = 2, exit_points: int = 10) -> str:
    """A buy that triggers at once, trails down and enters on the first 3-point bounce."""
    price = pipeline.last_price(SYMBOL)
    condition = Condition(
        id=f"c-{uuid.uuid4().hex[:8]}",
        symbol=SYMBOL,
        action=Side.BUY,
        trigger_price=price + 5,
        quantity=quantity,
        turning_point=3,
        take_profit_point=exit_points,
        stop_loss_point=exit_points,
        is_following=True,
    )
    client = pipeline.client("strategy")
    reply = client.request(AddCondition(condition))
    client.close()
    assert reply.ok, reply.error
    return condition.id


def orders_for(pipeline: Pipeline, condition_id: str, kind: SignalKind) -> list[BrokerOrder]:
    wanted = client_order_id("SIM-0001", signal_id(condition_id, kind))
    return [order for order in pipeline.broker_orders() if order.client_order_id == wanted]


def wait_filled(pipeline: Pipeline, condition_id: str, kind: SignalKind) -> BrokerOrder:
    def filled() -> BrokerOrder | None:
        found = orders_for(pipeline, condition_id, kind)
        return found[0] if found and found[0].status == "filled" else None

    return wait_for(filled, 60, f"{kind} of {condition_id} filled at the broker", pipeline)


def test_a_condition_trades_once_in_and_once_out_with_its_quantity(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline().start_all()

    condition_id = add_quick_condition(pipeline, quantity=2)

    entry = wait_filled(pipeline, condition_id, ENTRY)
    exit_order = wait_filled(pipeline, condition_id, EXIT)
    time.sleep(1.0)  # anything duplicated would have arrived by now
    assert (entry.side, entry.quantity) == ("buy", 2)
    assert (exit_order.side, exit_order.quantity) == ("sell", 2)
    assert len(pipeline.broker_orders()) == 2


def test_gateway_killed_with_an_order_in_flight_places_it_once(
    make_pipeline: MakePipeline,
) -> None:
    # The sim records the order, then takes 1.5 s to answer: the kill lands in that window.
    pipeline = make_pipeline(gateway={"AFTM_GATEWAY_FAULT_DELAY_MS": "1500"}).start_all()
    condition_id = add_quick_condition(pipeline)

    wait_for(lambda: orders_for(pipeline, condition_id, ENTRY), 60, "entry at broker", pipeline)
    pipeline.kill("gateway")
    pipeline.start("gateway", AFTM_GATEWAY_FAULT_DELAY_MS="0")

    wait_filled(pipeline, condition_id, EXIT)
    time.sleep(1.0)
    assert len(orders_for(pipeline, condition_id, ENTRY)) == 1
    assert len(orders_for(pipeline, condition_id, EXIT)) == 1


def test_executor_killed_after_journaling_resumes_without_duplicate_or_loss(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline(
        gateway={"AFTM_GATEWAY_FAULT_DELAY_MS": "1500"},
        executor={"AFTM_EXECUTOR_REQUEST_TIMEOUT_MS": "4000"},
    ).start_all()
    condition_id = add_quick_condition(pipeline)

    # The executor journaled the signal and is waiting for the slow reply: kill it there.
    wait_for(lambda: orders_for(pipeline, condition_id, ENTRY), 60, "entry at broker", pipeline)
    pipeline.kill("executor")
    pipeline.start("executor")

    wait_filled(pipeline, condition_id, ENTRY)
    wait_filled(pipeline, condition_id, EXIT)
    time.sleep(1.0)
    assert len(orders_for(pipeline, condition_id, ENTRY)) == 1
    assert len(orders_for(pipeline, condition_id, EXIT)) == 1


def test_strategy_restarted_after_an_entry_never_enters_again(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline().start_all()
    # Exits far away: the condition stays entered while prices cross its order level again.
    condition_id = add_quick_condition(pipeline, exit_points=2000)
    wait_filled(pipeline, condition_id, ENTRY)

    pipeline.kill("strategy")
    pipeline.start("strategy")
    time.sleep(3.0)  # ~400 more ticks through the restarted strategy

    client = pipeline.client("strategy")
    listed = client.request(ListConditions()).body
    client.close()
    assert isinstance(listed, ConditionList)
    assert [(c.id, c.stage) for c in listed.conditions] == [(condition_id, Stage.ENTERED)]
    assert len(orders_for(pipeline, condition_id, ENTRY)) == 1
    assert len(pipeline.broker_orders()) == 1


def test_strategy_killed_between_commit_and_push_places_neither_entry_nor_exit(
    make_pipeline: MakePipeline,
) -> None:
    """The strategy committed an entry and died before pushing it; restarted, it fires the exit,
    which reaches the executor first. Neither may leave a position behind: the executor fetches
    the entry at once, and a trade whose exit came first places nothing."""
    pipeline = make_pipeline()
    pipeline.start("gateway")
    pipeline.start("executor")
    price = pipeline.last_price(SYMBOL)
    condition = Condition(
        id=f"c-{uuid.uuid4().hex[:8]}",
        symbol=SYMBOL,
        action=Side.BUY,
        trigger_price=price - 3,
        quantity=1,
        turning_point=3,  # order price = the last price
        take_profit_point=2,
        stop_loss_point=2,  # any 2-point move exits
        is_following=False,
        stage=Stage.ENTERED,
    )
    entry = Signal(
        id=signal_id(condition.id, ENTRY),
        condition_id=condition.id,
        symbol=SYMBOL,
        side=Side.BUY,
        kind=ENTRY,
        quantity=1,
        price=price,
        ts_ns=time.time_ns(),
    )
    # What a strategy killed after its commit and before its push leaves in its store.
    store = StrategyStore.open(pipeline.folder / "strategy.sqlite")
    store.add(condition)
    store.save_tick_outcome([condition], [entry])
    store.close()

    pipeline.start("strategy")

    executor_journal = pipeline.folder / "executor-journal.sqlite"

    def exit_taken() -> bool:
        with closing(sqlite3.connect(executor_journal, timeout=5)) as db:
            row = db.execute(
                "SELECT 1 FROM signals WHERE signal_id = ?", (signal_id(condition.id, EXIT),)
            ).fetchone()
        return row is not None

    wait_for(exit_taken, 30, "the executor to take the exit", pipeline)
    time.sleep(8.0)  # past a resync retry: a late entry would have been placed by now
    assert orders_for(pipeline, condition.id, ENTRY) == []
    assert orders_for(pipeline, condition.id, EXIT) == []
    with closing(sqlite3.connect(executor_journal, timeout=5)) as db:
        (refused,) = db.execute(
            "SELECT refused FROM trades WHERE trade_id = ?", (condition.id,)
        ).fetchone()
    assert "exit came before the entry" in refused
