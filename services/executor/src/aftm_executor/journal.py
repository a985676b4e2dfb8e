"""The executor's SQLite journal: every signal, its one order, fills, positions and settings.

A signal is written (and committed) before anything is sent on its behalf, so a killed executor
finds on restart exactly what it had started: `received` entries are still to be decided,
`sending`/`unknown` ones are asked about at the gateway under their one client order id.
WAL with synchronous=NORMAL keeps every commit across a killed process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.signals import Signal
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import TradingMode
from aftm_executor.positions import PositionBook
from aftm_executor.sizing import client_order_id
from aftm_executor.states import UNRESOLVED, WORKING, SignalState, advance

_SCHEMA = """
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
    updated_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_by_state ON signals (state);
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

_ENTRY_COLUMNS = (
    "payload, client_order_id, account, order_quantity, state, reason, sent,"
    " MAX(reported_filled, fill_quantity), received_ns, updated_ns"
)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    signal: Signal
    client_order_id: str
    account: str
    order_quantity: int  # what the order asks for (an exit may ask less than its signal)
    state: SignalState
    reason: str
    sent: bool
    filled_quantity: int
    received_ns: int
    updated_ns: int


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
        self._db.executescript(_SCHEMA)
        self._book = PositionBook(self._load_positions(), self._load_fill_ids())

    def close(self) -> None:
        self._db.close()

    # --- signals ----------------------------------------------------------------------------

    def record(self, signal: Signal, now_ns: int) -> bool:
        """Journal a new signal as `received`; False (and nothing written) if already journaled."""
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO signals (signal_id, payload, client_order_id, symbol,"
                " side, order_quantity, state, received_ns, updated_ns) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    signal.id,
                    encode(signal),
                    client_order_id(signal.id),
                    signal.symbol,
                    signal.side.value,
                    signal.quantity,
                    SignalState.RECEIVED.value,
                    now_ns,
                    now_ns,
                ),
            )
        return cursor.rowcount == 1

    def has(self, signal_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM signals WHERE signal_id = ?", (signal_id,))
        return row.fetchone() is not None

    def get(self, signal_id: str) -> JournalEntry | None:
        return self._one("signal_id = ?", signal_id)

    def by_client_order_id(self, order_id: str) -> JournalEntry | None:
        return self._one("client_order_id = ?", order_id)

    def in_states(self, states: Iterable[SignalState]) -> list[JournalEntry]:
        """Entries in any of `states`, oldest first."""
        wanted = [state.value for state in states]
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM signals WHERE state IN ({marks}) ORDER BY rowid",  # noqa: S608 - only placeholders are interpolated
            wanted,
        )
        return [_entry(row) for row in rows]

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
    ) -> JournalEntry | None:
        """Apply what the gateway said about the order; states only move forward."""
        entry = self.get(signal_id)
        if entry is None:
            return None
        new_state = advance(entry.state, state)
        self._update(
            "state = ?, reason = ?, reported_filled = MAX(reported_filled, ?), updated_ns = ?",
            (new_state.value, reason or entry.reason, filled_quantity, now_ns),
            signal_id,
        )
        return self.get(signal_id)

    def _one(self, where: str, value: str) -> JournalEntry | None:
        row = self._db.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM signals WHERE {where}",  # noqa: S608 - fixed clauses
            (value,),
        ).fetchone()
        return _entry(row) if row else None

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
        """Net position plus what orders still in flight or working could add to it."""
        states = [s.value for s in (*UNRESOLVED, *WORKING)]
        rows = self._db.execute(
            "SELECT side, order_quantity - MAX(reported_filled, fill_quantity) FROM signals"  # noqa: S608 - only placeholders are interpolated
            f" WHERE account = ? AND symbol = ? AND state IN ({','.join('?' * len(states))})",
            (account, symbol, *states),
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
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def _set_setting(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))


def _entry(row: tuple[object, ...]) -> JournalEntry:
    payload, order_id, account, quantity, state, reason, sent, filled, received_ns, updated_ns = row
    signal = decode(payload) if isinstance(payload, bytes) else None
    if not isinstance(signal, Signal):
        raise TypeError(f"journal row holds {type(signal).__name__}, not a Signal")
    return JournalEntry(
        signal=signal,
        client_order_id=str(order_id),
        account=str(account),
        order_quantity=int(str(quantity)),
        state=SignalState(str(state)),
        reason=str(reason),
        sent=bool(sent),
        filled_quantity=int(str(filled)),
        received_ns=int(str(received_ns)),
        updated_ns=int(str(updated_ns)),
    )
