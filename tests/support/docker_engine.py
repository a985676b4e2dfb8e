"""Whether a Docker engine answers, for the suites that need one (tests/containers, tests/swarm).

Without an engine their tests are skipped with the reason, unless AFTM_REQUIRE_DOCKER=1 (set by
.ci/run): then the run stops with a usage error instead of passing with nothing checked.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REQUIRE_DOCKER = "AFTM_REQUIRE_DOCKER"


def engine_problem() -> str | None:
    """Why no Docker engine answers, or None when one does."""
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"no Docker engine: {error}"
    if done.returncode != 0:
        return f"no Docker engine answers: {done.stderr.strip()}"
    return None


def skip_without_engine(folder: Path, items: list[pytest.Item]) -> None:
    """Skip the collected tests under `folder` when no engine answers (fail if one is required)."""
    ours = [item for item in items if folder in item.path.parents]
    if not ours:
        return
    problem = engine_problem()
    if problem is None:
        return
    reason = f"{problem} (deploy/scripts/prepare-machine.sh installs and starts one)"
    if os.environ.get(REQUIRE_DOCKER) == "1":
        raise pytest.UsageError(f"{REQUIRE_DOCKER}=1 but {reason}")
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))
