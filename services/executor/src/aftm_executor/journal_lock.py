"""One executor per journal file: a second executor opening the same journal (two services
given one volume, or one account's executor started twice by hand) would fold two processes'
orders and fills into one book, and each would act on the other's trades.

The lock is an advisory `flock` on a file beside the journal, held for the process's life: the
kernel releases it when the process ends, however it ends (kill -9 included), so a restart never
finds a stale lock.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # not a POSIX system: the executor's images are Linux; nothing to hold
    fcntl = None  # type: ignore[assignment]


class JournalInUse(Exception):
    """Another running process holds this journal: stop it, or give this one its own."""


def hold(journal_path: Path) -> IO[str] | None:
    """Take the journal's lock for as long as the returned file stays open (None: no locks on
    this system). JournalInUse, naming the holder's pid, if another process has it."""
    if fcntl is None:
        return None
    path = journal_path.with_name(journal_path.name + ".lock")
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise JournalInUse(f"{journal_path} is in use by another executor (pid {holder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
