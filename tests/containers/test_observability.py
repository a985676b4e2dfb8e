"""The stack's Prometheus scrapes every service, and every query of the provisioned Grafana
dashboard (read from its JSON file) returns finite data from it. Grafana itself cannot be
pulled here; its queries are what matters, and they run against the real server."""

from __future__ import annotations

import math

import pytest

from aftm.domain.signals import SignalKind
from aftm.domain.types import Side
from tests.containers.stack import SERVICES, Stack, dashboard_queries

pytestmark = pytest.mark.slow
# What Grafana would put in for its built-in variables (scrape interval 5 s).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "15m"}


@pytest.fixture(scope="module")
def traded(stack: Stack) -> Stack:
    """An order within the last minute: the order and latency panels have something to show."""
    condition_id = stack.add_quick_condition("MXFL6", Side.BUY)
    stack.wait_for(lambda: stack.broker_order(condition_id, SignalKind.ENTRY), 90, "an entry")
    return stack


def test_prometheus_scrapes_every_service(stack: Stack) -> None:
    def every_service_up() -> dict[str, str] | None:
        data = stack.prometheus("/api/v1/targets")
        assert isinstance(data, dict)
        health = {
            target["labels"].get("service"): target["health"]
            for target in data["activeTargets"]
            if target["labels"]["job"] == "aftm"
        }
        return health if health == dict.fromkeys(SERVICES, "up") else None

    stack.wait_for(every_service_up, 60, "every service's scrape target up")


@pytest.mark.parametrize(
    ("panel", "expr"), [pytest.param(panel, expr, id=panel) for panel, expr in dashboard_queries()]
)
def test_dashboard_query_returns_data(traded: Stack, panel: str, expr: str) -> None:
    query = expr
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    assert "$" not in query, f"{panel}: a Grafana variable this test does not know: {expr}"

    def finite_samples() -> list[float] | None:
        data = traded.prometheus("/api/v1/query", query=query)
        assert isinstance(data, dict)
        values = [float(sample["value"][1]) for sample in data["result"]]
        return [value for value in values if math.isfinite(value)] or None

    traded.wait_for(finite_samples, 60, f"data for {panel}: {query}")
