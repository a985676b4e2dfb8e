"""SQLite WAL checkpoints off the service loop.

With SQLite's default, the commit that takes the write-ahead log past 1,000 pages also copies
them into the database file (and syncs it) before it returns: a stall of a few milliseconds in
the service loop every hundred orders or so, which set the pipeline's p99. Here the loop's
connection never checkpoints; a daemon thread with its own connection runs a PASSIVE
checkpoint every second, which waits for no reader or writer, while SQLite releases the GIL
and the loop's commits carry on. Whatever is left is checkpointed when the last connection
closes, as usual.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from loguru import logger

CHECKPOINT_INTERVAL_S = 1.0


class WalCheckpointer:
    """A thread checkpointing the WAL database at `path` every `interval_s` until `stop`."""

    def __init__(self, path: Path | None, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self.path = path  # None: a database without a file, nothing to checkpoint
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal checkpoints", daemon=True)

    def start(self) -> WalCheckpointer:
        if self.path is not None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        assert self.path is not None  # noqa: S101 - started only with a file
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self._interval_s):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as failure:  # the next round tries again
                    logger.warning("wal checkpoint failed path={} error={}", self.path, failure)
        finally:
            db.close()


def checkpoint_in_background(
    connection: sqlite3.Connection, interval_s: float = CHECKPOINT_INTERVAL_S
) -> WalCheckpointer:
    """Stop `connection` (in WAL mode) from checkpointing at commit and start a thread that
    checkpoints its file instead. A database without a file is left as it is (and the
    checkpointer returned does nothing)."""
    rows = connection.execute("PRAGMA database_list").fetchall()
    path = next((file for _, name, file in rows if name == "main"), "")
    if path:
        connection.execute("PRAGMA wal_autocheckpoint=0")
    return WalCheckpointer(Path(path) if path else None, interval_s).start()
