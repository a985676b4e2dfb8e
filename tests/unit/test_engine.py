"""The indexed engine against the reference rules, and the invariants a trader relies on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftm.domain.conditions import Condition, Stage
from aftm.domain.market import Tick
from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm_strategy.engine import ConditionEngine
from aftm_strategy.semantics import step
from tests.builders import a_condition, a_tick

SYMBOLS = ["TXFL6", "MXFL6", "TMFL6"]


def scan_everything(
    conditions: list[Condition], ticks: list[Tick]
) -> tuple[list[Signal], list[Condition]]:
    """The obvious implementation: every condition of the tick's symbol, every tick."""
    current = list(conditions)
    signals: list[Signal] = []
    for tick in ticks:
        for i, condition in enumerate(current):
            if condition.symbol != tick.symbol:
                continue
            current[i], fired = step(condition, tick.price)
            if fired is not None:
                side = condition.action.opposite if fired.is_exit else condition.action
                signals.append(
                    Signal(
                        id=f"{condition.id}:{'exit' if fired.is_exit else 'entry'}",
                        condition_id=condition.id,
                        symbol=condition.symbol,
                        side=side,
                        kind=fired,
                        quantity=condition.quantity,
                        price=tick.price,
                        ts_ns=tick.ts_ns,
                    )
                )
    return signals, current


@st.composite
def conditions(draw: st.DrawFn) -> list[Condition]:
    count = draw(st.integers(min_value=1, max_value=25))
    return [
        Condition(
            id=f"c{i}",
            symbol=draw(st.sampled_from(SYMBOLS)),
            action=draw(st.sampled_from(list(Side))),
            trigger_price=draw(st.integers(960, 1040)),
            quantity=draw(st.integers(1, 5)),
            turning_point=draw(st.integers(0, 20)),
            take_profit_point=draw(st.integers(0, 40)),
            stop_loss_point=draw(st.integers(0, 40)),
            is_following=draw(st.booleans()),
            stage=draw(st.sampled_from(list(Stage))),
        )
        for i in range(count)
    ]


@st.composite
def tick_walks(draw: st.DrawFn) -> list[Tick]:
    moves = draw(st.lists(st.tuples(st.sampled_from(SYMBOLS), st.integers(-12, 12)), max_size=300))
    prices = dict.fromkeys(SYMBOLS, 1000)
    ticks = []
    for ts, (symbol, move) in enumerate(moves):
        prices[symbol] = max(1, prices[symbol] + move)
        ticks.append(Tick(symbol=symbol, price=prices[symbol], qty=1, ts_ns=ts))
    return ticks


def run(engine: ConditionEngine, ticks: list[Tick]) -> list[Signal]:
    return [signal for tick in ticks for signal in engine.on_tick(tick)]


@settings(max_examples=300, deadline=None)
@given(conditions(), tick_walks())
def test_engine_agrees_with_scanning_every_condition(
    start: list[Condition], ticks: list[Tick]
) -> None:
    engine = ConditionEngine(start)

    signals = run(engine, ticks)

    assert (signals, engine.conditions()) == scan_everything(start, ticks)


@settings(max_examples=200, deadline=None)
@given(conditions(), tick_walks())
def test_signal_invariants(start: list[Condition], ticks: list[Tick]) -> None:
    fresh = [replace(c, stage=Stage.WAITING) for c in start]
    by_id = {c.id: c for c in fresh}
    first_trigger: dict[str, int] = {}
    for index, tick in enumerate(ticks):
        for c in fresh:
            beyond = (
                tick.price <= c.trigger_price
                if c.action is Side.BUY
                else tick.price >= c.trigger_price
            )
            if c.symbol == tick.symbol and beyond:
                first_trigger.setdefault(c.id, index)

    engine = ConditionEngine(fresh)
    emitted: dict[str, list[tuple[int, Signal]]] = defaultdict(list)
    for index, tick in enumerate(ticks):
        for signal in engine.on_tick(tick):
            emitted[signal.condition_id].append((index, signal))

    for condition_id, fired in emitted.items():
        condition = by_id[condition_id]
        kinds = [s.kind for _, s in fired]
        assert kinds in (
            [SignalKind.ENTRY],
            [SignalKind.ENTRY, SignalKind.TAKE_PROFIT],
            [SignalKind.ENTRY, SignalKind.STOP_LOSS],
        )
        entry_index, entry = fired[0]
        assert entry_index > first_trigger[condition_id], "entered on or before the trigger tick"
        assert entry.side is condition.action
        assert all(
            s.symbol == condition.symbol and s.quantity == condition.quantity for _, s in fired
        )
        if len(fired) == 2:
            exit_index, exit_signal = fired[1]
            assert exit_index > entry_index
            assert exit_signal.side is condition.action.opposite
            assert len({s.id for _, s in fired}) == 2
        if not condition.is_trailing:
            beyond_order = (
                (entry.price >= condition.order_price)
                if condition.action is Side.BUY
                else (entry.price <= condition.order_price)
            )
            assert beyond_order


@pytest.mark.parametrize(
    ("action", "walk"), [(Side.BUY, [990, 1015, 1105]), (Side.SELL, [1010, 985, 895])]
)
def test_a_round_trip_emits_entry_then_exit(action: Side, walk: list[int]) -> None:
    engine = ConditionEngine([a_condition(action=action, quantity=3)])

    signals = run(engine, [a_tick(p, ts_ns=i) for i, p in enumerate(walk)])

    assert [(s.id, s.kind, s.side, s.quantity, s.price, s.ts_ns) for s in signals] == [
        ("c1:entry", SignalKind.ENTRY, action, 3, walk[1], 1),
        ("c1:exit", SignalKind.TAKE_PROFIT, action.opposite, 3, walk[2], 2),
    ]
    assert engine.conditions()[0].stage is Stage.EXITED


def test_a_tick_only_reaches_its_own_symbols_conditions() -> None:
    engine = ConditionEngine(
        [a_condition(id="tx", symbol="TXFL6"), a_condition(id="mx", symbol="MXFL6")]
    )

    run(engine, [a_tick(990, symbol="MXFL6")])

    assert {c.id: c.stage for c in engine.conditions()} == {
        "tx": Stage.WAITING,
        "mx": Stage.TRIGGERED,
    }


def test_signals_within_a_tick_come_in_creation_order() -> None:
    ids = ["z", "a", "m"]
    engine = ConditionEngine([a_condition(id=i, stage=Stage.TRIGGERED) for i in ids])

    assert [s.condition_id for s in engine.on_tick(a_tick(1015))] == ids


def test_a_removed_condition_never_fires() -> None:
    engine = ConditionEngine(
        [a_condition(id="gone", stage=Stage.TRIGGERED), a_condition(id="kept")]
    )

    removed = engine.remove("gone")

    assert removed.id == "gone"
    assert engine.on_tick(a_tick(1015)) == []
    assert [c.id for c in engine.conditions()] == ["kept"]


def test_duplicate_and_unknown_ids_are_refused() -> None:
    engine = ConditionEngine([a_condition(id="c1")])

    with pytest.raises(InvalidInput, match="already exists"):
        engine.add(a_condition(id="c1"))
    with pytest.raises(InvalidInput, match="no condition"):
        engine.remove("nope")


def test_long_trailing_runs_do_not_grow_the_index_without_bound() -> None:
    condition = a_condition(trigger_price=10_000, is_following=True, stage=Stage.TRIGGERED)
    engine = ConditionEngine([condition])

    run(engine, [a_tick(10_000 - i) for i in range(1, 5000)])  # trails on every tick

    book = engine._books["TXFL6"]
    assert len(book.rising) + len(book.falling) < 200
    assert engine.conditions()[0].trigger_price == 10_000 - 4999


def test_changes_are_reported_once_for_persistence() -> None:
    engine = ConditionEngine([a_condition(id="moves"), a_condition(id="still", trigger_price=500)])

    engine.on_tick(a_tick(990))

    assert [(c.id, c.stage) for c in engine.take_changes()] == [("moves", Stage.TRIGGERED)]
    assert engine.take_changes() == []
