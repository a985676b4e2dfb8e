"""Which processes `aftm run` starts and the environment each one gets (pure).

Children inherit the parent's environment, so every AFTM_<SERVICE>_* setting still applies.
On top of it: the simulated broker, state files in the state folder, and connect endpoints
that follow a moved bind endpoint unless they are set themselves (so moving the gateway's
ports with AFTM_GATEWAY_*_BIND alone keeps every process wired to it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aftm.errors import InvalidInput

CONSOLE_PREFIX = "AFTM_CONSOLE_"
_TCP = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})")
_ANY_HOST = {"*", "0.0.0.0", "[::]", "::"}  # noqa: S104 - recognised in order to be replaced


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    module: str
    prefix: str
    default_metrics_port: int
    state_files: Mapping[str, str] = field(default_factory=dict)  # setting -> file name


GATEWAY = ChildSpec(
    "gateway",
    "aftm_gateway",
    "AFTM_GATEWAY_",
    9101,
    {"JOURNAL_PATH": "gateway-journal.sqlite", "SIM_STATE_PATH": "sim-exchange.sqlite"},
)
STRATEGY = ChildSpec(
    "strategy", "aftm_strategy", "AFTM_STRATEGY_", 9102, {"STORE_PATH": "strategy.sqlite"}
)
EXECUTOR = ChildSpec(
    "executor", "aftm_executor", "AFTM_EXECUTOR_", 9103, {"JOURNAL_PATH": "executor-journal.sqlite"}
)
CHILDREN = (GATEWAY, STRATEGY, EXECUTOR)

# Each bound endpoint and the connect settings that must reach it.
LINKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "AFTM_GATEWAY_PUB_BIND",
        (
            "AFTM_STRATEGY_TICK_CONNECT",
            "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT",
            "AFTM_CONSOLE_GATEWAY_PUB_CONNECT",
        ),
    ),
    ("AFTM_GATEWAY_ROUTER_BIND", ("AFTM_EXECUTOR_GATEWAY_CONNECT", "AFTM_CONSOLE_GATEWAY_CONNECT")),
    (
        "AFTM_STRATEGY_CONTROL_BIND",
        ("AFTM_EXECUTOR_STRATEGY_CONNECT", "AFTM_CONSOLE_STRATEGY_CONNECT"),
    ),
    ("AFTM_EXECUTOR_SIGNAL_BIND", ("AFTM_STRATEGY_SIGNAL_CONNECT",)),
    ("AFTM_EXECUTOR_CONTROL_BIND", ("AFTM_CONSOLE_EXECUTOR_CONNECT",)),
)


def child_env(base: Mapping[str, str], state_dir: Path) -> dict[str, str]:
    """The environment every child starts with."""
    # The sim trades at any hour, so the executor does too unless told to follow TAIFEX.
    market = {"AFTM_EXECUTOR_MARKET_RULES": "always_open"}
    env = {**market, **base, **linked_connects(base), "AFTM_GATEWAY_BROKER": "sim"}
    for spec in CHILDREN:
        for setting, file_name in spec.state_files.items():
            env[spec.prefix + setting] = str(state_dir / file_name)
    return env


def keyed(env: Mapping[str, str], keys_dir: Path) -> dict[str, str]:
    """`env` with every child on CURVE keys from `keys_dir`, whatever INSECURE said."""
    keys = {}
    for spec in CHILDREN:
        keys[spec.prefix + "KEYS_DIR"] = str(keys_dir)
        keys[spec.prefix + "INSECURE"] = "false"
    return {**env, **keys}


def linked_connects(env: Mapping[str, str]) -> dict[str, str]:
    """Connect settings derived from bind settings, for those not set explicitly."""
    derived: dict[str, str] = {}
    for bind_variable, connect_variables in LINKS:
        bind = env.get(bind_variable, "").strip()
        connect = connect_endpoint(bind) if bind else None
        if connect is None:
            continue
        for variable in connect_variables:
            if variable not in env:
                derived[variable] = connect
    return derived


def console_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """The console's own settings (field -> value) that follow a moved bind endpoint."""
    return {
        variable.removeprefix(CONSOLE_PREFIX).lower(): value
        for variable, value in linked_connects(env).items()
        if variable.startswith(CONSOLE_PREFIX)
    }


def connect_endpoint(bind: str) -> str | None:
    """Where a local process reaches `bind`; None when that cannot be known (port `*`)."""
    if bind.startswith("ipc://"):
        return bind
    match = _TCP.fullmatch(bind)
    if match is None:
        return None  # the child refuses it at start and its log says why
    host = "127.0.0.1" if match["host"] in _ANY_HOST else match["host"]
    return f"tcp://{host}:{match['port']}"


def health_address(env: Mapping[str, str], spec: ChildSpec) -> tuple[str, int]:
    """(host, port) of the child's /health; InvalidInput when it cannot be reached."""
    variable = f"{spec.prefix}METRICS_PORT"
    text = env.get(variable, str(spec.default_metrics_port)).strip()
    try:
        port = int(text)
    except ValueError:
        raise InvalidInput(variable, f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise InvalidInput(variable, f"aftm run checks /health on it: needs 1-65535, got {port}")
    host = env.get(f"{spec.prefix}METRICS_HOST", "127.0.0.1").strip()
    return ("127.0.0.1" if host in _ANY_HOST or not host else host.strip("[]")), port
