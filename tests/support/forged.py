"""Frames a hostile peer can send though the codec refuses to frame them: a valid message with
some fields set to values out of the wire's range (integers beyond signed 64 bits, say).

`forged(message, **changes)` frames `message` with the codec, then sets each change in the
msgpack map; a change to a nested message's field is spelled with `__` (`body__quantity`).
`ask_forged` sends such a request on its own DEALER and returns the reply.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from decimal import Decimal

import msgpack
import zmq

from aftm.wire.codec import decode, encode
from aftm.wire.protocol import Reply, Request
from aftm.wire.sockets import make_socket

Context = zmq.Context[zmq.Socket[bytes]]


def forged(message: object, **changes: object) -> bytes:
    data = msgpack.unpackb(encode(message), raw=False)
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = data
        for parent in parents:
            target = target[parent]
        if name not in target:
            raise KeyError(f"{path}: no such field in {data.get('t')!r}")
        target[name] = str(value) if isinstance(value, Decimal) else value  # as the codec
    return msgpack.packb(data, use_bin_type=True)


def ask_forged(
    context: Context,
    endpoint: str,
    body: object,
    changes: Mapping[str, object],
    *,
    timeout_ms: int = 3000,
) -> Reply:
    """Send Request(body) with `changes` to its body's fields and wait for the reply."""
    request_id = uuid.uuid4().hex
    frame = forged(Request(request_id, body), **{f"body__{k}": v for k, v in changes.items()})
    dealer = make_socket(context, zmq.DEALER, connect=endpoint)
    try:
        dealer.send(frame)
        deadline = time.monotonic() + timeout_ms / 1000
        while (remaining := deadline - time.monotonic()) > 0:
            if dealer.poll(int(remaining * 1000) + 1):
                reply = decode(dealer.recv())
                if isinstance(reply, Reply) and reply.request_id == request_id:
                    return reply
        raise AssertionError(f"no reply from {endpoint} within {timeout_ms} ms")
    finally:
        dealer.close()
