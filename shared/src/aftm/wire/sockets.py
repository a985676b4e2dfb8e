"""Socket construction and the request/reply framing shared by every ROUTER server."""

from __future__ import annotations

from collections.abc import Callable

import zmq

from aftm.errors import DecodeError
from aftm.wire.codec import MAX_FRAME_BYTES, decode, encode, request_id_of
from aftm.wire.protocol import ErrorCode, Reply, Request

SocketSetup = Callable[[zmq.Socket[bytes]], None]
# libzmq drops a peer that sends a larger message before it is ever read into Python: no frame
# the codec would refuse anyway can cost more than this much memory. Multipart envelopes add an
# identity and a topic, hence the margin.
MAX_MESSAGE_BYTES = MAX_FRAME_BYTES + 4096
# Messages queued per peer and direction. Bounded so a flooding or stuck peer costs bounded
# memory; beyond it PUB drops, PUSH/DEALER block (callers send NOBLOCK) and ROUTER drops.
HIGH_WATER_MARK = 1000


def make_socket(
    context: zmq.Context[zmq.Socket[bytes]],
    kind: int,
    *,
    bind: str | None = None,
    connect: str | None = None,
    subscribe: tuple[bytes, ...] = (),
    setup: SocketSetup | None = None,
) -> zmq.Socket[bytes]:
    """A socket that never blocks close (linger 0): state that matters is journaled, not queued.

    `setup` runs before bind or connect: CURVE server or client options (aftm.security).
    """
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    sock.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
    sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
    if kind == zmq.ROUTER:
        # An unroutable reply (the client went away) is dropped rather than silently queued.
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    for topic in subscribe:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    if setup is not None:
        setup(sock)
    if bind is not None:
        sock.bind(bind)
    if connect is not None:
        sock.connect(connect)
    return sock


def bound_endpoint(sock: zmq.Socket[bytes]) -> str:
    """The concrete endpoint after binding to port 0 (tests) or a wildcard."""
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
    assert isinstance(endpoint, bytes)  # noqa: S101 - LAST_ENDPOINT is always bytes
    return endpoint.decode()


class InvalidRequest(DecodeError):
    """A request that names one field whose value the wire cannot carry (a NaN or float
    price, a string for a quantity): dropped and counted like any malformed frame, yet
    answered INVALID naming the field (send `frames`), so the client is not left waiting."""

    def __init__(self, problem: DecodeError, identity: bytes, request_id: str) -> None:
        super().__init__(str(problem), field=problem.field)
        refusal = Reply(request_id, ok=False, error_code=ErrorCode.INVALID, error=str(problem))
        self.frames = reply_frames(identity, refusal)


def read_request(frames: list[bytes]) -> tuple[bytes, Request]:
    """Split a ROUTER message into (client identity, request); DecodeError if it is not one,
    InvalidRequest if it is a request with a field out of shape."""
    if len(frames) != 2:
        raise DecodeError(f"expected [identity, payload], got {len(frames)} frames")
    identity, payload = frames
    try:
        request = decode(payload)
    except DecodeError as problem:
        request_id = request_id_of(payload) if problem.field is not None else None
        if request_id is None:
            raise
        raise InvalidRequest(problem, identity, request_id) from problem
    if not isinstance(request, Request):
        raise DecodeError(f"expected a Request, got {type(request).__name__}")
    return identity, request


def reply_frames(identity: bytes, reply: Reply) -> list[bytes]:
    """The frames of `reply`, or of a refusal saying why `reply` could not be framed (too large
    for one frame, a value the wire cannot carry): a client always gets an answer, and the
    replier never dies on its own reply."""
    try:
        return [identity, encode(reply)]
    except (TypeError, ValueError) as unframeable:
        problem = str(unframeable)
        fallback = Reply(
            reply.request_id,
            ok=False,
            error_code=ErrorCode.UNAVAILABLE,
            error=f"the reply could not be sent: {problem[:200]}",
        )
        return [identity, encode(fallback)]


def forbidden(request: Request, reason: str) -> Reply:
    """The answer to a request the sender's role may not make (aftm.security.roles)."""
    return error(request, ErrorCode.FORBIDDEN, reason)


def ok(request: Request, body: object | None = None) -> Reply:
    return Reply(request_id=request.request_id, ok=True, body=body)


def error(request: Request, code: ErrorCode, message: str) -> Reply:
    return Reply(request_id=request.request_id, ok=False, error_code=code, error=message)
