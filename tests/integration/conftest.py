"""Fixtures of the executor's integration tests (the rig itself: tests/support/executor_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.support.executor_rig import Context, Harness


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def harness(context: Context, tmp_path: Path) -> Iterator[Harness]:
    rig = Harness(context, tmp_path)
    try:
        yield rig
    finally:
        rig.close()
