"""Swarm tests: deploy/swarm/stack.yml on a single-node swarm this session makes for itself.

Like tests/containers, they are skipped, with the reason, only when no Docker engine answers;
with AFTM_REQUIRE_DOCKER=1 (CI) a missing engine stops the run instead. Everything the session
made is removed at its end, and what could not be removed fails it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.support.docker_engine import skip_without_engine
from tests.support.processes import free_port
from tests.swarm.cluster import PORT_VARIABLES, DeployedStack, Swarm, build_images
from tests.swarm.desk import Context, Desk

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_without_engine(HERE, items)


@pytest.fixture(scope="session")
def swarm_context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture(scope="session")
def desk(tmp_path_factory: pytest.TempPathFactory, swarm_context: Context) -> Iterator[Desk]:
    """The stack built, deployed and up; at the end removed with everything the session made
    for it (the swarm too, if it made that), and nothing of it left."""
    build_images()
    stack = DeployedStack(tmp_path_factory.mktemp("swarm"))
    stack.ports = {name: free_port() for name in PORT_VARIABLES}
    swarm = Swarm.join()
    try:
        stack.deploy()
        yield Desk(stack, swarm_context)
    finally:
        left: list[str] = []
        try:
            left += stack.remove()
        finally:
            left += swarm.leave()  # even when the stack's removal failed
        assert left == [], f"the swarm test left behind: {left}"
