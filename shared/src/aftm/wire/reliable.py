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
        self._socket = self._open()

    def _open(self) -> zmq.Socket[bytes]:
        return make_socket(self._context, zmq.DEALER, connect=self._endpoint, setup=self._setup)

    def request(self, body: object, *, timeout_ms: int | None = None, retries: int = 0) -> Reply:
        """Send `body`; retry up to `retries` times only for requests safe to repeat."""
        for attempt in range(retries + 1):
            try:
                return self._once(body, timeout_ms if timeout_ms is not None else self.timeout_ms)
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
        # The socket may still hold the old request or a late reply: replace it (Lazy Pirate).
        self._socket.close()
        self._socket = self._open()
        raise RequestTimedOut(f"no reply from {self._endpoint} within {timeout_ms} ms")

    def close(self) -> None:
        self._socket.close()
