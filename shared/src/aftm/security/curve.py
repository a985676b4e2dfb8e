"""CURVE on a socket, and the ZAP authenticator that tells each peer's role by its key.

A service makes each bound socket a CURVE server (`serve`); the ZAP domain it sets is the
socket's `BoundSocket` name, so the authenticator knows which socket a peer is knocking at and
admits only roles that may connect there (roles.ACCESS). An admitted connection carries its role
as the ZAP User-Id; `role_of` reads it back from a message received with `copy=False`, and the
service checks the request against `roles.refusal`.

Why pyzmq's ThreadAuthenticator (with our credentials callback) rather than a ZAP handler in each
service's poll loop: libzmq asks ZAP from its I/O thread during the handshake, for every socket
type alike (ROUTER, PUB, PULL), and waits for the answer. A handler in the service loop would
stall every handshake whenever the loop is busy (a broker call, a Lazy Pirate wait on another
service) and would have to be added to every loop's poller. In its own thread the handler
answers at once; its callback is a dictionary lookup on an immutable map, and the only shared
state, the refusal log, has a lock. One authenticator serves a whole zmq.Context (ZAP is bound
per context), so one per service process.

Sockets fail closed: `serve` sets ZAP_ENFORCE_DOMAIN, so a server whose context has no
authenticator refuses every client instead of admitting any key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from types import TracebackType

import zmq
from loguru import logger
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from aftm.security.keys import KeyPair
from aftm.security.roles import BoundSocket, Role, refusal, roles_for

USER_ID = "User-Id"
MAX_PEERS_LOGGED = 1000  # refusals are still counted past this; only new log lines stop


class Refusal(StrEnum):
    UNKNOWN_KEY = "unknown_key"  # the handshake's key is in no trusted list
    ROLE = "role"  # a known role where it may not connect, or a request it may not send


OnRefused = Callable[[Refusal, str], None]  # (reason, socket name): e.g. a metric's inc


def serve(socket: zmq.Socket[bytes], pair: KeyPair, bound: BoundSocket) -> None:
    """Make `socket` a CURVE server with `pair`, authenticated under `bound`'s ZAP domain.
    Call before bind."""
    socket.curve_secretkey = pair.secret
    socket.curve_publickey = pair.public
    socket.curve_server = True
    socket.zap_domain = str(bound).encode()
    socket.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def connect_as(socket: zmq.Socket[bytes], pair: KeyPair, server_public: bytes) -> None:
    """Make `socket` a CURVE client with `pair`, trusting a server with `server_public`.
    Call before connect."""
    socket.curve_secretkey = pair.secret
    socket.curve_publickey = pair.public
    socket.curve_serverkey = server_public


def role_of(frames: Sequence[zmq.Frame]) -> Role | None:
    """The sender's role from the last frame of a message received with `copy=False`; None on
    a connection that was not admitted by a RoleAuthenticator (plain TCP, inproc)."""
    if not frames:
        return None
    try:
        user_id = frames[-1].get(USER_ID)
    except zmq.ZMQError:
        return None
    try:
        return Role(str(user_id))
    except ValueError:
        return None


class RefusalLog:
    """Counts every refusal through `on_refused` and logs the first one per peer and reason,
    so a peer that reconnects forever leaves one line, not one per attempt."""

    def __init__(self, on_refused: OnRefused | None = None) -> None:
        self._on_refused = on_refused
        self._logged: set[tuple[str, Refusal, str]] = set()
        self._lock = threading.Lock()

    def refuse(self, reason: Refusal, socket: str, peer: str, detail: str) -> None:
        if self._on_refused is not None:
            self._on_refused(reason, socket)
        key = (peer, reason, socket)
        with self._lock:
            if key in self._logged:
                return
            full = len(self._logged) >= MAX_PEERS_LOGGED
            if not full:
                self._logged.add(key)
        if full:
            return
        logger.warning(
            "peer refused reason={} socket={} peer={} detail={}", reason, socket, peer, detail
        )


class Gate:
    """The per-request role check of one bound socket: `check` answers why a received request
    is refused (counted and logged as `role`), or None. Without CURVE (`secure` false: a person
    set the insecure switch) no peer has a role, so everything passes."""

    def __init__(self, bound: BoundSocket, refusals: RefusalLog, *, secure: bool) -> None:
        self._bound = bound
        self._refusals = refusals
        self._secure = secure

    def check(self, frames: Sequence[zmq.Frame], body: object) -> str | None:
        if not self._secure:
            return None
        role = role_of(frames)
        reason = refusal(self._bound, role, type(body))
        if reason is not None:
            self._refusals.refuse(Refusal.ROLE, str(self._bound), str(role), reason)
        return reason


def fingerprint(public: bytes) -> str:
    """A short, printable name for a Z85 public key in a log line."""
    return public[:8].decode("ascii", "replace") + "…"


class RoleAuthenticator(ThreadAuthenticator):
    """ZAP in a thread: admits only `trusted` keys, each only at sockets its role may connect
    to, and hands the role on as the connection's User-Id. Use as a context manager, or
    start()/stop()."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        trusted: Mapping[Role, bytes],
        refusals: RefusalLog | None = None,
    ) -> None:
        super().__init__(context)
        self._roles: dict[bytes, Role] = {key: role for role, key in trusted.items()}
        if len(self._roles) != len(trusted):
            raise ValueError("two roles share a public key, so a peer's role is ambiguous")
        self._refusals = refusals or RefusalLog()
        for bound in BoundSocket:
            self.configure_curve_callback(str(bound), self)

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials hook: `key` is the peer's Z85 public key. An exception here
        would end the ZAP thread and leave every later handshake hanging, so a failure (say,
        in the metrics callback) refuses this peer and the thread goes on."""
        try:
            return self._admits(domain, key)
        except Exception:
            logger.exception("authentication failed, peer refused socket={}", domain)
            return False

    def _admits(self, domain: str, key: bytes) -> bool:
        role = self._roles.get(key)
        if role is None:
            self._refusals.refuse(Refusal.UNKNOWN_KEY, domain, fingerprint(key), "unknown key")
            return False
        if role not in roles_for(BoundSocket(domain)):
            self._refusals.refuse(Refusal.ROLE, domain, str(role), "may not connect")
            return False
        return True

    def curve_user_id(self, client_public_key: bytes) -> str:
        """Called only for an admitted peer (raw 32-byte key): its role becomes the User-Id."""
        return str(self._roles[z85.encode(client_public_key)])

    def __enter__(self) -> RoleAuthenticator:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
