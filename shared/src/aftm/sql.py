"""SQLite helpers the services' stores share."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

IDS_PER_QUERY = 500  # below SQLite's bound-parameter limit


def rows_in(db: sqlite3.Connection, query: str, values: Iterable[str]) -> Iterator[tuple[Any, ...]]:
    """The rows `query` selects for `values`, given as `{marks}` in its IN list: one query per
    few hundred distinct values, not one per value."""
    wanted = list(dict.fromkeys(values))
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start : start + IDS_PER_QUERY]
        yield from db.execute(query.format(marks=",".join("?" * len(chunk))), chunk)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Everything inside commits together before the block returns, or not at all (on a
    connection in autocommit mode: `isolation_level=None`)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
