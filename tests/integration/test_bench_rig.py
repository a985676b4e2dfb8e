"""The bench rig's services start even when a port it picked is taken before they bind it.

A free port is free only when it is picked: an outgoing connection's ephemeral port, or another
suite's service, can take it before the gateway binds it (seen once in a chaos soak: "Address
already in use" at the gateway's first start). The rig then starts again on fresh ports.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aftm.security import keys
from bench import pipeline_rig
from bench.fuzz_wire import rig_config
from bench.pipeline_rig import RigConfig, start_services


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held by a real listener for the whole test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.fixture
def config(tmp_path: Path) -> RigConfig:
    keydir = tmp_path / "keys"
    keys.create(keydir)
    return rig_config(tmp_path, keydir, "WARNING")


def hand_out_first(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """The rig's next pick is `port` (the gateway's PUB), every later one a free port."""
    real = pipeline_rig.free_port
    handed: list[int] = []

    def pick() -> int:
        if not handed:
            handed.append(port)
            return port
        return real()

    monkeypatch.setattr(pipeline_rig, "free_port", pick)


def test_a_port_taken_before_the_gateway_binds_it_is_traded_for_fresh_ones(
    monkeypatch: pytest.MonkeyPatch, taken_port: int, config: RigConfig
) -> None:
    hand_out_first(monkeypatch, taken_port)

    with start_services(config) as rig:  # every service healthy, or it raises
        assert rig.endpoints.gateway_pub != f"tcp://127.0.0.1:{taken_port}"
        assert rig.pid("gateway") > 0


def test_with_one_attempt_the_taken_port_stops_the_rig(
    monkeypatch: pytest.MonkeyPatch, taken_port: int, config: RigConfig
) -> None:
    hand_out_first(monkeypatch, taken_port)

    with pytest.raises(RuntimeError, match="gateway exited"), start_services(config, attempts=1):
        pass
