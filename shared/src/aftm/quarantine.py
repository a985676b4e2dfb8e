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
from collections.abc import Sequence

from loguru import logger

SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    source TEXT NOT NULL,           -- the table the row was taken from
    record TEXT NOT NULL,           -- the row as text: its columns' values, repr'd
    reason TEXT NOT NULL,           -- why it could not be processed
    quarantined_ns INTEGER NOT NULL
);
"""
MAX_RECORD_TEXT = 10_000  # a row as text beyond this is cut: the table must stay readable


def record_text(row: Sequence[object]) -> str:
    """The row's values as text a person can read; bytes (a stored frame) as hex."""
    values = [value.hex() if isinstance(value, bytes) else value for value in row]
    text = repr(tuple(values))
    return text if len(text) <= MAX_RECORD_TEXT else text[:MAX_RECORD_TEXT] + "…"


def quarantine(db: sqlite3.Connection, source: str, row: Sequence[object], reason: str) -> None:
    """Write `row` of table `source` to the quarantine table; inside the caller's transaction,
    which also deletes it from `source`."""
    db.execute(
        "INSERT INTO quarantine (source, record, reason, quarantined_ns) VALUES (?, ?, ?, ?)",
        (source, record_text(row), reason, time.time_ns()),
    )
    logger.error("stored record quarantined table={} reason={}", source, reason)


def count(db: sqlite3.Connection) -> int:
    """Rows in the quarantine table (every run's, until a person clears them)."""
    return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
