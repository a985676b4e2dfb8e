"""Stored records a service cannot process, moved aside instead of stopping it at every start.

A record that cannot be read back (text no enum knows, an integer SQLite turned into a float, a
frame the codec refuses) would otherwise raise on every start, and no restart could help. Each
store moves such a row to a `quarantine` table in the same SQLite file, in the same transaction
as its removal, logs it once at ERROR and reports the count (`aftm status`). Only what cannot be
processed goes there: a value that is merely unusual stays where it is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence

from loguru import logger

from aftm.sql import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    source TEXT NOT NULL,           -- the table the row was taken from
    record TEXT NOT NULL,           -- the row as text: its columns' values, repr'd
    reason TEXT NOT NULL,           -- why it could not be processed
    quarantined_ns INTEGER NOT NULL,
    record_key TEXT NOT NULL DEFAULT ''  -- the row's key when readable (a client order id)
);
"""
MAX_RECORD_TEXT = 10_000  # a row as text beyond this is cut: the table must stay readable
# What reading a damaged row raises: text no enum knows, an integer SQLite kept as a REAL (a
# value beyond 64 bits) or as text, a price that is not a number.
UNREADABLE = (ValueError, TypeError, ArithmeticError)


def record_text(row: Sequence[object]) -> str:
    """The row's values as text a person can read; bytes (a stored frame) as hex."""
    values = [value.hex() if isinstance(value, bytes) else value for value in row]
    text = repr(tuple(values))
    return text if len(text) <= MAX_RECORD_TEXT else text[:MAX_RECORD_TEXT] + "…"


def quarantine(
    db: sqlite3.Connection, source: str, row: Sequence[object], reason: str, key: str = ""
) -> None:
    """Write `row` of table `source` to the quarantine table; inside the caller's transaction,
    which also deletes it from `source`. `key`: what a store must still recognise the row by."""
    db.execute(
        "INSERT INTO quarantine (source, record, reason, quarantined_ns, record_key)"
        " VALUES (?, ?, ?, ?, ?)",
        (source, record_text(row), reason, time.time_ns(), key),
    )
    logger.error("stored record quarantined table={} reason={}", source, reason)


def move_unreadable(
    db: sqlite3.Connection,
    table: str,
    suspect: str,
    read: Callable[[Sequence[object]], object],
    key_column: int | None = None,
) -> None:
    """Quarantine the rows of `table` that `read` cannot take (it raises UNREADABLE).

    `suspect`: an SQL condition that holds for every row `read` might refuse, so that a large
    table is not read row by row at every start; `read` alone decides. `read` gets the row's
    columns (`SELECT *`); `key_column` names the one kept as the record's key.
    """
    rows = db.execute(f"SELECT rowid, * FROM {table} WHERE {suspect}").fetchall()  # noqa: S608
    bad = [(rowid, row, why) for rowid, *row in rows if (why := reason_unreadable(read, row))]
    if not bad:
        return
    with transaction(db):
        for rowid, row, why in bad:
            key = "" if key_column is None else str(row[key_column])
            quarantine(db, table, row, why, key)
            db.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))  # noqa: S608


def reason_unreadable(read: Callable[[Sequence[object]], object], row: Sequence[object]) -> str:
    """Empty when `read` takes the row; else what it raised, as one line."""
    try:
        read(row)
    except UNREADABLE as error:
        return f"{type(error).__name__}: {error}"
    return ""


def count(db: sqlite3.Connection) -> int:
    """Rows in the quarantine table (every run's, until a person clears them)."""
    return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
