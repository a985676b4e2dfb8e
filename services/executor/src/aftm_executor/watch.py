"""The gateway as the executor sees it: alive, logged in, restarted, alarmed.

A gateway that publishes anything or answers any request is alive: heartbeats are only the
message it sends when it has nothing else to say. Its health (from a heartbeat, or from the
answer to a GetHealth probe when it has been silent) says whether the broker is logged in,
whether it raised the duplicate-order alarm, and when it started: a new start time is a
restart, after which what it published meanwhile may have been missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aftm.wire.protocol import GatewayHealth
from aftm_executor.risk import GatewayState, gateway_state


@dataclass(frozen=True, slots=True)
class HealthNews:
    """What one health report changed."""

    restarted: bool  # a different gateway process than the one heard before
    logged_in: bool  # the broker session came (back) up
    duplicates_changed: bool


class GatewayWatch:
    """Read by the HTTP health thread too: plain attributes only."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_ns = int(timeout_s * 1e9)
        self.started_ns = time.monotonic_ns()
        self.last_heard_ns: int | None = None  # monotonic
        self.logged_in: bool | None = None  # None: no health report yet
        self.duplicate_orders = 0  # the gateway's alarm: ids with two broker orders
        self.gateway_started_ns = 0  # the gateway process's start (its clock): 0 not known

    def heard(self) -> None:
        """Anything from the gateway: a report, a tick, a reply."""
        self.last_heard_ns = time.monotonic_ns()

    def take_health(self, health: GatewayHealth) -> HealthNews:
        self.heard()
        restarted = bool(self.gateway_started_ns) and health.started_ns != self.gateway_started_ns
        came_up = health.logged_in and self.logged_in is False
        changed = health.duplicate_orders != self.duplicate_orders
        self.gateway_started_ns = health.started_ns
        self.logged_in = health.logged_in
        self.duplicate_orders = health.duplicate_orders
        return HealthNews(restarted=restarted, logged_in=came_up, duplicates_changed=changed)

    def entries_blocked(self) -> str:
        """Why every entry is refused now, empty when none is."""
        if self.duplicate_orders:
            return (
                f"the broker holds two orders for {self.duplicate_orders} client order id(s):"
                " entries are refused until a person checks"
            )
        return ""

    def state(self) -> GatewayState:
        return gateway_state(
            last_heard_ns=self.last_heard_ns,
            logged_in=self.logged_in,
            started_ns=self.started_ns,
            now_ns=time.monotonic_ns(),
            timeout_ns=self.timeout_ns,
        )

    def age_s(self) -> float:
        last = self.last_heard_ns
        return float("inf") if last is None else (time.monotonic_ns() - last) / 1e9
