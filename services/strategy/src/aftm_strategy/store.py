"""The strategy's durable state: conditions with their stage, and every signal it emitted.

One SQLite file in WAL mode with synchronous=NORMAL: a killed process loses nothing it committed
(only a power cut may lose the last few transactions). A tick's condition changes and its signals
are written in one transaction, committed before any signal leaves the process, so after a
restart a condition that entered is restored ENTERED (it never enters twice) and every emitted
signal is on record for the executor's ListSignals resync.

Conditions and signals are stored as codec frames: the same bytes the wire carries, checked by
the same decoder when read back. The stage is also kept as a column for people reading the file.
A stored frame the decoder refuses is moved to the quarantine table when the store opens (see
aftm.quarantine), so that one bad row cannot stop the strategy at every start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from aftm import quarantine
from aftm.domain.conditions import Condition
from aftm.domain.signals import Signal
from aftm.errors import AftmError, DecodeError, InvalidInput
from aftm.sql import rows_in, transaction
from aftm.wal import checkpoint_in_background
from aftm.wire.codec import decode, encode

SCHEMA_VERSION = 1

T = TypeVar("T")

# `position` is the creation (conditions) or emission (signals) order. It is an explicit column
# because SQLite may renumber implicit rowids on VACUUM.
_SCHEMA = """
CREATE TABLE conditions (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL UNIQUE,
    stage TEXT NOT NULL,
    frame BLOB NOT NULL
);
CREATE TABLE signals (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL UNIQUE,
    condition_id TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    frame BLOB NOT NULL
);
CREATE INDEX signals_by_condition ON signals (condition_id);
"""

_INSERT_CONDITION = """
INSERT INTO conditions (id, position, stage, frame)
VALUES (?, (SELECT COALESCE(MAX(position), 0) + 1 FROM conditions), ?, ?)
"""
_INSERT_SIGNAL = """
INSERT INTO signals (id, position, condition_id, ts_ns, frame)
VALUES (?, (SELECT COALESCE(MAX(position), 0) + 1 FROM signals), ?, ?, ?)
"""


class StoreError(AftmError):
    """The store file is unreadable or from a newer build. Stop and fix the file or the build."""


class StrategyStore:
    """Conditions and signals in one SQLite file; used by one thread, the service loop."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._quarantined = 0
        self._checkpoints = checkpoint_in_background(connection)  # off the loop: see aftm.wal

    @classmethod
    def open(cls, path: Path) -> StrategyStore:
        """Open (creating it and its folder if needed) the store at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit (see _transaction). The loop thread is the
        # only user, but tests may open the store in one thread and run the loop in another.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            store = cls(connection)
            store._migrate()
            store._quarantine_unreadable()
        except BaseException:
            connection.close()
            raise
        return store

    def close(self) -> None:
        self._checkpoints.stop()
        self._db.close()

    @property
    def quarantined(self) -> int:
        """Rows in the quarantine table: records this store could not read."""
        return self._quarantined

    def conditions(self) -> list[Condition]:
        """Every stored condition, in creation order, in its last committed state."""
        rows = self._db.execute("SELECT id, frame FROM conditions ORDER BY position")
        return [_read(Condition, row_id, frame) for row_id, frame in rows]

    def condition_ids(self, after: int, limit: int) -> tuple[list[tuple[int, str]], bool]:
        """(position, id) of at most `limit` conditions after store position `after`, in
        creation order, and whether more follow."""
        rows = self._db.execute(
            "SELECT position, id FROM conditions WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit + 1),
        ).fetchall()
        return [(int(position), str(row_id)) for position, row_id in rows[:limit]], len(
            rows
        ) > limit

    def add(self, condition: Condition) -> None:
        with transaction(self._db):
            try:
                self._db.execute(
                    _INSERT_CONDITION, (condition.id, condition.stage.value, encode(condition))
                )
            except sqlite3.IntegrityError:
                raise InvalidInput("id", f"condition {condition.id!r} already exists") from None

    def remove(self, condition_id: str) -> bool:
        """Forget a condition; False if there was none. Its signals stay on record."""
        with transaction(self._db):
            cursor = self._db.execute("DELETE FROM conditions WHERE id = ?", (condition_id,))
        return cursor.rowcount > 0

    def signals(self, after: int = 0, limit: int = -1) -> list[tuple[int, Signal]]:
        """(position, signal) in emission order after store position `after`; -1: no limit."""
        rows = self._db.execute(
            "SELECT position, id, frame FROM signals WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [(position, _read(Signal, row_id, frame)) for position, row_id, frame in rows]

    def signal_ids(self, after: int, limit: int) -> list[tuple[int, str]]:
        """(position, id) in emission order after store position `after`, at most `limit`."""
        rows = self._db.execute(
            "SELECT position, id FROM signals WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [(int(position), str(row_id)) for position, row_id in rows]

    def signals_by_id(self, ids: Iterable[str]) -> list[Signal]:
        """The stored signals among `ids`, in emission order."""
        query = "SELECT position, id, frame FROM signals WHERE id IN ({marks})"
        found = sorted(rows_in(self._db, query, ids))  # by position: emission order
        return [_read(Signal, row_id, frame) for _, row_id, frame in found]

    def has_signals(self, condition_id: str) -> bool:
        """Whether `condition_id` has emitted before: reusing its id would repeat signal ids."""
        row = self._db.execute(
            "SELECT 1 FROM signals WHERE condition_id = ? LIMIT 1", (condition_id,)
        ).fetchone()
        return row is not None

    def save_tick_outcome(
        self, changed_conditions: Iterable[Condition], signals: Iterable[Signal]
    ) -> list[bytes]:
        """Persist what one tick did, all or nothing. Call before pushing any of `signals`.

        Returns the signals' frames as stored, in order: the bytes to push.
        """
        frames = [(s.id, s.condition_id, s.ts_ns, encode(s)) for s in signals]
        with transaction(self._db):
            self._db.executemany(
                "UPDATE conditions SET stage = ?, frame = ? WHERE id = ?",
                ((c.stage.value, encode(c), c.id) for c in changed_conditions),
            )
            self._db.executemany(_INSERT_SIGNAL, frames)
        return [frame for *_, frame in frames]

    def _quarantine_unreadable(self) -> None:
        """Move every condition and signal whose frame does not read back as one (or holds
        another id than its row's) to the quarantine table."""
        self._db.executescript(quarantine.SCHEMA)
        # Each table's columns, id first and frame last.
        kinds: tuple[tuple[str, str, type[object]], ...] = (
            ("conditions", "id, position, stage, frame", Condition),
            ("signals", "id, position, condition_id, ts_ns, frame", Signal),
        )
        for table, columns, kind in kinds:
            rows = self._db.execute(f"SELECT {columns} FROM {table}").fetchall()  # noqa: S608
            bad = [(row, why) for row in rows if (why := _unreadable(kind, row[0], row[-1]))]
            if bad:
                with transaction(self._db):
                    for row, why in bad:
                        quarantine.quarantine(self._db, table, row, why)
                        self._db.execute(f"DELETE FROM {table} WHERE id = ?", (row[0],))  # noqa: S608
        self._quarantined = quarantine.count(self._db)

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        if version != 0:
            raise StoreError(
                f"store schema version {version} is not read by this build ({SCHEMA_VERSION})"
            )
        with transaction(self._db):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _unreadable(kind: type[object], row_id: object, frame: object) -> str:
    """Why a stored row cannot be used as a `kind`; empty when it can."""
    if not isinstance(frame, bytes):
        return f"frame is {type(frame).__name__}, not a blob"
    try:
        value = _read(kind, str(row_id), frame)
    except StoreError as error:
        return str(error)
    if getattr(value, "id", None) != row_id:
        return f"row {row_id!r} holds {kind.__name__} {getattr(value, 'id', None)!r}"
    return ""


def _read(kind: type[T], row_id: str, frame: bytes) -> T:
    try:
        value = decode(frame)
    except DecodeError as error:
        raise StoreError(f"stored {kind.__name__} {row_id!r} is unreadable: {error}") from error
    if not isinstance(value, kind):
        raise StoreError(f"stored {kind.__name__} {row_id!r} holds a {type(value).__name__}")
    return value
