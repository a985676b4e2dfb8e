"""The console's view of the services: one request client per endpoint, answers or one error.

The strategy and the executor may be several (AFTM_CONSOLE_STRATEGY_CONNECT and
AFTM_CONSOLE_EXECUTOR_CONNECT list them): a request names the endpoint it goes to, or goes to
the only one, or to the executor `choose` picked (by the account it trades, see executors.py).
A request with no endpoint while several are listed and none was chosen is refused (exit 2)
rather than sent to one of them at random.

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
from aftm_console.errors import ConsoleError, KeyNotTrusted, ServiceDown, ServiceRefused
from aftm_console.settings import ConsoleSettings

T = TypeVar("T")
Context = zmq.Context[zmq.Socket[bytes]]


class Service(StrEnum):
    GATEWAY = "gateway"
    STRATEGY = "strategy"
    EXECUTOR = "executor"


class NoneChosen(ConsoleError):
    """Several strategies or executors are listed and the command needs one: say which."""

    exit_code = 2


class Services:
    """Clients are opened on first use; `close` (or the `with` block) releases them all."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.context: Context = zmq.Context()
        self._clients: dict[tuple[Service, str], ReliableClient] = {}
        self._curve: Curve | None = None
        self._chosen: dict[Service, str] = {}

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoints(self, service: Service) -> tuple[str, ...]:
        """Every endpoint listed for `service`, in the order the setting gives them."""
        listed = {
            Service.GATEWAY: self.settings.gateway_connect,
            Service.STRATEGY: self.settings.strategy_connect,
            Service.EXECUTOR: self.settings.executor_connect,
        }[service]
        return tuple(listed.split(","))

    def choose(self, service: Service, endpoint: str) -> None:
        """Send `service`'s requests that name no endpoint to `endpoint` from now on."""
        if endpoint not in self.endpoints(service):
            raise ValueError(f"{endpoint!r} is not a listed {service} endpoint")
        self._chosen[service] = endpoint

    def forget_choices(self) -> None:
        """Back to no executor or strategy chosen: the menu's next entry picks afresh."""
        self._chosen.clear()

    def endpoint(self, service: Service) -> str:
        """Where a request that names no endpoint goes: the chosen or the only one."""
        listed = self.endpoints(service)
        if len(listed) == 1:
            return listed[0]
        if service in self._chosen:
            return self._chosen[service]
        how = "pick one with --account ACCOUNT" if service is Service.EXECUTOR else "name one"
        raise NoneChosen(f"{len(listed)} {service}s are listed ({', '.join(listed)}): {how}")

    def ask(
        self,
        service: Service,
        body: object,
        answer: type[T],
        *,
        retries: int = 0,
        timeout_ms: int | None = None,
        endpoint: str | None = None,
    ) -> T:
        """The reply body, of type `answer`; ServiceRefused or ServiceDown otherwise. Sent to
        `endpoint`, or where `endpoint(service)` says."""
        timeout = timeout_ms if timeout_ms is not None else self.settings.timeout_ms
        where = endpoint or self.endpoint(service)
        try:
            reply = self._client(service, where).request(body, timeout_ms=timeout, retries=retries)
        except KeyRefused:
            raise KeyNotTrusted(service, where, self.settings.keys_dir) from None
        except RequestTimedOut:
            raise ServiceDown(service, where, timeout) from None
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

    def _client(self, service: Service, endpoint: str) -> ReliableClient:
        client = self._clients.get((service, endpoint))
        if client is None:
            client = ReliableClient(
                self.context,
                endpoint,
                timeout_ms=self.settings.timeout_ms,
                setup=self.setup(Role(str(service))),
            )
            self._clients[service, endpoint] = client
        return client
