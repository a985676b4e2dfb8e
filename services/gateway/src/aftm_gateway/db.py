"""SQLite as the gateway uses it: WAL, explicit short transactions, synchronous per store.

WAL with synchronous=NORMAL keeps every committed transaction when the process is killed; only
a power cut can lose the last ones. That suits state a restart can rebuild or that nobody
else holds. A record whose loss would let the gateway repeat something the outside world
already saw (the order journal's `begin`: the broker may have the order) needs FULL, which
syncs the log at every commit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

Synchronous = Literal["NORMAL", "FULL"]


def connect(path: Path, schema: str, *, synchronous: Synchronous = "NORMAL") -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One owner at a time (the service loop), but it may be built on another thread than the
    # one that runs the loop, hence check_same_thread=False.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA busy_timeout=5000")
    connection.executescript(schema)
    return connection


def integer(value: object) -> int:
    """An INTEGER column's value, checked (SQLite would hand back whatever was stored)."""
    if not isinstance(value, int):
        raise TypeError(f"expected an integer column, got {value!r}")
    return value
