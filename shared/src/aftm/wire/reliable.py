"""A Lazy-Pirate request client (zguide ch. 4): a timeout closes and reopens the socket.

It never retries on its own unless told the request is safe to repeat. For orders a timeout
means "unknown": the caller resolves it by asking the gateway about the client order id, and
the gateway deduplicates a repeated place by that id.
"""

from __future__ import annotations

import time
import uuid

import zmq

from aftm.errors import AftmError, DecodeError
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import Reply, Request
from aftm.wire.sockets import SocketSetup, make_socket


class RequestTimedOut(AftmError):
    """No reply in time. The outcome is unknown: query before acting again; never resend blind."""


# AUTH: the server's ZAP refused our key. NO_DETAIL: the server dropped a HELLO it could not
# open, i.e. it is not the server whose public key we were given. PROTOCOL: a mechanism mismatch
# (say, a plain server).
HANDSHAKE_FAILURES = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
)


class KeyRefused(RequestTimedOut):
    """The CURVE handshake failed: the server refused this client's key (one it does not trust,
    or a role that may not connect there), or it holds another key than the one trusted here.
    No request reached it, so nothing happened. Fix the keys; retrying changes nothing."""


class ReliableClient:
    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        *,
        timeout_ms: int,
        setup: SocketSetup | None = None,
    ) -> None:
        self._context = context
        self._endpoint = endpoint
        self._setup = setup  # CURVE client options, applied again to every reopened socket
        self.timeout_ms = timeout_ms
        self._handshakes: zmq.Socket[bytes] | None = None
        self._socket = self._open()

    def _open(self) -> zmq.Socket[bytes]:
        socket = make_socket(self._context, zmq.DEALER, setup=self._setup)
        if self._setup is not None:
            # Watched from before connect: a refused key is otherwise just a silent timeout.
            self._handshakes = socket.get_monitor_socket(HANDSHAKE_FAILURES)
        socket.connect(self._endpoint)
        return socket

    def _key_refused(self) -> bool:
        refused = False
        while self._handshakes is not None and self._handshakes.poll(0):
            self._handshakes.recv_multipart()
            refused = True
        return refused

    def _close(self) -> None:
        if self._handshakes is not None:
            self._socket.disable_monitor()
            self._handshakes.close(linger=0)
            self._handshakes = None
        self._socket.close()

    def request(self, body: object, *, timeout_ms: int | None = None, retries: int = 0) -> Reply:
        """Send `body`; retry up to `retries` times only for requests safe to repeat."""
        for attempt in range(retries + 1):
            try:
                return self._once(body, timeout_ms if timeout_ms is not None else self.timeout_ms)
            except KeyRefused:
                raise
            except RequestTimedOut:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, body: object, timeout_ms: int) -> Reply:
        request = Request(request_id=uuid.uuid4().hex, body=body)
        self._socket.send(encode(request))
        deadline = time.monotonic() + timeout_ms / 1000
        while (remaining := deadline - time.monotonic()) > 0:
            if not self._socket.poll(int(remaining * 1000) + 1):
                continue
            try:
                reply = decode(self._socket.recv())
            except DecodeError:
                continue  # a garbled frame is not our answer; keep waiting
            # A late reply to an earlier, timed-out request is not this one's answer.
            if isinstance(reply, Reply) and reply.request_id == request.request_id:
                return reply
        refused = self._key_refused()
        # The socket may still hold the old request or a late reply: replace it (Lazy Pirate).
        self._close()
        self._socket = self._open()
        if refused:
            raise KeyRefused(f"the CURVE handshake with {self._endpoint} failed")
        raise RequestTimedOut(f"no reply from {self._endpoint} within {timeout_ms} ms")

    def close(self) -> None:
        self._close()
