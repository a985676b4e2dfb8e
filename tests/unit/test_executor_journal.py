"""The executor journal on a real SQLite file: signals, states, fills, positions, settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm.wire.protocol import TradingMode
from aftm_executor.journal import Journal
from aftm_executor.sizing import client_order_id, order_for
from aftm_executor.states import SignalState
from tests.builders import a_signal

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])


def a_fill(signal: Signal, quantity: int, fill_id: str, price: str = "17500") -> OrderFilled:
    return OrderFilled(
        client_order_id=client_order_id(signal.id),
        broker_order_id="B1",
        fill_id=fill_id,
        symbol=signal.symbol,
        side=signal.side,
        quantity=quantity,
        price=Decimal(price),
        ts_ns=9,
    )


def send(journal: Journal, signal: Signal, *, now_ns: int, quantity: int | None = None) -> None:
    journal.mark_sending(order_for(signal, "ACC1", now_ns, quantity), signal.id, now_ns)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "executor-journal.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    opened = Journal(path)
    yield opened
    opened.close()


def test_the_journal_file_uses_wal(journal: Journal, path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_signal_is_journaled_once(journal: Journal) -> None:
    signal = a_signal()

    assert journal.record(signal, now_ns=1) is True
    assert journal.record(signal, now_ns=2) is False

    entry = journal.get(signal.id)
    assert entry is not None
    assert entry.signal == signal
    assert entry.state is SignalState.RECEIVED
    assert entry.client_order_id == client_order_id(signal.id)
    assert entry.received_ns == 1
    assert journal.counts().received == 1


def test_entries_come_back_by_state_oldest_first(journal: Journal) -> None:
    for condition in ("c3", "c1", "c2"):
        journal.record(a_signal(condition=condition), now_ns=1)
    send(journal, a_signal(condition="c1"), now_ns=2)

    received = journal.in_states([SignalState.RECEIVED])
    sending = journal.in_states([SignalState.SENDING, SignalState.UNKNOWN])

    assert [e.signal.condition_id for e in received] == ["c3", "c2"]
    assert [(e.signal.condition_id, e.account, e.sent) for e in sending] == [("c1", "ACC1", True)]


def test_reports_move_forward_only_and_keep_the_reason(journal: Journal) -> None:
    signal = a_signal()
    journal.record(signal, now_ns=1)
    send(journal, signal, now_ns=2)

    journal.report(signal.id, SignalState.FILLED, now_ns=3, filled_quantity=2, reason="done")
    late = journal.report(signal.id, SignalState.ACCEPTED, now_ns=4, filled_quantity=0)

    assert late is not None
    assert (late.state, late.filled_quantity, late.reason) == (SignalState.FILLED, 2, "done")
    assert journal.by_client_order_id(client_order_id(signal.id)) == late


def test_a_rejection_is_counted_apart_from_orders_sent(journal: Journal) -> None:
    refused, sent = a_signal(condition="c1"), a_signal(condition="c2")
    for signal in (refused, sent):
        journal.record(signal, now_ns=1)
    journal.reject(refused.id, "risk: halted", now_ns=2)
    send(journal, sent, now_ns=2)

    counts = journal.counts()

    assert (counts.received, counts.sent, counts.risk_rejected, counts.unresolved) == (2, 1, 1, 1)
    entry = journal.get(refused.id)
    assert entry is not None
    assert (entry.state, entry.reason) == (SignalState.REJECTED, "risk: halted")


@SIDES
def test_fills_build_positions_and_a_repeated_fill_changes_nothing(
    journal: Journal, side: Side
) -> None:
    signal = a_signal(side)
    journal.record(signal, now_ns=1)
    send(journal, signal, now_ns=2)

    sent = journal.get(signal.id)
    assert sent is not None

    first = journal.record_fill(a_fill(signal, 1, "f1", "100"), sent, 3)
    again = journal.record_fill(a_fill(signal, 1, "f1", "100"), sent, 4)
    entry = journal.get(signal.id)
    assert entry is not None
    assert entry.state is SignalState.PARTIALLY_FILLED
    journal.record_fill(a_fill(signal, 1, "f2", "200"), entry, 5)

    assert first == Position("ACC1", "TXFL6", side.sign, Decimal(100))
    assert again is None
    assert journal.positions() == (Position("ACC1", "TXFL6", side.sign * 2, Decimal(150)),)
    done = journal.get(signal.id)
    assert done is not None
    assert (done.state, done.filled_quantity) == (SignalState.FILLED, 2)


@SIDES
def test_exposure_counts_orders_still_working(journal: Journal, side: Side) -> None:
    working, refused = a_signal(side, condition="c1"), a_signal(side, condition="c2")
    for signal in (working, refused):
        journal.record(signal, now_ns=1)
    send(journal, working, now_ns=2)
    journal.reject(refused.id, "risk: no", now_ns=2)
    journal.report(working.id, SignalState.PARTIALLY_FILLED, now_ns=3, filled_quantity=1)
    entry = journal.get(working.id)
    assert entry is not None
    journal.record_fill(a_fill(working, 1, "f1"), entry, 4)

    # One lot filled (reported and as a fill: counted once), one still working; the refused
    # signal counts for nothing.
    assert journal.exposure("ACC1", "TXFL6") == side.sign * 2
    still = journal.get(working.id)
    assert still is not None
    assert (still.state, still.filled_quantity) == (SignalState.PARTIALLY_FILLED, 1)
    assert journal.exposure("ACC2", "TXFL6") == 0


@SIDES
def test_exposure_counts_lots_reported_filled_before_their_fill_report(
    journal: Journal, side: Side
) -> None:
    signal = a_signal(side)
    journal.record(signal, now_ns=1)
    send(journal, signal, now_ns=2)

    journal.report(signal.id, SignalState.FILLED, now_ns=3, filled_quantity=2)
    assert journal.exposure("ACC1", "TXFL6") == side.sign * 2  # reply in, fill report not yet

    entry = journal.get(signal.id)
    assert entry is not None
    journal.record_fill(a_fill(signal, 2, "f1"), entry, 4)
    assert journal.exposure("ACC1", "TXFL6") == side.sign * 2  # and not twice once it arrives


def test_exposure_does_not_read_settled_history(journal: Journal) -> None:
    """A decision's exposure check reads only open orders, however long the journal grows:
    counted in SQLite VM steps, it costs the same after 3,000 settled signals as after none."""

    def steps_for_exposure() -> int:
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0  # carry on

        db = journal._db  # the cost is the point, and only the connection sees it
        db.set_progress_handler(count, 10)
        try:
            assert journal.exposure("ACC1", "TXFL6") == 2
        finally:
            db.set_progress_handler(None, 10)
        return steps

    working = a_signal(condition="working")
    journal.record(working, now_ns=1)
    send(journal, working, now_ns=2)
    before = steps_for_exposure()

    for number in range(1500):
        settled = a_signal(condition=f"settled-{number}")
        journal.record(settled, now_ns=3)
        send(journal, settled, now_ns=4)
        journal.report(settled.id, SignalState.REJECTED, now_ns=5, reason="gateway: no")
        journal.record(a_signal(Side.SELL, condition=f"refused-{number}"), 6, rejected="risk")
    journal.report(working.id, SignalState.ACCEPTED, now_ns=7)

    assert steps_for_exposure() <= before + 2


def test_everything_survives_a_reopen(path: Path) -> None:
    signal = a_signal()
    first = Journal(path)
    first.record(signal, now_ns=1)
    send(first, signal, now_ns=2)
    entry = first.get(signal.id)
    assert entry is not None
    first.record_fill(a_fill(signal, 2, "f1"), entry, 3)
    first.set_account("ACC1")
    first.set_mode(TradingMode.REDUCING)
    first.close()

    reopened = Journal(path)
    try:
        assert reopened.record(signal, now_ns=9) is False
        assert reopened.account() == "ACC1"
        assert reopened.mode() is TradingMode.REDUCING
        assert reopened.positions() == (Position("ACC1", "TXFL6", 2, Decimal(17500)),)
        again = reopened.get(signal.id)
        assert again is not None
        assert reopened.record_fill(a_fill(signal, 2, "f1"), again, 10) is None
    finally:
        reopened.close()


def test_a_smaller_order_keeps_its_own_quantity(journal: Journal) -> None:
    signal = a_signal(quantity=3)
    journal.record(signal, now_ns=1)
    send(journal, signal, now_ns=2, quantity=1)
    entry = journal.get(signal.id)
    assert entry is not None
    assert entry.order_quantity == 1

    journal.record_fill(a_fill(signal, 1, "f1"), entry, 3)

    filled = journal.get(signal.id)
    assert filled is not None
    assert filled.state is SignalState.FILLED
    assert journal.exposure("ACC1", "TXFL6") == 1


def test_settings_default_to_no_account_and_active(journal: Journal) -> None:
    assert journal.account() == ""
    assert journal.mode() is TradingMode.ACTIVE


def test_the_first_accepting_reply_time_is_kept(journal: Journal) -> None:
    signal = a_signal()
    journal.record(signal, now_ns=1)
    send(journal, signal, now_ns=2)

    before = journal.get(signal.id)
    journal.report(signal.id, SignalState.ACCEPTED, now_ns=3, acked_ns=3)
    journal.report(signal.id, SignalState.FILLED, now_ns=4, filled_quantity=2)
    journal.report(signal.id, SignalState.FILLED, now_ns=5, filled_quantity=2, acked_ns=5)

    after = journal.get(signal.id)
    assert before is not None
    assert after is not None
    assert (before.acked_ns, after.acked_ns, after.state) == (None, 3, SignalState.FILLED)


def test_a_journal_from_before_acked_ns_gains_the_column(path: Path) -> None:
    signal = a_signal()
    first = Journal(path)
    first.record(signal, now_ns=1)
    first.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE signals DROP COLUMN acked_ns")

    reopened = Journal(path)
    try:
        entry = reopened.get(signal.id)
        assert entry is not None
        assert (entry.signal, entry.acked_ns) == (signal, None)
        reopened.report(signal.id, SignalState.ACCEPTED, now_ns=2, acked_ns=2)
        acked = reopened.get(signal.id)
        assert acked is not None
        assert acked.acked_ns == 2
    finally:
        reopened.close()


def test_a_signal_can_be_journaled_already_decided(journal: Journal) -> None:
    sent, refused = a_signal(condition="c1", quantity=3), a_signal(condition="c2")
    order = order_for(sent, "ACC1", 5, quantity=2)

    assert journal.record(sent, now_ns=5, order=order) is True
    assert journal.record(refused, now_ns=6, rejected="risk: halted") is True
    assert journal.record(sent, now_ns=7, rejected="too late") is False

    sending, rejected = journal.get(sent.id), journal.get(refused.id)
    assert sending is not None
    assert rejected is not None
    assert (sending.state, sending.account, sending.order_quantity, sending.sent) == (
        SignalState.SENDING,
        "ACC1",
        2,
        True,
    )
    assert (rejected.state, rejected.reason, rejected.sent) == (
        SignalState.REJECTED,
        "risk: halted",
        False,
    )
    counts = journal.counts()
    assert (counts.received, counts.sent, counts.risk_rejected, counts.unresolved) == (2, 1, 1, 1)


def test_a_repeated_report_writes_nothing(journal: Journal) -> None:
    signal = a_signal()
    journal.record(signal, now_ns=1)
    send(journal, signal, now_ns=2)
    entry = journal.get(signal.id)
    assert entry is not None

    filled = journal.report_on(entry, SignalState.FILLED, 3, filled_quantity=2, acked_ns=3)
    changes = journal.changes
    again = journal.report_on(filled, SignalState.FILLED, 4, filled_quantity=2, acked_ns=4)

    assert journal.changes == changes
    assert again == filled == journal.get(signal.id)
    assert (filled.updated_ns, filled.acked_ns) == (3, 3)


def test_unknown_names_the_signals_never_journaled(journal: Journal) -> None:
    journaled = [a_signal(condition=f"c{i}") for i in range(3)]
    for signal in journaled:
        journal.record(signal, now_ns=1)
    others = [signal_id(f"x{i}", SignalKind.ENTRY) for i in range(1200)]

    assert journal.unknown([s.id for s in journaled] + others) == set(others)
