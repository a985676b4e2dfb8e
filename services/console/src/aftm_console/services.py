"""The console's view of the three services: one request client each, answers or one error.

Every request has a timeout. Only requests that are safe to repeat may be retried (reads, and
settings that end in the same state however often they are applied); a new order is retried
only under its one client order id, which the gateway deduplicates.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import zmq

from aftm.security.roles import Role
from aftm.security.transport import Curve
from aftm.wire.reliable import KeyRefused, ReliableClient, RequestTimedOut
from aftm.wire.sockets import SocketSetup
from aftm_console.errors import KeyNotTrusted, ServiceDown, ServiceRefused
from aftm_console.settings import ConsoleSettings

T = TypeVar("T")
Context = zmq.Context[zmq.Socket[bytes]]


class Service(StrEnum):
    GATEWAY = "gateway"
    STRATEGY = "strategy"
    EXECUTOR = "executor"


class Services:
    """Clients are opened on first use; `close` (or the `with` block) releases them all."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.context: Context = zmq.Context()
        self._clients: dict[Service, ReliableClient] = {}
        self._curve: Curve | None = None

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint(self, service: Service) -> str:
        return {
            Service.GATEWAY: self.settings.gateway_connect,
            Service.STRATEGY: self.settings.strategy_connect,
            Service.EXECUTOR: self.settings.executor_connect,
        }[service]

    def ask(
        self,
        service: Service,
        body: object,
        answer: type[T],
        *,
        retries: int = 0,
        timeout_ms: int | None = None,
    ) -> T:
        """The reply body, of type `answer`; ServiceRefused or ServiceDown otherwise."""
        timeout = timeout_ms if timeout_ms is not None else self.settings.timeout_ms
        try:
            reply = self._client(service).request(body, timeout_ms=timeout, retries=retries)
        except KeyRefused:
            raise KeyNotTrusted(service, self.endpoint(service), self.settings.keys_dir) from None
        except RequestTimedOut:
            raise ServiceDown(service, self.endpoint(service), timeout) from None
        if not reply.ok:
            code = f" ({reply.error_code})" if reply.error_code else ""
            reason = f"{reply.error or 'no reason given'}{code}"
            raise ServiceRefused(service, reason, reply.error_code)
        if not isinstance(reply.body, answer):
            got = type(reply.body).__name__
            raise ServiceRefused(service, f"answered {got} where {answer.__name__} was expected")
        return reply.body

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self.context.term()

    def setup(self, server: Role) -> SocketSetup | None:
        """CURVE client options for a socket to `server`; None when the insecure switch is
        set. KeyFileError (exit 2, naming the file) when the console's keys are missing."""
        if self.settings.insecure:
            return None
        if self._curve is None:
            folder = self.settings.keys_dir or Path("var/keys")
            self._curve = Curve.load(folder, Role.CONSOLE)
        return self._curve.client(server)

    def _client(self, service: Service) -> ReliableClient:
        client = self._clients.get(service)
        if client is None:
            client = ReliableClient(
                self.context,
                self.endpoint(service),
                timeout_ms=self.settings.timeout_ms,
                setup=self.setup(Role(str(service))),
            )
            self._clients[service] = client
        return client
