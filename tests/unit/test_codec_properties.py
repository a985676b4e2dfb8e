"""The codec's promise, driven by hypothesis over every registered type: a valid message round
trips exactly, and whatever bytes arrive (random, truncated, mutated, spliced, nested deep)
`decode` returns a registered message or raises DecodeError, never anything else.

Messages are built from each type's own field hints, so a type added to the registry is covered
here without a new strategy.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from decimal import Decimal
from enum import StrEnum

import msgpack
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from aftm.domain.limits import INT64_MAX, INT64_MIN
from aftm.errors import DecodeError, InvalidInput
from aftm.wire.codec import MAX_DECIMAL_TEXT, MAX_NESTING, REGISTRY, decode, encode

TYPES = sorted(REGISTRY.types, key=lambda cls: cls.__name__)
# Request and Reply carry any message in `body`; past this depth only types without such a
# field are drawn, so a drawn message always ends.
_MAX_BODY_DEPTH = 2
PER_TYPE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INTS = (
    st.integers(INT64_MIN, INT64_MAX)
    | st.integers(0, 200)
    | st.sampled_from([INT64_MIN, INT64_MAX, 0, -1, 1])
)
TEXTS = st.text(max_size=30) | st.from_regex(r"[A-Za-z0-9._:-]{1,20}", fullmatch=True)
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False).filter(
    lambda number: len(str(number)) <= MAX_DECIMAL_TEXT
)

# Anything msgpack can carry, for replacing a field's value.
WIRE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=70)
    | st.binary(max_size=10)
    | st.sampled_from(["buy", "limit", "1.5", "NaN", "Infinity", "request", "tick", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _has_body(cls: type) -> bool:
    return object in typing.get_type_hints(cls).values() or any(
        object in typing.get_args(hint) for hint in typing.get_type_hints(cls).values()
    )


def _values(hint: object, depth: int) -> st.SearchStrategy[object]:
    if hint is int:
        return INTS
    if hint is str:
        return TEXTS
    if hint is bool:
        return st.booleans()
    if hint is Decimal:
        return DECIMALS
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return st.sampled_from(list(hint))
    if hint is object:
        bodies = [cls for cls in TYPES if depth < _MAX_BODY_DEPTH or not _has_body(cls)]
        return st.one_of([messages(cls, depth + 1) for cls in bodies])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return messages(hint, depth + 1)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return st.lists(_values(args[0], depth), max_size=3).map(tuple)
    options = [arg for arg in args if arg is not type(None)]
    return st.none() | _values(options[0], depth)


@functools.cache
def messages(cls: type, depth: int = 0) -> st.SearchStrategy[object]:
    """Instances of the registered type `cls`, any field value its hints admit."""
    hints = typing.get_type_hints(cls)
    fields = {field.name: _values(hints[field.name], depth) for field in dataclasses.fields(cls)}
    return st.deferred(lambda: st.fixed_dictionaries(fields).map(functools.partial(_build, cls)))


def _build(cls: type, values: dict[str, object]) -> object:
    try:
        return cls(**values)
    except InvalidInput:  # a type that checks its own fields (Condition) refused the draw
        reject()


# The head of a Request map whose last key is its body: what follows it is the body's value.
REQUEST_AROUND = bytes(msgpack.packb({"t": "request", "v": 1, "request_id": "r", "body": None}))[
    :-1
]


@st.composite
def damaged(draw: st.DrawFn, frame: bytes) -> bytes:
    """`frame` truncated, with bytes overwritten, inserted or deleted, spliced onto another
    frame, with one key's value replaced, or wrapped in maps far deeper than any message."""
    how = draw(st.sampled_from(["cut", "overwrite", "insert", "delete", "splice", "value", "wrap"]))
    data = bytearray(frame)
    if how == "cut":
        return frame[: draw(st.integers(0, len(frame) - 1))]
    if how == "overwrite":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "insert":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=9))
    elif how == "delete":
        at = draw(st.integers(0, len(data) - 1))
        del data[at : at + draw(st.integers(1, 4))]
    elif how == "splice":
        other = encode(draw(messages(draw(st.sampled_from(TYPES)))))
        return frame[: draw(st.integers(0, len(frame)))] + other[draw(st.integers(0, len(other))) :]
    elif how == "value":
        unpacked: dict[str, object] = msgpack.unpackb(frame)
        unpacked[draw(st.sampled_from(sorted(unpacked)))] = draw(WIRE_VALUES)
        return bytes(msgpack.packb(unpacked, use_bin_type=True))
    else:
        # Byte by byte, as msgpack's packer refuses to nest past 511 and the unpacker's own
        # limit is ~1000: both sides of that, and both sides of MAX_NESTING.
        depth = draw(st.sampled_from([MAX_NESTING - 2, MAX_NESTING, 900, 5000]))
        return REQUEST_AROUND * depth + frame
    return bytes(data)


def assert_message_or_decode_error(frame: bytes) -> None:
    try:
        message = decode(frame)
    except DecodeError:
        return
    assert type(message) in REGISTRY.types
    assert decode(encode(message)) == message


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: cls.__name__)
@PER_TYPE
@given(data=st.data())
def test_every_valid_message_round_trips(cls: type, data: st.DataObject) -> None:
    message = data.draw(messages(cls))

    decoded = decode(encode(message))

    assert decoded == message
    assert repr(decoded) == repr(message)


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: cls.__name__)
@PER_TYPE
@given(data=st.data())
def test_a_damaged_frame_decodes_to_a_message_or_raises_decode_error(
    cls: type, data: st.DataObject
) -> None:
    frame = data.draw(damaged(encode(data.draw(messages(cls)))))

    assert_message_or_decode_error(frame)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_decode_to_a_message_or_raise_decode_error(frame: bytes) -> None:
    assert_message_or_decode_error(frame)


@settings(max_examples=300, deadline=None)
@given(WIRE_VALUES)
def test_any_msgpack_value_decodes_to_a_message_or_raises_decode_error(value: object) -> None:
    assert_message_or_decode_error(msgpack.packb(value, use_bin_type=True))
