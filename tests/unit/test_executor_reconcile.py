"""When the book and the broker differ, and when that difference halts entries (reconcile.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.domain.positions import Position
from aftm.wire.protocol import ReconcileState
from aftm_executor.reconcile import Comparison, Key, Sighting, compare, describe

NS = 1_000_000_000
SETTLE = 2 * NS
KEY: Key = ("A", "TXFL6")


def at(net: int, symbol: str = "TXFL6", account: str = "A") -> Position:
    return Position(account, symbol, net, Decimal(17500))


def run(
    book: list[Position],
    broker: list[Position],
    *,
    now_ns: int = 10 * NS,
    accounts: frozenset[str] = frozenset({"A"}),
    unsettled: frozenset[Key] = frozenset(),
    sightings: dict[Key, Sighting] | None = None,
) -> Comparison:
    return compare(
        book,
        broker,
        accounts=set(accounts),
        unsettled=set(unsettled),
        sightings=sightings or {},
        now_ns=now_ns,
        settle_ns=SETTLE,
    )


def test_equal_books_agree_and_flat_rows_are_left_out() -> None:
    found = run([at(2), at(0, "MXFL6")], [at(2)])

    assert found.state is ReconcileState.AGREED
    assert [(c.symbol, c.book, c.broker) for c in found.checks] == [("TXFL6", 2, 2)]
    assert found.sightings == {}


@pytest.mark.parametrize(
    ("since_ns", "now_ns", "state"),
    [
        pytest.param(None, 10 * NS, ReconcileState.SETTLING, id="first seen: settling"),
        pytest.param(9 * NS, 10 * NS, ReconcileState.SETTLING, id="younger than the settle time"),
        pytest.param(8 * NS, 10 * NS, ReconcileState.DIFFERS, id="stood the settle time"),
    ],
)
def test_a_difference_is_declared_once_it_has_stood(
    since_ns: int | None, now_ns: int, state: ReconcileState
) -> None:
    seen = {} if since_ns is None else {KEY: Sighting(0, 3, since_ns)}

    found = run([], [at(3)], now_ns=now_ns, sightings=seen)

    assert found.state is state
    assert found.sightings == {KEY: Sighting(0, 3, since_ns or now_ns)}
    assert (found.checks[0].book, found.checks[0].broker) == (0, 3)


def test_figures_that_changed_start_the_settle_clock_again() -> None:
    found = run([at(1)], [at(3)], sightings={KEY: Sighting(0, 3, 0)})

    assert found.state is ReconcileState.SETTLING
    assert found.sightings[KEY].since_ns == 10 * NS


def test_an_order_in_flight_explains_a_difference_however_long_it_stands() -> None:
    found = run([at(1)], [at(3)], unsettled=frozenset({KEY}), sightings={KEY: Sighting(1, 3, 0)})

    assert found.state is ReconcileState.SETTLING
    assert found.sightings[KEY].since_ns == 10 * NS  # the clock starts when it settles


def test_a_difference_that_went_away_is_forgotten() -> None:
    found = run([at(3)], [at(3)], sightings={KEY: Sighting(0, 3, 0)})

    assert found.state is ReconcileState.AGREED
    assert found.sightings == {}


def test_only_the_accounts_the_broker_was_asked_about_are_compared() -> None:
    found = run([at(2), at(5, account="B")], [at(2), at(7, account="C")])

    assert [(c.account, c.symbol) for c in found.checks] == [("A", "TXFL6")]


def test_an_account_the_broker_holds_nothing_in_is_still_compared() -> None:
    found = run([at(5, account="B")], [], accounts=frozenset({"A", "B"}))

    assert [(c.account, c.book, c.broker) for c in found.checks] == [("B", 5, 0)]


def test_the_worst_row_decides_and_differences_are_described() -> None:
    seen = {("A", "MXFL6"): Sighting(4, 0, 0)}

    found = run([at(1), at(4, "MXFL6")], [at(2)], sightings=seen)

    assert found.state is ReconcileState.DIFFERS
    states = {c.symbol: c.state for c in found.checks}
    assert states == {"MXFL6": ReconcileState.DIFFERS, "TXFL6": ReconcileState.SETTLING}
    assert describe(found.differences) == "A MXFL6 book 4 broker 0"
