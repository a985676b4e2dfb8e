"""Two stand-ins that test_alerts.py runs inside containers (standard library only: the base
image has no packages), as `python3 alert_doubles.py ROLE PORT`:

- `exporter` serves the environment variable METRICS as a Prometheus text page, in place of an
  AFTM service, so a test decides exactly which series Prometheus sees;
- `receiver` answers every POST with 200 and writes its JSON body as one line on stdout, in
  place of the webhook an operator would point Alertmanager at; the test reads the lines from
  the container's logs.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVED = "received "  # prefix of each recorded POST body
LISTENING = "listening"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()  # docker reads a pipe: without this the test would see nothing


class Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log: one line per scrape would bury what the test reads."""


class Exporter(Quiet):
    def do_GET(self) -> None:
        body = os.environ["METRICS"].encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Receiver(Quiet):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))  # not JSON: no reply, the sender retries
        say(RECEIVED + json.dumps(body, sort_keys=True))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


ROLES: dict[str, type[Quiet]] = {"exporter": Exporter, "receiver": Receiver}


def main(argv: list[str]) -> None:
    role, port = argv[1], int(argv[2])
    server = ThreadingHTTPServer(("0.0.0.0", port), ROLES[role])
    say(f"{role} {LISTENING} on {port}")
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
