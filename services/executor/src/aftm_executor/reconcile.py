"""Comparing the executor's book with the broker's positions (pure).

The broker is the truth; the book is a cache of it, folded from fills. The two may differ for a
moment for good reasons: an order in flight, or a fill the broker counted whose report has not
arrived. So a difference is only *declared* when no order of that account and symbol is
unsettled and the same figures have stood for `settle_ns` (a fill on its way has arrived by
then, or reconciliation has fetched it from the gateway's fill ledger). A declared difference
halts entries until it disappears or a person accepts the broker's figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from aftm.domain.positions import Position
from aftm.wire.protocol import PositionCheck, ReconcileState

Key = tuple[str, str]  # (account, symbol)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Sighting:
    """A difference as first seen with these figures; the settle clock runs from `since_ns`."""

    book: int
    broker: int
    since_ns: int


@dataclass(frozen=True, slots=True)
class Comparison:
    checks: tuple[PositionCheck, ...]
    sightings: dict[Key, Sighting]  # what the next comparison starts from

    @property
    def state(self) -> ReconcileState:
        states = {check.state for check in self.checks}
        for worst in (ReconcileState.DIFFERS, ReconcileState.SETTLING):
            if worst in states:
                return worst
        return ReconcileState.AGREED

    @property
    def differences(self) -> tuple[PositionCheck, ...]:
        return tuple(c for c in self.checks if c.state is ReconcileState.DIFFERS)


def compare(
    book: Iterable[Position],
    broker: Iterable[Position],
    *,
    accounts: set[str],
    unsettled: set[Key],
    sightings: Mapping[Key, Sighting],
    now_ns: int,
    settle_ns: int,
) -> Comparison:
    """Every (account, symbol) of `accounts` (those the broker was asked about) open on either
    side, book beside broker."""
    theirs = {(p.account, p.symbol): p for p in broker if p.account in accounts}
    ours = {(p.account, p.symbol): p for p in book if p.account in accounts}
    checks, seen = [], {}
    for key in sorted(ours.keys() | theirs.keys()):
        mine, broker_side = ours.get(key), theirs.get(key)
        book_net = mine.net_quantity if mine else 0
        broker_net = broker_side.net_quantity if broker_side else 0
        if book_net == broker_net == 0:
            continue
        state = ReconcileState.AGREED
        if book_net != broker_net:
            before = sightings.get(key)
            same = before is not None and (before.book, before.broker) == (book_net, broker_net)
            # Orders in flight stop the clock: their fills may still make the two agree.
            since = before.since_ns if same and key not in unsettled and before else now_ns
            seen[key] = Sighting(book_net, broker_net, since)
            settled = key not in unsettled and now_ns - since >= settle_ns
            state = ReconcileState.DIFFERS if settled else ReconcileState.SETTLING
        checks.append(
            PositionCheck(
                account=key[0],
                symbol=key[1],
                book=book_net,
                broker=broker_net,
                book_average=mine.average_price if mine else ZERO,
                broker_average=broker_side.average_price if broker_side else ZERO,
                state=state,
            )
        )
    return Comparison(tuple(checks), seen)


def describe(differences: Iterable[PositionCheck]) -> str:
    """One line for logs and the console: "SIM-0001 TXFL6 book 2 broker 0; ..."."""
    return "; ".join(f"{c.account} {c.symbol} book {c.book} broker {c.broker}" for c in differences)
