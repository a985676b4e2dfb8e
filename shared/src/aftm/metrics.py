"""Prometheus metrics and the health endpoint every service serves over HTTP.

Each service owns a `CollectorRegistry` (not the process-global one) so tests can run several
services in one process. Latencies are histograms in seconds with buckets from 50 µs to 5 s.
/health also names the code that answers (`version`, `commit`: aftm.version).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest

from aftm.version import commit, version

LATENCY_BUCKETS_S = (
    50e-6, 100e-6, 250e-6, 500e-6,
    1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
    1.0, 2.5, 5.0,
)  # fmt: skip

HealthCheck = Callable[[], tuple[bool, Mapping[str, object]]]


def latency_histogram(
    name: str, documentation: str, registry: CollectorRegistry, labels: tuple[str, ...] = ()
) -> Histogram:
    return Histogram(
        name, documentation, labelnames=labels, buckets=LATENCY_BUCKETS_S, registry=registry
    )


class MetricsServer:
    """Serves /metrics (Prometheus text) and /health (200 or 503 with a JSON body)."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, health: HealthCheck):
        handler = _handler(registry, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: CollectorRegistry, health: HealthCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif self.path.startswith("/health"):
                healthy, details = health()
                answer = {"healthy": healthy, **details, "version": version(), "commit": commit()}
                body = json.dumps(answer).encode()
                self._send(200 if healthy else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would drown the service's own log."""

    return Handler
