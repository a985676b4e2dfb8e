"""Which code is running: the project's version and the source commit it was built from.

Shown by `aftm --version` and in every service's /health, so an operator can tell what ran on
the day an order went wrong. The five distributions are versioned together; aftm-shared's
version stands for all of them. The commit is, in this order:
1. AFTM_BUILD_COMMIT, when it holds a commit id: the images set it from the commit they were
   built from (deploy/scripts/build-images.sh), as they hold no git checkout;
2. the HEAD of the git checkout this code runs from, when it runs from one (an editable install,
   as `make` makes): a copy installed elsewhere never reports an unrelated repository's HEAD;
3. "unknown".
Neither function raises, and each is worked out once per process.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import subprocess
from pathlib import Path

DISTRIBUTION = "aftm-shared"
BUILD_COMMIT_VARIABLE = "AFTM_BUILD_COMMIT"
UNKNOWN = "unknown"
SHORT_COMMIT_LENGTH = 12
# A full SHA-1 or SHA-256 object id, as `git rev-parse HEAD` prints it.
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_GIT_TIMEOUT_S = 5.0


@functools.cache
def version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return UNKNOWN


@functools.cache
def commit() -> str:
    built = os.environ.get(BUILD_COMMIT_VARIABLE, "").strip().lower()
    if is_commit(built):
        return built
    return checkout_commit(Path(__file__).resolve()) or UNKNOWN


def describe() -> str:
    """One line: `aftm 0.1.0 (commit 0123456789ab)`."""
    found = commit()
    return f"aftm {version()} (commit {found[:SHORT_COMMIT_LENGTH]})"


def is_commit(text: str) -> bool:
    return _COMMIT.fullmatch(text) is not None


def checkout_commit(source_file: Path) -> str | None:
    """HEAD of the git work tree that tracks `source_file`, or None (no git, not tracked)."""
    folder = source_file.parent
    tracked = _git(folder, "ls-files", "--error-unmatch", "--", source_file.name)
    if tracked is None:
        return None
    head = _git(folder, "rev-parse", "--verify", "HEAD")
    return head if head is not None and is_commit(head) else None


def _git(folder: Path, *args: str) -> str | None:
    """git's output, or None when git is missing, fails or hangs: never an exception."""
    try:
        # git from PATH, as the person who runs the checkout would; fixed arguments, no shell.
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(folder), *args],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
