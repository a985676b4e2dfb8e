"""Requests that do not wait for their replies: the executor's path for orders.

The Lazy-Pirate client (reliable.py) blocks on each reply, so orders fired by one tick queued
behind each other's round trips. Here a request leaves at once, the owner's poll loop reads the
replies as they come and each is matched to its request by request id. Nothing is ever resent.

A request unanswered within the timeout gives up everything in flight, not only itself: the
socket is replaced, as in the Lazy Pirate pattern, so that nothing still queued in it reaches a
restarted server later, and the replies to the others could no longer arrive. What was given up
is the caller's to resolve (the executor asks the gateway about each client order id).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

import zmq

from aftm.errors import DecodeError
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import Reply, Request
from aftm.wire.sockets import SocketSetup, make_socket

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answered(Generic[T]):
    tag: T  # what the caller sent the request for
    reply: Reply
    round_trip_s: float


@dataclass(frozen=True, slots=True)
class Received(Generic[T]):
    answered: list[Answered[T]]
    dropped: list[str]  # why each frame that answered nothing in flight was dropped


@dataclass(frozen=True, slots=True)
class _InFlight(Generic[T]):
    tag: T
    sent: float  # perf_counter
    deadline: float  # monotonic


class PipelinedClient(Generic[T]):
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
        self._timeout_s = timeout_ms / 1000
        self._in_flight: dict[str, _InFlight[T]] = {}  # by request id, oldest first
        self.socket = self._open()  # replaced when requests time out: poll the current one

    def _open(self) -> zmq.Socket[bytes]:
        return make_socket(self._context, zmq.DEALER, connect=self._endpoint, setup=self._setup)

    def send(self, body: object, tag: T) -> None:
        """Send `body` now; its reply comes back with `tag` from `receive`, or `tag` from
        `expire` if no reply came in time."""
        request = Request(request_id=uuid.uuid4().hex, body=body)
        self.socket.send(encode(request))
        self._in_flight[request.request_id] = _InFlight(
            tag, time.perf_counter(), time.monotonic() + self._timeout_s
        )

    def in_flight(self) -> list[T]:
        return [pending.tag for pending in self._in_flight.values()]

    def receive(self) -> Received[T]:
        """Every reply waiting on the socket, matched to its request; never blocks."""
        answered: list[Answered[T]] = []
        dropped: list[str] = []
        while True:
            try:
                frame = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return Received(answered, dropped)
            try:
                reply = decode(frame)
            except DecodeError as bad:
                dropped.append(str(bad))
                continue
            if not isinstance(reply, Reply):
                dropped.append(f"expected a Reply, got {type(reply).__name__}")
                continue
            pending = self._in_flight.pop(reply.request_id, None)
            if pending is None:
                dropped.append(f"reply to no request in flight ({reply.request_id})")
                continue
            answered.append(Answered(pending.tag, reply, time.perf_counter() - pending.sent))

    def ms_to_deadline(self) -> int | None:
        """Until the oldest request times out, rounded up; None with nothing in flight."""
        if not self._in_flight:
            return None
        oldest = next(iter(self._in_flight.values()))
        return max(0, int((oldest.deadline - time.monotonic()) * 1000) + 1)

    def expire(self) -> list[T]:
        """Once the oldest request is past its deadline: give up every request in flight,
        replace the socket, and return their tags (oldest first). Else nothing."""
        if not self._in_flight:
            return []
        oldest = next(iter(self._in_flight.values()))
        if time.monotonic() < oldest.deadline:
            return []
        given_up = self.in_flight()
        self._in_flight.clear()
        self.socket.close()
        self.socket = self._open()
        return given_up

    def close(self) -> None:
        self.socket.close()
