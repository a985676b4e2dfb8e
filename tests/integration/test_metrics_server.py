"""The HTTP endpoint every service serves: /metrics for Prometheus, /health for orchestrators."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter

from aftm.metrics import MetricsServer, latency_histogram
from aftm.version import commit, version
from tests.support.processes import http_json


def test_metrics_and_health_are_served() -> None:
    registry = CollectorRegistry()
    Counter("aftm_demo_ticks_total", "ticks", registry=registry).inc(3)
    latency_histogram("aftm_demo_latency_seconds", "latency", registry).observe(0.0002)
    healthy = {"value": True}

    def health() -> tuple[bool, Mapping[str, object]]:
        return healthy["value"], {"logged_in": healthy["value"]}

    server = MetricsServer("127.0.0.1", 0, registry, health).start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
            text = response.read().decode()
        assert "aftm_demo_ticks_total 3.0" in text
        assert 'aftm_demo_latency_seconds_bucket{le="5e-05"} 0.0' in text
        assert 'aftm_demo_latency_seconds_bucket{le="0.00025"} 1.0' in text
        code = {"version": version(), "commit": commit()}
        assert http_json(f"{url}/health") == (200, {"healthy": True, "logged_in": True, **code})
        healthy["value"] = False
        assert http_json(f"{url}/health") == (503, {"healthy": False, "logged_in": False, **code})
    finally:
        server.stop()
