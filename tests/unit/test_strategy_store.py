"""The strategy store: conditions with their stage and every emitted signal survive a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from aftm.domain.conditions import Stage
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm_strategy.store import StoreError, StrategyStore
from tests.builders import a_condition


def a_signal(condition_id: str = "c1", kind: SignalKind = SignalKind.ENTRY) -> Signal:
    return Signal(
        id=signal_id(condition_id, kind),
        condition_id=condition_id,
        symbol="TXFL6",
        side=Side.BUY,
        kind=kind,
        quantity=2,
        price=1015,
        ts_ns=1_700_000_000_000_000_000,
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "strategy.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[StrategyStore]:
    opened = StrategyStore.open(path)
    yield opened
    opened.close()


def reopen(store: StrategyStore, path: Path) -> StrategyStore:
    store.close()
    return StrategyStore.open(path)


def test_the_file_is_created_in_wal_mode(store: StrategyStore, path: Path) -> None:
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_conditions_round_trip_in_creation_order(store: StrategyStore, path: Path) -> None:
    conditions = [a_condition(id=name, trigger_price=1000 + i) for i, name in enumerate("zam")]
    for condition in conditions:
        store.add(condition)

    store = reopen(store, path)

    assert store.conditions() == conditions
    store.close()


def test_a_restart_restores_stage_and_trailed_trigger(store: StrategyStore, path: Path) -> None:
    store.add(a_condition(id="c1", is_following=True))
    store.add(a_condition(id="c2"))
    entered = a_condition(id="c1", is_following=True, trigger_price=990, stage=Stage.ENTERED)

    store.save_tick_outcome([entered], [a_signal("c1")])
    store = reopen(store, path)

    assert store.conditions() == [entered, a_condition(id="c2")]
    assert [s for _, s in store.signals()] == [a_signal("c1")]
    store.close()


def test_signals_come_back_in_emission_order(store: StrategyStore) -> None:
    emitted = [a_signal("b"), a_signal("a"), a_signal("b", SignalKind.STOP_LOSS)]
    store.save_tick_outcome([], emitted[:2])
    store.save_tick_outcome([], emitted[2:])

    assert [s for _, s in store.signals()] == emitted
    assert store.has_signals("a")
    assert not store.has_signals("c")


def test_a_failing_tick_outcome_writes_nothing(store: StrategyStore, path: Path) -> None:
    store.add(a_condition(id="c1"))
    store.add(a_condition(id="c2"))
    store.save_tick_outcome([], [a_signal("c2")])
    c1_entered = a_condition(id="c1", stage=Stage.ENTERED)

    # The second signal repeats a stored id, so the statement fails after the condition update
    # and the first insert already ran inside the transaction.
    with pytest.raises(sqlite3.IntegrityError):
        store.save_tick_outcome([c1_entered], [a_signal("c1"), a_signal("c2")])

    store = reopen(store, path)
    assert store.conditions() == [a_condition(id="c1"), a_condition(id="c2")]
    assert [s for _, s in store.signals()] == [a_signal("c2")]
    store.close()


def test_a_duplicate_condition_is_refused(store: StrategyStore) -> None:
    store.add(a_condition(id="c1"))

    with pytest.raises(InvalidInput, match="already exists"):
        store.add(a_condition(id="c1", trigger_price=2000))

    assert store.conditions() == [a_condition(id="c1")]


def test_removal_forgets_the_condition_but_keeps_its_signals(store: StrategyStore) -> None:
    store.add(a_condition(id="c1"))
    store.add(a_condition(id="c2"))
    store.save_tick_outcome([replace(a_condition(id="c1"), stage=Stage.ENTERED)], [a_signal()])

    assert store.remove("c1")
    assert not store.remove("c1")
    assert store.conditions() == [a_condition(id="c2")]
    assert [s for _, s in store.signals()] == [a_signal()]


def test_creation_order_continues_after_a_removal(store: StrategyStore) -> None:
    for name in ("a", "b"):
        store.add(a_condition(id=name))
    store.remove("b")
    store.add(a_condition(id="c"))

    assert [c.id for c in store.conditions()] == ["a", "c"]


def test_a_store_from_a_newer_build_is_refused(store: StrategyStore, path: Path) -> None:
    store.close()
    with sqlite3.connect(path) as other:
        other.execute("PRAGMA user_version = 99")

    with pytest.raises(StoreError, match="schema version 99"):
        StrategyStore.open(path)


def test_an_unreadable_row_is_reported_not_guessed(store: StrategyStore, path: Path) -> None:
    store.add(a_condition(id="c1"))
    with sqlite3.connect(path) as other:
        other.execute("UPDATE conditions SET frame = x'c1' WHERE id = 'c1'")

    with pytest.raises(StoreError, match="'c1' is unreadable"):
        store.conditions()
