"""The executor journal on a real SQLite file: signals, trades with their orders, fills,
positions, exposures, retention and settings. Reopening the file stands for a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import Side
from aftm.wire.protocol import TradingMode
from aftm_executor import trades
from aftm_executor.journal import FillValue, Journal
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Order, Trade, client_order_id
from tests.builders import a_signal

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
ACCOUNT = "ACC1"
SYMBOL = "TXFL6"  # what a_signal trades


def an_entry(
    signal: Signal,
    *,
    state: OrderState = OrderState.SENDING,
    filled: int = 0,
    sent_ns: int = 10,
    account: str = ACCOUNT,
) -> Trade:
    """The trade of an entry signal with its entry order placed."""
    trade = trades.from_entry(signal, account, sent_ns)
    order = Order(
        client_order_id=client_order_id(account, signal.id),
        leg=Leg.ENTRY,
        attempt=1,
        side=signal.side,
        quantity=signal.quantity,
        state=state,
        filled=filled,
        sent_ns=sent_ns,
    )
    return trades.placed(trade, order, sent_ns)


def an_exit(
    trade: Trade,
    attempt: int,
    quantity: int,
    *,
    state: OrderState = OrderState.SENDING,
    filled: int = 0,
    sent_ns: int = 20,
) -> Trade:
    """`trade` wanting its exit, with exit attempt `attempt` placed."""
    order = Order(
        client_order_id=client_order_id(trade.account, trade.exit_signal_id, attempt),
        leg=Leg.EXIT,
        attempt=attempt,
        side=trade.side.opposite,
        quantity=quantity,
        state=state,
        filled=filled,
        sent_ns=sent_ns,
    )
    return trades.placed(trades.wants_exit(trade, "take_profit", sent_ns), order, sent_ns)


def reported(trade: Trade, order_id: str, state: OrderState, filled: int = 0) -> Trade:
    return trades.reported(trade, order_id, state, filled, "", trade.updated_ns + 1)


def a_fill(
    order_id: str, side: Side, quantity: int, fill_id: str, price: str = "17500"
) -> OrderFilled:
    return OrderFilled(
        client_order_id=order_id,
        broker_order_id="B1",
        fill_id=fill_id,
        symbol=SYMBOL,
        side=side,
        quantity=quantity,
        price=Decimal(price),
        ts_ns=9,
    )


def entry_id(condition: str = "c1") -> str:
    return client_order_id(ACCOUNT, a_signal(condition=condition).id)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "executor-journal.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    opened = Journal(path)
    yield opened
    opened.close()


def reopen(journal: Journal, path: Path) -> Journal:
    journal.close()
    return Journal(path)


# --- signals and trades -------------------------------------------------------------------------


def test_the_journal_file_uses_wal(journal: Journal, path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_signal_is_taken_once_with_its_trade(journal: Journal) -> None:
    signal = a_signal()
    trade = an_entry(signal)

    assert journal.take_signal(signal, 1, trade) is True
    changes = journal.changes
    later = replace(trade, hold="should not be written")
    assert journal.take_signal(signal, 2, later) is False

    assert journal.changes == changes  # nothing written
    assert journal.trade(trade.trade_id) == trade
    assert journal.counts().received == 1
    assert journal.unknown_signals([signal.id, "c9:entry"]) == {"c9:entry"}


def test_an_exit_signal_of_a_known_trade_is_a_new_signal(journal: Journal) -> None:
    entry = a_signal()
    trade = an_entry(entry, state=OrderState.FILLED, filled=2)
    journal.take_signal(entry, 1, trade)
    exit_signal = a_signal(Side.SELL, kind=SignalKind.TAKE_PROFIT)

    assert journal.take_signal(exit_signal, 2, an_exit(trade, 1, 2)) is True
    assert journal.take_signal(exit_signal, 3, trade) is False

    stored = journal.trade(trade.trade_id)
    assert stored is not None
    assert [order.leg for order in stored.orders] == [Leg.ENTRY, Leg.EXIT]
    assert journal.counts().received == 2


@SIDES
def test_a_trade_round_trips_with_its_orders(journal: Journal, path: Path, side: Side) -> None:
    entry = an_entry(a_signal(side, quantity=3), state=OrderState.CANCELLED, filled=2)
    first = an_exit(entry, 1, 2, state=OrderState.CANCELLED, filled=1)
    second = an_exit(first, 2, 1, state=OrderState.ACCEPTED)
    trade = replace(
        second,
        orders=(
            *second.orders[:1],
            replace(second.orders[1], reason="IOC remainder cancelled"),
            second.orders[2],
        ),
        hold="gateway reports the broker logged out",
        problem="exit cancelled with 1 filled",
        failures=1,
        retry_at_ns=99,
        cancel_sent_ns=15,
        flatten=True,
    )
    journal.save(trade)

    assert journal.trade(trade.trade_id) == trade
    journal = reopen(journal, path)
    try:
        assert journal.trade(trade.trade_id) == trade
        assert (
            journal.trade_of_order(client_order_id(trade.account, trade.exit_signal_id, 2)) == trade
        )
        assert journal.trade("c9") is None
        assert journal.trade_of_order("A-not-ours") is None
    finally:
        journal.close()


def test_a_trade_waiting_for_its_entry_round_trips(journal: Journal) -> None:
    trade = trades.held(
        trades.from_exit(a_signal(Side.SELL, kind=SignalKind.STOP_LOSS), 5),
        "waiting for the entry from the strategy",
        6,
    )
    journal.save(trade)

    assert trade.entry_ts_ns is None
    assert journal.trade(trade.trade_id) == trade
    assert journal.waiting_trades() == [trade]


def test_states_are_stored_as_reported(journal: Journal) -> None:
    trade = an_entry(a_signal())
    journal.save(trade)
    order_id = entry_id()

    for state, filled in [
        (OrderState.ACCEPTED, 0),
        (OrderState.PARTIALLY_FILLED, 1),
        (OrderState.FILLED, 2),
    ]:
        trade = reported(trade, order_id, state, filled)
        journal.save(trade)
        stored = journal.trade(trade.trade_id)
        assert stored is not None
        order = stored.order(order_id)
        assert order is not None
        assert (order.state, order.filled) == (state, filled)


def test_filled_is_the_larger_of_reports_and_fills(journal: Journal) -> None:
    signal = a_signal(quantity=3)
    trade = an_entry(signal, state=OrderState.PARTIALLY_FILLED, filled=1)
    journal.save(trade)
    order_id = entry_id()

    def filled() -> int:
        stored = journal.trade(trade.trade_id)
        order = stored.order(order_id) if stored else None
        assert order is not None
        return order.filled

    journal.record_fill(a_fill(order_id, Side.BUY, 1, "f1"), ACCOUNT)
    journal.record_fill(a_fill(order_id, Side.BUY, 1, "f2"), ACCOUNT)
    assert filled() == 2  # the fills ran ahead of the reports

    journal.save(reported(trade, order_id, OrderState.FILLED, 3))
    assert filled() == 3  # a report ran ahead of the fills

    journal.save(trade)  # an older copy of the trade, filled 1
    assert filled() == 3  # never lowered
    assert journal.fill_quantity(order_id) == 2


def test_live_and_waiting_trades_oldest_first(journal: Journal) -> None:
    done = trades.refused(trades.from_entry(a_signal(condition="c0"), ACCOUNT, 1), "stale", 1)
    newer = an_entry(a_signal(condition="c2"), sent_ns=30)
    older = an_entry(a_signal(condition="c1"), sent_ns=20)
    held = trades.held(trades.from_entry(a_signal(condition="c3"), ACCOUNT, 40), "starting", 40)
    for trade in (done, newer, older, held):
        journal.save(trade)

    assert [t.trade_id for t in journal.live_trades()] == ["c1", "c2", "c3"]
    assert [t.trade_id for t in journal.waiting_trades()] == ["c3"]
    assert [t.trade_id for t in journal.recent_trades(2)] == ["c2", "c3"]
    assert [t.trade_id for t in journal.recent_trades(9)] == ["c0", "c1", "c2", "c3"]
    assert [t.trade_id for t in journal.recent_trades(9, open_only=True)] == ["c1", "c2", "c3"]


def test_unresolved_lists_sending_and_unknown_orders_oldest_first(journal: Journal) -> None:
    first = an_entry(a_signal(condition="c1"))
    second = an_entry(a_signal(condition="c2"))
    accepted = an_entry(a_signal(condition="c3"), state=OrderState.ACCEPTED)
    closing = an_exit(an_entry(a_signal(condition="c4"), state=OrderState.FILLED, filled=2), 1, 2)
    for trade in (first, second, accepted, closing):
        journal.save(trade)
    first = replace(first.with_order(replace(first.orders[0], state=OrderState.UNKNOWN)))
    journal.save(first)  # asked about later: keeps its place

    found = journal.unresolved()

    assert found == [
        ("c1", first.orders[0]),
        ("c2", second.orders[0]),
        ("c4", closing.orders[1]),
    ]
    assert journal.unresolved_count() == 3
    assert journal.counts().unresolved == 3


def test_counts(journal: Journal) -> None:
    sent = a_signal(condition="c1")
    journal.take_signal(sent, 1, an_entry(sent))
    stale = a_signal(condition="c2")
    journal.take_signal(stale, 1, trades.refused(trades.from_entry(stale, ACCOUNT, 1), "stale", 1))

    counts = journal.counts()

    assert (counts.received, counts.sent, counts.risk_rejected, counts.unresolved) == (2, 1, 1, 1)


# --- durability ---------------------------------------------------------------------------------


def _connection(journal: Journal) -> sqlite3.Connection:
    """The journal's own connection: `synchronous` is a setting of a connection, so another
    connection to the file cannot tell what this one uses."""
    return journal._db


def _synchronous(journal: Journal) -> list[str]:
    """Records the statements that set `synchronous` and delimit transactions from now on."""
    ran: list[str] = []
    _connection(journal).set_trace_callback(
        lambda statement: (
            ran.append(statement)
            if statement.startswith(("PRAGMA synchronous", "BEGIN", "COMMIT"))
            else None
        )
    )
    return ran


def test_taking_a_signal_that_sends_commits_durably(journal: Journal, path: Path) -> None:
    ran = _synchronous(journal)
    signal = a_signal()

    journal.take_signal(signal, 1, an_entry(signal))

    assert ran == [
        "PRAGMA synchronous=FULL",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "PRAGMA synchronous=NORMAL",
    ]
    assert _connection(journal).execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    journal = reopen(journal, path)
    try:
        assert journal.unresolved() == [("c1", an_entry(signal).orders[0])]
        assert journal.unknown_signals([signal.id]) == set()
    finally:
        journal.close()


def test_other_commits_are_not_durable_and_a_duplicate_resets_the_setting(
    journal: Journal,
) -> None:
    ran = _synchronous(journal)
    refused = a_signal(condition="c2")
    journal.take_signal(refused, 1, trades.refused(trades.from_entry(refused, ACCOUNT, 1), "x", 1))
    assert "PRAGMA synchronous=FULL" not in ran

    signal = a_signal()
    journal.take_signal(signal, 1, an_entry(signal))
    ran.clear()
    assert journal.take_signal(signal, 2, an_entry(signal)) is False

    assert ran[-1] == "PRAGMA synchronous=NORMAL"
    assert _connection(journal).execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL


# --- fills and positions ------------------------------------------------------------------------


@SIDES
def test_a_fill_is_applied_once_and_positions_add_up(
    journal: Journal, path: Path, side: Side
) -> None:
    signal = a_signal(side, quantity=3)
    journal.save(an_entry(signal, state=OrderState.ACCEPTED))
    order_id = entry_id()

    first = journal.record_fill(a_fill(order_id, side, 2, "f1", "17500"), ACCOUNT)
    again = journal.record_fill(a_fill(order_id, side, 2, "f1", "17500"), ACCOUNT)
    second = journal.record_fill(a_fill(order_id, side, 1, "f2", "17530"), ACCOUNT)

    assert first == Position(ACCOUNT, SYMBOL, side.sign * 2, Decimal(17500))
    assert again is None
    expected = Position(ACCOUNT, SYMBOL, side.sign * 3, Decimal(17510))
    assert second == expected
    values = {order_id: FillValue(3, Decimal(52530))}
    assert journal.fill_values([order_id, "A-not-ours"]) == values
    journal = reopen(journal, path)
    try:
        assert journal.positions() == (expected,)
        assert journal.fill_values([order_id]) == values
        assert journal.record_fill(a_fill(order_id, side, 2, "f1"), ACCOUNT) is None
        assert journal.positions() == (expected,)
    finally:
        journal.close()


@SIDES
def test_an_exit_fill_closes_the_position(journal: Journal, side: Side) -> None:
    trade = an_exit(an_entry(a_signal(side), state=OrderState.FILLED, filled=2), 1, 2)
    journal.save(trade)

    journal.record_fill(a_fill(entry_id(), side, 2, "f1", "17500"), ACCOUNT)
    closed = journal.record_fill(
        a_fill(trade.orders[1].client_order_id, side.opposite, 2, "f2", "17520"), ACCOUNT
    )

    assert closed == Position(ACCOUNT, SYMBOL, 0, Decimal(0))
    assert journal.fill_values(o.client_order_id for o in trade.orders) == {
        entry_id(): FillValue(2, Decimal(35000)),
        trade.orders[1].client_order_id: FillValue(2, Decimal(35040)),
    }


# --- exposures ----------------------------------------------------------------------------------


@SIDES
@pytest.mark.parametrize(
    ("state", "reported_filled", "fills", "exposure"),
    [
        pytest.param(OrderState.SENDING, 0, 0, 3, id="in flight"),
        pytest.param(OrderState.UNKNOWN, 0, 0, 3, id="unknown"),
        pytest.param(OrderState.ACCEPTED, 0, 0, 3, id="working"),
        pytest.param(OrderState.PARTIALLY_FILLED, 1, 1, 3, id="working, partly filled"),
        pytest.param(OrderState.PARTIALLY_FILLED, 2, 1, 3, id="working, fill report behind"),
        pytest.param(OrderState.FILLED, 3, 0, 3, id="filled, no fill report yet"),
        pytest.param(OrderState.FILLED, 3, 3, 3, id="filled and settled"),
        pytest.param(OrderState.CANCELLED, 2, 1, 2, id="cancelled, a fill report behind"),
        pytest.param(OrderState.CANCELLED, 1, 1, 1, id="cancelled after a fill"),
        pytest.param(OrderState.REJECTED, 0, 0, 0, id="rejected"),
        pytest.param(OrderState.UNSENT, 0, 0, 0, id="never reached the gateway"),
    ],
)
def test_exposure_counts_what_an_entry_may_still_add(
    journal: Journal,
    side: Side,
    state: OrderState,
    reported_filled: int,
    fills: int,
    exposure: int,
) -> None:
    journal.save(an_entry(a_signal(side, quantity=3), state=state, filled=reported_filled))
    for n in range(fills):
        journal.record_fill(a_fill(entry_id(), side, 1, f"f{n}"), ACCOUNT)

    assert journal.exposures(ACCOUNT).get(SYMBOL, 0) == side.sign * exposure
    assert journal.exposures("ACC2") == {}


@SIDES
def test_an_exit_in_flight_counts_against_the_position(journal: Journal, side: Side) -> None:
    entry = an_entry(a_signal(side, quantity=2), state=OrderState.FILLED, filled=2)
    journal.save(entry)
    journal.record_fill(a_fill(entry_id(), side, 2, "f1"), ACCOUNT)
    other = an_entry(a_signal(side, condition="c2", quantity=4), account="ACC2")
    journal.save(other)

    assert journal.exposures(ACCOUNT) == {SYMBOL: side.sign * 2}
    journal.save(an_exit(entry, 1, 2))
    assert journal.exposures(ACCOUNT) == {SYMBOL: 0}
    assert journal.exposures("ACC2") == {SYMBOL: side.sign * 4}


def test_entry_send_times_are_the_entries_sent_since(journal: Journal) -> None:
    journal.save(an_entry(a_signal(condition="c1"), sent_ns=100))
    journal.save(an_exit(an_entry(a_signal(condition="c2"), sent_ns=200), 1, 2, sent_ns=150))
    journal.save(an_entry(a_signal(condition="c3"), sent_ns=300))

    assert sorted(journal.entry_send_times(99)) == [100, 200, 300]
    assert sorted(journal.entry_send_times(100)) == [200, 300]
    assert journal.entry_send_times(300) == []


# --- retention ----------------------------------------------------------------------------------


def test_prune_forgets_old_done_trades_and_keeps_live_ones_and_positions(
    journal: Journal,
) -> None:
    def taken(signal: Signal, trade: Trade, updated_ns: int) -> Trade:
        trade = replace(trade, updated_ns=updated_ns)
        journal.take_signal(signal, 1, trade)
        return trade

    old_signal = a_signal(condition="old")
    old = an_exit(an_entry(old_signal, state=OrderState.FILLED, filled=2), 1, 2)
    old = reported(old, old.orders[1].client_order_id, OrderState.FILLED, 2)
    old = taken(old_signal, old, updated_ns=100)
    journal.record_fill(a_fill(entry_id("old"), Side.BUY, 2, "f1"), ACCOUNT)
    journal.record_fill(a_fill(old.orders[1].client_order_id, Side.SELL, 2, "f2"), ACCOUNT)
    live_signal = a_signal(condition="live")
    live = taken(live_signal, an_entry(live_signal, state=OrderState.FILLED, filled=1), 50)
    journal.record_fill(a_fill(entry_id("live"), Side.BUY, 1, "f3"), ACCOUNT)
    recent_signal = a_signal(condition="recent")
    recent = taken(
        recent_signal,
        trades.refused(trades.from_entry(recent_signal, ACCOUNT, 300), "stale", 300),
        300,
    )
    positions = journal.positions()
    assert old.is_done
    assert recent.is_done
    assert not live.is_done

    assert journal.prune(200) == 1

    assert journal.trade("old") is None
    assert journal.trade_of_order(entry_id("old")) is None
    assert journal.fill_values(o.client_order_id for o in old.orders) == {}
    assert journal.unknown_signals([old_signal.id, live_signal.id, recent_signal.id]) == {
        old_signal.id
    }
    assert journal.trade("live") == live
    assert journal.trade("recent") == recent
    assert journal.fill_values([entry_id("live")]) == {
        entry_id("live"): FillValue(1, Decimal(17500))
    }
    assert journal.positions() == positions == (Position(ACCOUNT, SYMBOL, 1, Decimal(17500)),)
    assert journal.prune(200) == 0


# --- settings -----------------------------------------------------------------------------------


def test_settings_default_to_no_account_and_active(journal: Journal) -> None:
    assert journal.account() == ""
    assert journal.mode() is TradingMode.ACTIVE
    assert journal.setting("cursor") is None


def test_a_reopened_journal_keeps_mode_account_and_settings(journal: Journal, path: Path) -> None:
    journal.set_account(ACCOUNT)
    journal.set_mode(TradingMode.REDUCING)
    journal.set_setting("cursor", "41")
    journal.set_setting("cursor", "42")

    journal = reopen(journal, path)
    try:
        assert journal.account() == ACCOUNT
        assert journal.mode() is TradingMode.REDUCING
        assert journal.setting("cursor") == "42"
    finally:
        journal.close()
