"""WAL checkpoints in a background thread, on real SQLite files."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from aftm.wal import checkpoint_in_background


def open_wal(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB)")
    return db


def write_pages(db: sqlite3.Connection, commits: int) -> None:
    for _ in range(commits):  # well past the 1,000-page default auto-checkpoint
        db.execute("INSERT INTO t (payload) VALUES (?)", (b"x" * 3000,))


def test_commits_never_checkpoint_and_the_thread_does(tmp_path: Path) -> None:
    db = open_wal(tmp_path / "state.sqlite")
    checkpointer = checkpoint_in_background(db, interval_s=3600)  # not before the stop
    try:
        write_pages(db, 1500)
        wal_size = (tmp_path / "state.sqlite-wal").stat().st_size
        # SQLite's default would have checkpointed and restarted the log at 1,000 pages.
        assert wal_size > 1400 * 4096
    finally:
        checkpointer.stop()
        db.close()


def test_the_thread_copies_the_log_into_the_database_while_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    db = open_wal(path)
    assert path.stat().st_size < 300 * 3000
    checkpointer = checkpoint_in_background(db, interval_s=0.05)
    try:
        write_pages(db, 300)  # into the log: the database file itself stays as created
        deadline = time.monotonic() + 5
        while path.stat().st_size < 300 * 3000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert path.stat().st_size >= 300 * 3000  # the thread copied the log into it
        write_pages(db, 10)  # the writer goes on
        assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (310,)
    finally:
        checkpointer.stop()
        db.close()
    with sqlite3.connect(path) as reopened:
        assert reopened.execute("SELECT COUNT(*) FROM t").fetchone() == (310,)


def test_an_in_memory_database_is_left_as_it_is() -> None:
    db = sqlite3.connect(":memory:")
    checkpointer = checkpoint_in_background(db)
    assert checkpointer.path is None  # nothing to checkpoint, no thread
    checkpointer.stop()
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    db.close()
