"""Container tests: the real images and the compose stack, through testcontainers-python.

They need a Docker engine with the Compose v2 plugin (deploy/scripts/prepare-machine.sh sets up
both on Debian 12). Only when no engine answers at all is this folder skipped, with the reason;
any other failure (no compose plugin, a build error) fails the tests. With AFTM_REQUIRE_DOCKER=1
(CI) a missing engine stops the run instead, so container tests can never be skipped unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

# Ryuk (the reaper container) would have to be pulled, which fails at once without a registry:
# leftovers are removed by `_remove_leftovers` instead. docker_host mode makes testcontainers
# report localhost rather than the docker0 bridge address. Set before testcontainers is first
# imported (below, through stack.py): it reads part of its configuration at import.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")

from tests.containers.stack import Context, Stack, docker, ensure_wheelhouse
from tests.support.docker_engine import skip_without_engine

HERE = Path(__file__).parent
TESTCONTAINERS_LABEL = "label=org.testcontainers=true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_without_engine(HERE, items)


@pytest.fixture(scope="session")
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, context: Context) -> Iterator[Stack]:
    """docker-compose.yml built and up, every service healthy; `down --volumes` at the end."""
    ensure_wheelhouse()
    running = Stack(tmp_path_factory.mktemp("stack"), context)
    with running.compose:
        yield running


def _remove_leftovers() -> None:
    """Without Ryuk nothing else removes containers that testcontainers started; and each run
    rebuilds the `test` images, leaving the ones they replaced dangling."""
    leftovers = docker("ps", "--all", "--quiet", "--filter", TESTCONTAINERS_LABEL).split()
    if leftovers:
        docker("rm", "--force", "--volumes", *leftovers)
    docker("image", "prune", "--force", "--filter", "label=io.aftm.project=aftm")


@pytest.fixture(scope="session", autouse=True)
def _leftovers_removed() -> Iterator[None]:
    """Set up only for the tests of this folder that run (not for skipped ones)."""
    yield
    _remove_leftovers()
