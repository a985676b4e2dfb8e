"""The executor pulling from several strategy shards (AFTM_EXECUTOR_STRATEGY_CONNECT lists each
shard's control endpoint): its resync asks every shard, one that is down stops no other's and is
asked again later, and an exit's entry is fetched from whichever shard has it. The executor is a
real process; the shards are test-owned sockets (tests/support/executor_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aftm.domain.orders import PlaceOrder
from aftm_executor.journal import Journal
from aftm_executor.trades import Trade, client_order_id
from tests.support.executor_rig import (
    ACCOUNT,
    Context,
    Harness,
    StrategyDouble,
    a_signal,
    an_exit,
    wait_for,
)
from tests.support.processes import endpoint

pytestmark = pytest.mark.slow
# A shard's recovered entries are still fresh after its backoff of a few seconds.
SHARDED = {"AFTM_EXECUTOR_RESYNC_INTERVAL_S": "1", "AFTM_EXECUTOR_MAX_ENTRY_AGE_S": "60"}


@pytest.fixture
def second(context: Context) -> Iterator[StrategyDouble]:
    shard = StrategyDouble(context)
    yield shard
    shard.close()


def shards(*endpoints: str) -> dict[str, str]:
    return {**SHARDED, "AFTM_EXECUTOR_STRATEGY_CONNECT": ",".join(endpoints)}


def placed_ids(harness: Harness, count: int) -> set[str]:
    return {harness.expect(PlaceOrder).client_order_id for _ in range(count)}


def test_a_shard_that_is_down_stops_no_other_shard_s_resync_and_is_asked_again_later(
    harness: Harness, second: StrategyDouble, context: Context
) -> None:
    down = endpoint()  # nothing there yet
    harness.strategy.signals.append(a_signal(condition="a1"))
    second.signals.append(a_signal(condition="b1"))

    harness.start(**shards(down, harness.strategy.endpoint, second.endpoint))

    wanted = {client_order_id(ACCOUNT, s.id) for s in (*harness.strategy.signals, *second.signals)}
    assert placed_ids(harness, 2) == wanted  # both live shards resynced at the start
    up = f'aftm_executor_strategy_up{{strategy="{down}"}}'
    harness.wait_metric(up, 0)
    assert harness.metric(f'aftm_executor_strategy_failures_total{{strategy="{down}"}}')
    # A periodic resync goes on with the live shards while the other stays down.
    later = a_signal(condition="b2")
    second.signals.append(later)
    assert harness.expect(PlaceOrder).client_order_id == client_order_id(ACCOUNT, later.id)

    back = StrategyDouble(context, bind=down)  # the shard comes back where it was
    try:
        back.signals.append(a_signal(condition="c1"))
        order = wait_for("the shard that was down resynced", lambda: _place(harness), harness.log)
        assert order.client_order_id == client_order_id(ACCOUNT, back.signals[0].id)
        harness.wait_metric(up, 1)
    finally:
        back.close()
    assert len(harness.gateway.place_ids()) == 4  # each signal once, none twice


def _place(harness: Harness) -> PlaceOrder | None:
    try:
        return harness.expect(PlaceOrder)
    except AssertionError:
        return None


def test_an_exit_s_entry_is_fetched_from_the_shard_that_has_it(
    harness: Harness, second: StrategyDouble
) -> None:
    entry = a_signal(condition="b1")
    second.signals.append(entry)  # on the second shard only; its push never came
    harness.start(**shards(harness.strategy.endpoint, second.endpoint))
    harness.expect(PlaceOrder)  # the resync at the start found it: it trades
    exit_only = a_signal(condition="b2")
    second.signals.append(exit_only)

    harness.push(an_exit(exit_only))  # before the periodic resync brings its entry

    wait_for("b2's entry fetched", lambda: (exit_only.id,) in second.fetched, harness.log)
    trade = wait_for("b2 decided", lambda: _done(harness, "b2"), harness.log)
    assert trade.entry_ts_ns == exit_only.ts_ns  # the entry the second shard had
    assert "exit came before the entry reached the market" in trade.refused


def test_an_exit_s_entry_is_never_declared_missing_while_a_shard_that_may_have_it_is_down(
    harness: Harness, second: StrategyDouble
) -> None:
    down = endpoint()
    harness.start(**shards(harness.strategy.endpoint, second.endpoint, down))
    ghost = a_signal(condition="g1")  # no live shard has its entry

    harness.push(an_exit(ghost))

    def exit_held() -> str | None:  # the signal is journaled a moment after the push
        trade = harness.journaled("g1")
        return trade.hold if trade is not None else None

    held = wait_for("the exit held", exit_held, harness.log)
    assert "waiting for the entry" in held
    assert not harness.journal_trade("g1").refused  # not "exit without an entry"
    assert harness.gateway.place_ids() == []


def _done(harness: Harness, trade_id: str) -> Trade | None:
    try:
        trade = harness.journal_trade(trade_id)
    except AssertionError:
        return None
    return trade if trade.is_done else None


def test_one_strategy_goes_on_from_the_cursor_it_had_before_shards_and_two_start_their_own(
    harness: Harness, second: StrategyDouble
) -> None:
    harness.journal_path.parent.mkdir(parents=True)
    journal = Journal(harness.journal_path)
    journal.set_setting("resync_after", "7")  # written by an executor from before shards
    journal.close()

    harness.start()
    wait_for("a resync", lambda: harness.strategy.cursors, harness.log)
    assert harness.strategy.cursors[0] == 7  # no paging through the whole history again
    harness.stop()

    harness.start(**shards(harness.strategy.endpoint, second.endpoint))
    wait_for("both shards asked", lambda: second.cursors, harness.log)
    assert second.cursors[0] == 0  # a new shard's store: its own positions, from the start
