"""The two security metrics every service exports, under its own name prefix."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from aftm.security.curve import Refusal


class SecurityMetrics:
    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.refusals = Counter(
            f"aftm_{service}_curve_refusals_total",
            "Peers or requests refused, by reason (unknown_key: a key no role holds; role: a"
            " known role where it may not connect or a request it may not send) and socket",
            ["reason", "socket"],
            registry=registry,
        )
        self.insecure = Gauge(
            f"aftm_{service}_insecure",
            "1 while this service runs on plain TCP because a person set its INSECURE switch",
            registry=registry,
        )

    def refused(self, reason: Refusal, socket: str) -> None:
        self.refusals.labels(reason=str(reason), socket=socket).inc()
