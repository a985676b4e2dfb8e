"""Which of the ports `aftm run`'s children will bind are already taken.

Checked before any child starts: a second `aftm run`, or the compose stack on the same host,
would otherwise make the new gateway fail to bind while the console happily talks to the old
one, showing another instance's orders as this run's.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from aftm_console.run.wiring import CHILDREN, health_address

# Each child's bound endpoints: the variable, and its default (the services' settings).
BIND_DEFAULTS: Mapping[str, str] = {
    "AFTM_GATEWAY_PUB_BIND": "tcp://127.0.0.1:5555",
    "AFTM_GATEWAY_ROUTER_BIND": "tcp://127.0.0.1:5556",
    "AFTM_STRATEGY_CONTROL_BIND": "tcp://127.0.0.1:5557",
    "AFTM_EXECUTOR_SIGNAL_BIND": "tcp://127.0.0.1:5558",
    "AFTM_EXECUTOR_CONTROL_BIND": "tcp://127.0.0.1:5559",
}
_ANY = {"*", "0.0.0.0", "[::]", "::"}  # noqa: S104 - recognised, not bound


def taken_ports(env: Mapping[str, str]) -> list[str]:
    """One line per port that cannot be bound, naming the variable that moves it."""
    wanted: list[tuple[str, str, int]] = []
    for variable, default in BIND_DEFAULTS.items():
        address = _tcp_address(env.get(variable, "").strip() or default)
        if address is not None:
            wanted.append((variable, *address))
    for spec in CHILDREN:
        host, port = health_address(env, spec)
        wanted.append((f"{spec.prefix}METRICS_PORT", host, port))
    return [
        f"port {port} on {host} ({variable}) is taken"
        for variable, host, port in wanted
        if _taken(host, port)
    ]


def _tcp_address(endpoint: str) -> tuple[str, int] | None:
    if not endpoint.startswith("tcp://"):
        return None
    host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
    if not port.isdigit():
        return None  # `*`: the OS picks a free one
    host = host.strip("[]")
    return ("0.0.0.0" if host in _ANY else host), int(port)  # noqa: S104


def _taken(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As ZeroMQ and the metrics server bind: a port left in TIME_WAIT is not taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as failed:
            return failed.errno == errno.EADDRINUSE
    return False
