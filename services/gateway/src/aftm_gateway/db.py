"""SQLite as the gateway uses it: WAL, synchronous=NORMAL, explicit short transactions.

WAL with synchronous=NORMAL keeps every committed transaction when the process is killed (only
a power cut can lose the last ones), which is the failure the gateway's state must survive.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, schema: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One owner at a time (the service loop), but it may be built on another thread than the
    # one that runs the loop, hence check_same_thread=False.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=5000")
    connection.executescript(schema)
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Everything inside commits together before the block returns, or not at all."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def integer(value: object) -> int:
    """An INTEGER column's value, checked (SQLite would hand back whatever was stored)."""
    if not isinstance(value, int):
        raise TypeError(f"expected an integer column, got {value!r}")
    return value
