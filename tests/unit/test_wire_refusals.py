"""A request with one field the wire cannot carry is answered INVALID naming that field.

Frames are built by hand (the encoder refuses such values), then read as a ROUTER server reads
them: a field out of shape becomes an INVALID reply for the sender, anything else stays a
malformed frame that is only counted and dropped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgpack
import pytest

from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderType, Side
from aftm.errors import DecodeError
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import AddCondition, ErrorCode, Reply, Request
from aftm.wire.sockets import InvalidRequest, read_request
from tests.builders import a_condition

IDENTITY = b"client-1"
LIMIT_ORDER = PlaceOrder(
    "A1", "SIM-0001", "TXFL6", Side.BUY, 1, OrderType.LIMIT, price=Decimal(23_000)
)


def request_frame(body: object, request_id: object = "r1", **changes: object) -> bytes:
    data: dict[Any, Any] = msgpack.unpackb(encode(Request("r1", body)))
    data["request_id"] = request_id
    for name, value in changes.items():  # a dict changes fields of a nested message
        if isinstance(value, dict):
            data["body"][name].update(value)
        else:
            data["body"][name] = value
    return bytes(msgpack.packb(data, use_bin_type=True))


@pytest.mark.parametrize(
    ("body", "changes", "field"),
    [
        (LIMIT_ORDER, {"price": "NaN"}, "price"),
        (LIMIT_ORDER, {"price": "Infinity"}, "price"),
        (LIMIT_ORDER, {"price": 23000.5}, "price"),
        (LIMIT_ORDER, {"price": 23000.0}, "price"),
        (LIMIT_ORDER, {"quantity": 1.0}, "quantity"),
        (LIMIT_ORDER, {"quantity": "1"}, "quantity"),
        (LIMIT_ORDER, {"side": "hold"}, "side"),
        (AddCondition(a_condition()), {"condition": {"quantity": 0}}, "quantity"),
    ],
)
def test_a_field_out_of_shape_is_answered_invalid_naming_it(
    body: object, changes: dict[str, object], field: str
) -> None:
    frame = request_frame(body, **changes)

    with pytest.raises(InvalidRequest) as refused:
        read_request([IDENTITY, frame])

    assert refused.value.field == field
    identity, payload = refused.value.frames
    reply = decode(payload)
    assert identity == IDENTITY
    assert isinstance(reply, Reply)
    assert (reply.request_id, reply.ok, reply.error_code) == ("r1", False, ErrorCode.INVALID)
    assert f"field {field!r}" in reply.error
    assert len(reply.error) < 300


@pytest.mark.parametrize(
    "frame",
    [
        request_frame(LIMIT_ORDER, request_id=None, price="NaN"),  # no id to answer
        request_frame(LIMIT_ORDER, request_id="r" * 300, price="NaN"),  # an id too long to echo
        request_frame(LIMIT_ORDER, request_id="r\n1", price="NaN"),
        b"\xc1 not msgpack",
        encode(Reply("r1", ok=True)),  # sound, but no request
    ],
)
def test_anything_else_stays_a_dropped_frame(frame: bytes) -> None:
    with pytest.raises(DecodeError) as dropped:
        read_request([IDENTITY, frame])

    assert not isinstance(dropped.value, InvalidRequest)


def test_a_sound_request_reads_as_before() -> None:
    assert read_request([IDENTITY, encode(Request("r1", LIMIT_ORDER))]) == (
        IDENTITY,
        Request("r1", LIMIT_ORDER),
    )
