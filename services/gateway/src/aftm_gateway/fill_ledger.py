"""The fill ledger: every broker fill the gateway has seen listed, numbered in the order it
learned them, in its own SQLite file. It is what `ListFills` pages through.

Why a ledger and not the broker's list itself: a broker's list has no cursor a client can keep
(PFCF lists the day's matches, in its own order), while a listener must be able to ask "what
came after what I have". Each merge appends only fills the ledger has not seen, under new
positions, so a cursor never skips a fill that was learned late (one published while the
executor was down, or still in a killed gateway's memory when it died: the broker lists it).

Nothing here is the only copy of anything (the broker keeps its fills), so commits are NORMAL;
a ledger started afresh gets a new identity, and a client whose cursor names another ledger
starts again from 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from aftm import quarantine
from aftm.domain.orders import OrderFilled
from aftm.sql import transaction
from aftm_gateway.db import (
    FILL_COLUMNS,
    SUSPECT_FILL,
    connect,
    fill_from_row,
    fill_row,
    integer,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS fills (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    fill_id TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL,
    broker_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS identity (ledger TEXT NOT NULL);
"""


class FillLedger:
    def __init__(self, path: Path) -> None:
        self._db = connect(path, SCHEMA + quarantine.SCHEMA)
        # A fill that cannot be read would fail every ListFills page that holds it.
        quarantine.move_unreadable(self._db, "fills", SUSPECT_FILL, _read_fill)
        self.quarantined = quarantine.count(self._db)
        with transaction(self._db):
            row = self._db.execute("SELECT ledger FROM identity").fetchone()
            if row is None:
                row = (uuid.uuid4().hex,)
                self._db.execute("INSERT INTO identity (ledger) VALUES (?)", row)
        self.identity = str(row[0])

    def close(self) -> None:
        self._db.close()

    def merge(self, fills: Iterable[OrderFilled]) -> int:
        """Append the fills not seen before, in the given order; how many were new."""
        added = 0
        with transaction(self._db):
            for fill in fills:
                cursor = self._db.execute(
                    f"INSERT OR IGNORE INTO fills ({FILL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",  # noqa: S608
                    fill_row(fill),
                )
                added += cursor.rowcount
        return added

    def after(self, position: int, limit: int) -> tuple[list[OrderFilled], int]:
        """At most `limit` fills after `position`, oldest first, and the position of the last
        one (`position` itself when there are none)."""
        rows = self._db.execute(
            f"SELECT position, {FILL_COLUMNS} FROM fills WHERE position > ?"  # noqa: S608
            " ORDER BY position LIMIT ?",
            (position, limit),
        ).fetchall()
        last = integer(rows[-1][0]) if rows else position
        return [fill_from_row(row[1:]) for row in rows], last

    def newest_ts_ns(self) -> int:
        """The stamp of the newest fill learned (0: none): merges need only fills after it."""
        row = self._db.execute("SELECT ts_ns FROM fills ORDER BY position DESC LIMIT 1")
        found = row.fetchone()
        return 0 if found is None else integer(found[0])

    def caught_up(self, position: int) -> bool:
        """Whether a client at `position` has every fill the ledger holds."""
        row = self._db.execute("SELECT MAX(position) FROM fills").fetchone()
        return row[0] is None or position >= integer(row[0])


def _read_fill(row: Sequence[object]) -> object:
    """A ledger row (position, fill_id, client_order_id, ...) as fill_from_row reads it."""
    _, fill_id, note, broker_id, symbol, side, quantity, price, ts_ns = row
    return fill_from_row((note, broker_id, fill_id, symbol, side, quantity, price, ts_ns))
