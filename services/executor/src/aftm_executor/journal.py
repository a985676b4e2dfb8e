"""The executor's SQLite journal: every signal, its one order, fills, positions and settings.

A signal is written (and committed) before anything is sent on its behalf, so a killed executor
finds on restart exactly what it had started: `received` entries are still to be decided,
`sending`/`unknown` ones are asked about at the gateway under their one client order id.
WAL with synchronous=NORMAL keeps every commit across a killed process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.signals import Signal
from aftm.sql import rows_in
from aftm.wal import checkpoint_in_background
from aftm.wire.codec import encode
from aftm.wire.protocol import TradingMode
from aftm_executor.entries import ENTRY_COLUMNS, JournalEntry, from_row
from aftm_executor.positions import PositionBook
from aftm_executor.sizing import client_order_id
from aftm_executor.states import UNRESOLVED, WORKING, SignalState, advance

# Rows that can still add to an exposure: the order is in flight or working, or a report said
# more filled than the fills seen so far. Written out (not bound) in both the partial index and
# the exposure query, as SQLite only uses a partial index whose condition the query repeats;
# without it every decision would scan the whole history of the symbol.
_OPEN_STATES = ",".join(f"'{state.value}'" for state in sorted(UNRESOLVED | WORKING))
_OPEN_ROWS = f"(state IN ({_OPEN_STATES}) OR reported_filled > fill_quantity)"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS signals (
    signal_id TEXT PRIMARY KEY,
    payload BLOB NOT NULL,              -- the Signal, codec-encoded
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_quantity INTEGER NOT NULL,    -- the signal's, until the order is sent with its own
    account TEXT NOT NULL DEFAULT '',   -- set when the order is first sent
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    sent INTEGER NOT NULL DEFAULT 0,
    reported_filled INTEGER NOT NULL DEFAULT 0,  -- the largest filled quantity a report gave
    fill_quantity INTEGER NOT NULL DEFAULT 0,    -- the sum of fills seen
    received_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    acked_ns INTEGER  -- when the gateway's reply accepting the order was read; NULL until then
);
CREATE INDEX IF NOT EXISTS signals_by_state ON signals (state);
CREATE INDEX IF NOT EXISTS signals_open ON signals (account, symbol) WHERE {_OPEN_ROWS};
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    net_quantity INTEGER NOT NULL,
    average_price TEXT NOT NULL,
    PRIMARY KEY (account, symbol)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# Columns added after the first release, with their definitions, for journals created before.
_ADDED_COLUMNS = {"acked_ns": "INTEGER"}


@dataclass(frozen=True, slots=True)
class Counts:
    received: int
    sent: int
    risk_rejected: int
    unresolved: int


class Journal:
    """One connection, owned by the service thread."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._checkpoints = checkpoint_in_background(self._db)  # off the loop: see aftm.wal
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()
        self._book = PositionBook(self._load_positions(), self._load_fill_ids())
        # Read on every decision; only this connection writes them.
        self._settings = dict(self._db.execute("SELECT key, value FROM settings").fetchall())

    def close(self) -> None:
        self._checkpoints.stop()
        self._db.close()

    def _add_missing_columns(self) -> None:
        """Bring a journal written by an older build up to the current columns, in place."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(signals)")}
        with self._db:
            for name, definition in _ADDED_COLUMNS.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE signals ADD COLUMN {name} {definition}")

    # --- signals ----------------------------------------------------------------------------

    def record(
        self,
        signal: Signal,
        now_ns: int,
        *,
        order: PlaceOrder | None = None,
        rejected: str = "",
        payload: bytes | None = None,
    ) -> bool:
        """Journal a new signal; False (and nothing written) if already journaled.

        Plain, it is `received`, still to be decided. With its decision it is written decided
        in the same commit: `sending` the `order`, or `rejected` for the reason given.
        `payload`: the signal as encoded already (its frame as received), else it is encoded.
        """
        state, account, quantity = SignalState.RECEIVED, "", signal.quantity
        if order is not None:
            state, account, quantity = SignalState.SENDING, order.account, order.quantity
        elif rejected:
            state = SignalState.REJECTED
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO signals (signal_id, payload, client_order_id, symbol,"
                " side, order_quantity, account, state, reason, sent, received_ns, updated_ns)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    signal.id,
                    encode(signal) if payload is None else payload,
                    client_order_id(signal.id),
                    signal.symbol,
                    signal.side.value,
                    quantity,
                    account,
                    state.value,
                    rejected,
                    int(order is not None),
                    now_ns,
                    now_ns,
                ),
            )
        return cursor.rowcount == 1

    def unknown(self, signal_ids: Iterable[str]) -> set[str]:
        """Those of `signal_ids` never journaled."""
        wanted = set(signal_ids)
        query = "SELECT signal_id FROM signals WHERE signal_id IN ({marks})"
        return wanted - {row[0] for row in rows_in(self._db, query, wanted)}

    @property
    def changes(self) -> int:
        """Rows written through this journal so far: unchanged means nothing to recount."""
        return self._db.total_changes

    def get(self, signal_id: str) -> JournalEntry | None:
        return self._one("signal_id = ?", signal_id)

    def by_client_order_id(self, order_id: str) -> JournalEntry | None:
        return self._one("client_order_id = ?", order_id)

    def in_states(self, states: Iterable[SignalState]) -> list[JournalEntry]:
        """Entries in any of `states`, oldest first."""
        wanted = [state.value for state in states]
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM signals WHERE state IN ({marks}) ORDER BY rowid",  # noqa: S608 - only placeholders are interpolated
            wanted,
        )
        return [from_row(row) for row in rows]

    def mark_sending(self, order: PlaceOrder, signal_id: str, now_ns: int) -> None:
        """The order is about to leave: from here on its fate is asked of the gateway.

        Account and quantity are kept so that a resend is the very same order.
        """
        self._update(
            "state = ?, account = ?, order_quantity = ?, sent = 1, updated_ns = ?",
            (SignalState.SENDING.value, order.account, order.quantity, now_ns),
            signal_id,
        )

    def reject(self, signal_id: str, reason: str, now_ns: int) -> None:
        self._update(
            "state = ?, reason = ?, updated_ns = ?",
            (SignalState.REJECTED.value, reason, now_ns),
            signal_id,
        )

    def report(
        self,
        signal_id: str,
        state: SignalState,
        now_ns: int,
        *,
        filled_quantity: int = 0,
        reason: str = "",
        acked_ns: int | None = None,
    ) -> JournalEntry | None:
        """Apply what the gateway said about the order; states only move forward.

        `acked_ns` (the reply accepting the order was read) is kept from the first such reply.
        """
        entry = self.get(signal_id)
        if entry is None:
            return None
        return self.report_on(
            entry, state, now_ns, filled_quantity=filled_quantity, reason=reason, acked_ns=acked_ns
        )

    def report_on(
        self,
        entry: JournalEntry,
        state: SignalState,
        now_ns: int,
        *,
        filled_quantity: int = 0,
        reason: str = "",
        acked_ns: int | None = None,
    ) -> JournalEntry:
        """`report` on an entry just read from this journal, returning it as now stored.

        A report that changes nothing (the event repeating the reply just applied) writes
        nothing: the loop has better things to do than commit the same row again.
        """
        updated = replace(
            entry,
            state=advance(entry.state, state),
            reason=reason or entry.reason,
            filled_quantity=max(entry.filled_quantity, filled_quantity),
            acked_ns=acked_ns if entry.acked_ns is None else entry.acked_ns,
        )
        if updated == entry:
            return entry
        self._update(
            "state = ?, reason = ?, reported_filled = MAX(reported_filled, ?), updated_ns = ?,"
            " acked_ns = COALESCE(acked_ns, ?)",
            (updated.state.value, updated.reason, filled_quantity, now_ns, acked_ns),
            entry.signal.id,
        )
        return replace(updated, updated_ns=now_ns)

    def _one(self, where: str, value: str) -> JournalEntry | None:
        row = self._db.execute(
            f"SELECT {ENTRY_COLUMNS} FROM signals WHERE {where}",  # noqa: S608 - fixed clauses
            (value,),
        ).fetchone()
        return from_row(row) if row else None

    def _update(self, assignments: str, values: tuple[object, ...], signal_id: str) -> None:
        with self._db:
            self._db.execute(
                f"UPDATE signals SET {assignments} WHERE signal_id = ?",  # noqa: S608 - fixed clauses
                (*values, signal_id),
            )

    # --- fills and positions ----------------------------------------------------------------

    def record_fill(self, fill: OrderFilled, entry: JournalEntry, now_ns: int) -> Position | None:
        """Fold a fill of `entry`'s order in; None when its fill id was seen before."""
        position = self._book.apply(entry.account, fill)
        if position is None:
            return None
        # Reports and fills are separate lower bounds of what filled; adding one to the other
        # would count the same lots twice.
        row = self._db.execute(
            "SELECT fill_quantity FROM signals WHERE signal_id = ?", (entry.signal.id,)
        ).fetchone()
        filled = max(entry.filled_quantity, int(row[0]) + fill.quantity)
        filled_state = (
            SignalState.FILLED if filled >= entry.order_quantity else SignalState.PARTIALLY_FILLED
        )
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?)",
                (
                    fill.fill_id,
                    fill.client_order_id,
                    entry.account,
                    fill.symbol,
                    fill.side.value,
                    fill.quantity,
                    str(fill.price),
                    fill.ts_ns,
                ),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO positions VALUES (?,?,?,?)",
                (entry.account, fill.symbol, position.net_quantity, str(position.average_price)),
            )
            self._db.execute(
                "UPDATE signals SET fill_quantity = fill_quantity + ?, state = ?, updated_ns = ?"
                " WHERE signal_id = ?",
                (fill.quantity, advance(entry.state, filled_state).value, now_ns, entry.signal.id),
            )
        return position

    def positions(self) -> tuple[Position, ...]:
        return self._book.positions()

    def exposure(self, account: str, symbol: str) -> int:
        """Net position plus what orders still in flight or working could add to it.

        A lot the gateway reported filled counts even before its fill report arrives (the two
        travel separately): otherwise a position check right after a "filled" reply would
        undercount and let an order past the net-position limit.
        """
        rows = self._db.execute(
            f"SELECT side, CASE WHEN state IN ({_OPEN_STATES})"  # noqa: S608 - constants only
            " THEN order_quantity - fill_quantity ELSE reported_filled - fill_quantity END"
            f" FROM signals WHERE account = ? AND symbol = ? AND {_OPEN_ROWS}",
            (account, symbol),
        )
        pending = sum((1 if side == "buy" else -1) * max(int(rest), 0) for side, rest in rows)
        return self._book.net_quantity(account, symbol) + pending

    def _load_positions(self) -> list[Position]:
        rows = self._db.execute(
            "SELECT account, symbol, net_quantity, average_price FROM positions"
        )
        return [Position(a, s, n, Decimal(p)) for a, s, n, p in rows]

    def _load_fill_ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT fill_id FROM fills")]

    # --- settings and counts ----------------------------------------------------------------

    def account(self) -> str:
        return self._setting("account") or ""

    def set_account(self, account: str) -> None:
        self._set_setting("account", account)

    def mode(self) -> TradingMode:
        value = self._setting("mode")
        return TradingMode(value) if value else TradingMode.ACTIVE

    def set_mode(self, mode: TradingMode) -> None:
        self._set_setting("mode", mode.value)

    def unresolved(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM signals WHERE state IN ('sending', 'unknown')"
        ).fetchone()
        return int(row[0])

    def counts(self) -> Counts:
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(sent), 0),"
            " COALESCE(SUM(state = 'rejected' AND sent = 0), 0),"
            " COALESCE(SUM(state IN ('sending', 'unknown')), 0) FROM signals"
        ).fetchone()
        return Counts(received=row[0], sent=row[1], risk_rejected=row[2], unresolved=row[3])

    def _setting(self, key: str) -> str | None:
        return self._settings.get(key)

    def _set_setting(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))
        self._settings[key] = value
