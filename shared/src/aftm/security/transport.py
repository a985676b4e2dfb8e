"""One process's CURVE setup: its own key pair, the keys it trusts, its ZAP authenticator, and
the per-socket setup its sockets need.

A service builds one `Security` at start (`Security.from_keys`, or `Security.insecure()` when a
person set the insecure switch), starts it on its zmq.Context before binding anything, and asks
it for a `server(bound)` setup for each socket it binds, a `client(role)` setup for each socket
it connects, and a `gate(bound)` that checks every received request against the sender's role.
Insecure, every setup is None (plain TCP) and every gate passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq

from aftm.security.curve import Gate, OnRefused, RefusalLog, RoleAuthenticator, connect_as, serve
from aftm.security.keys import KeyPair, load_pair, load_trusted
from aftm.security.roles import BoundSocket, Role
from aftm.wire.sockets import SocketSetup


@dataclass(frozen=True, slots=True)
class Curve:
    """A role's own pair and every role's public key (how peers and servers are told)."""

    own: KeyPair
    trusted: Mapping[Role, bytes]

    @classmethod
    def load(cls, folder: Path, role: Role) -> Curve:
        """`role`'s secret and every role's public key from a folder `aftm keys init` wrote
        (or a secrets folder holding the same files). KeyFileError names a bad file."""
        return cls(load_pair(folder, role), load_trusted(folder))

    def server(self, bound: BoundSocket) -> SocketSetup:
        return lambda socket: serve(socket, self.own, bound)

    def client(self, server: Role) -> SocketSetup:
        server_public = self.trusted[server]
        return lambda socket: connect_as(socket, self.own, server_public)


class Security:
    """CURVE for one process, or plain TCP when `curve` is None (the insecure switch)."""

    def __init__(self, curve: Curve | None, on_refused: OnRefused | None = None) -> None:
        self.curve = curve
        self.refusals = RefusalLog(on_refused)
        self._authenticator: RoleAuthenticator | None = None

    @classmethod
    def insecure(cls) -> Security:
        return cls(None)

    @property
    def secure(self) -> bool:
        return self.curve is not None

    def start(self, context: zmq.Context[zmq.Socket[bytes]]) -> Security:
        """Start the ZAP authenticator on `context` (before any socket binds). Idempotent."""
        if self.curve is not None and self._authenticator is None:
            self._authenticator = RoleAuthenticator(context, self.curve.trusted, self.refusals)
            self._authenticator.start()
        return self

    def stop(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    def server(self, bound: BoundSocket) -> SocketSetup | None:
        return None if self.curve is None else self.curve.server(bound)

    def client(self, server: Role) -> SocketSetup | None:
        return None if self.curve is None else self.curve.client(server)

    def gate(self, bound: BoundSocket) -> Gate:
        return Gate(bound, self.refusals, secure=self.secure)
