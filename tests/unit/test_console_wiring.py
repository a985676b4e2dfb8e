"""How `aftm run` wires its children: environment, derived endpoints, health addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftm.errors import InvalidInput
from aftm_console.run.wiring import (
    EXECUTOR,
    GATEWAY,
    child_env,
    connect_endpoint,
    console_overrides,
    health_address,
    linked_connects,
)


@pytest.mark.parametrize(
    ("bind", "connect"),
    [
        ("tcp://127.0.0.1:6000", "tcp://127.0.0.1:6000"),
        ("tcp://*:6000", "tcp://127.0.0.1:6000"),
        ("tcp://0.0.0.0:6000", "tcp://127.0.0.1:6000"),
        ("tcp://gateway:6000", "tcp://gateway:6000"),
        ("ipc:///tmp/aftm.sock", "ipc:///tmp/aftm.sock"),
        ("tcp://127.0.0.1:*", None),
        ("nonsense", None),
    ],
)
def test_connect_endpoint(bind: str, connect: str | None) -> None:
    assert connect_endpoint(bind) == connect


def test_a_moved_bind_moves_every_connect_that_is_not_set() -> None:
    env = {
        "AFTM_GATEWAY_PUB_BIND": "tcp://127.0.0.1:6555",
        "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": "tcp://127.0.0.1:7777",  # set: left alone
    }

    derived = linked_connects(env)

    assert derived == {
        "AFTM_STRATEGY_TICK_CONNECT": "tcp://127.0.0.1:6555",
        "AFTM_CONSOLE_GATEWAY_PUB_CONNECT": "tcp://127.0.0.1:6555",
    }


def test_nothing_is_derived_from_defaults() -> None:
    assert linked_connects({}) == {}


def test_console_overrides_name_console_fields() -> None:
    env = {
        "AFTM_GATEWAY_ROUTER_BIND": "tcp://127.0.0.1:6556",
        "AFTM_EXECUTOR_CONTROL_BIND": "tcp://127.0.0.1:6559",
    }

    assert console_overrides(env) == {
        "gateway_connect": "tcp://127.0.0.1:6556",
        "executor_connect": "tcp://127.0.0.1:6559",
    }


def test_child_env_keeps_the_parent_and_puts_state_in_the_state_dir(tmp_path: Path) -> None:
    env = child_env({"PATH": "/bin", "AFTM_GATEWAY_SIM_SEED": "7"}, tmp_path)

    assert env["PATH"] == "/bin"
    assert env["AFTM_GATEWAY_SIM_SEED"] == "7"
    assert env["AFTM_GATEWAY_BROKER"] == "sim"
    assert env["AFTM_GATEWAY_JOURNAL_PATH"] == str(tmp_path / "gateway-journal.sqlite")
    assert env["AFTM_GATEWAY_SIM_STATE_PATH"] == str(tmp_path / "sim-exchange.sqlite")
    assert env["AFTM_STRATEGY_STORE_PATH"] == str(tmp_path / "strategy.sqlite")
    assert env["AFTM_EXECUTOR_JOURNAL_PATH"] == str(tmp_path / "executor-journal.sqlite")


def test_health_address_defaults_and_overrides() -> None:
    assert health_address({}, GATEWAY) == ("127.0.0.1", 9101)
    env = {"AFTM_EXECUTOR_METRICS_PORT": "19103", "AFTM_EXECUTOR_METRICS_HOST": "0.0.0.0"}
    assert health_address(env, EXECUTOR) == ("127.0.0.1", 19103)


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_health_port_aftm_run_cannot_reach_is_refused(port: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        health_address({"AFTM_GATEWAY_METRICS_PORT": port}, GATEWAY)

    assert refused.value.field == "AFTM_GATEWAY_METRICS_PORT"
