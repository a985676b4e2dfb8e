"""Hostile frames for the wire fuzzer (fuzz_wire.py): what a peer on the same host could send.

`FrameMaker(seed, target).make()` returns one generated message, as (kind, parts): random bytes,
truncations and byte mutations of valid frames, wrong part counts, nesting far deeper than any
message, unknown type tags and versions, absurd field values (zero, negative, 2^63, 2^64 - 1,
NaN and infinite floats, float prices, long and non-ASCII ids), huge frames near the 4 MiB cap,
and valid requests. The valid frames it starts from are built from every registered type's own
field hints, so a new message type is fuzzed without a change here. Seeded: a run repeats.

`is_harmful(parts, target, may_send)` says whether a message decodes as one that could change
the broker or a service's settings (an order, a condition, a mode, a login, a valid signal):
the fuzzer sends those only under a role that must be refused (`forbidden_message`), so a
correct system places no order at all.
"""

from __future__ import annotations

import dataclasses
import random
import typing
from decimal import Decimal
from enum import StrEnum

import msgpack

from aftm.domain.limits import check_signal
from aftm.domain.orders import PlaceOrder
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm.errors import DecodeError, InvalidInput
from aftm.security.roles import ACCESS, BoundSocket, Role
from aftm.wire import protocol as p
from aftm.wire.codec import MAX_FRAME_BYTES, MAX_NESTING, REGISTRY, decode, encode

# Requests that place, cancel or flatten orders, or change what a service trades on or with.
STATE_CHANGING: frozenset[type] = frozenset(
    {
        PlaceOrder,
        p.CancelOrder,
        p.ManualOrder,
        p.Flatten,
        p.SetTradingMode,
        p.SelectAccount,
        p.AddCondition,
        p.RemoveCondition,
        p.Login,
        p.Logout,
        p.Reconcile,
        p.RegisterItem,
        p.UnregisterItem,
    }
)
REQUEST_BODIES = frozenset(
    body for roles in ACCESS.values() for bodies in roles.values() for body in bodies
) - {Signal}

INTS = (0, 1, 2, 3, 10, 100, 17_500, 1_764_633_600_000_000_000)
TEXTS = ("TXFL6", "MXFL6", "TMFA7", "c1", "o1", "SIM-0001", "r1", "buy", "")
DECIMALS = (Decimal(17_500), Decimal(1), Decimal("17500.5"))
ABSURD: tuple[object, ...] = (
    0, -1, -(2**63), 2**63 - 1, 2**63, 2**64 - 1,  # 2^64 itself has no msgpack form
    float("nan"), float("inf"), float("-inf"), 1.5, 17_500.0, float(2**64),
    "NaN", "Infinity", "-Infinity", "1E+999999", "17500.5", "-0", "1" * 64,
    "x" * 1_000, "委託單" * 300, "\x00\x1b[31m\r\n", "\u202eevil", "😀" * 200, "TXF\nL6",
    b"\xff\xfe", None, True, [], {}, [[[[]]]], {"t": "tick"}, msgpack.ExtType(1, b"x"),
)  # fmt: skip
BAD_TAGS: tuple[object, ...] = ("tock", "", "Request", "place_order ", 1, None, True, b"tick")
BAD_VERSIONS: tuple[object, ...] = (0, 2, -1, 2**63 - 1, 2**64 - 1, "1", 1.0, None, True)
DEPTHS = (MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 100, 900, 5_000)
HUGE_EVERY = 2_000  # one frame in this many is near 4 MiB: enough to test, not to be all
_REQUEST_HEAD = bytes(msgpack.packb({"t": "request", "v": 1, "request_id": "r", "body": None}))[:-1]
_KINDS = ("random", "truncated", "mutated", "parts", "deep", "tag", "version", "absurd", "valid")
_WEIGHTS = (10, 15, 25, 8, 5, 5, 5, 20, 7)


def _bodies(target: BoundSocket) -> tuple[type, ...]:
    """The request bodies some role may send to `target`, then every other one."""
    own = {body for bodies in ACCESS[target].values() for body in bodies} - {Signal}
    ordered = sorted(own, key=lambda cls: cls.__name__)
    ordered += sorted(REQUEST_BODIES - own, key=lambda cls: cls.__name__)
    return tuple(ordered)


class FrameMaker:
    def __init__(self, seed: int, target: BoundSocket) -> None:
        self.rng = random.Random(seed)
        self.target = target
        self.made = 0
        every = [self.sample(cls) for cls in REGISTRY.types for _ in range(3)]
        requests = [
            p.Request(request_id=f"fz{n}", body=self.sample(body))
            for n, body in enumerate(_bodies(target) * 4)
        ]
        signals = [self.sample(Signal) for _ in range(20)] + [_a_valid_signal(n) for n in range(20)]
        templates = signals if target is BoundSocket.EXECUTOR_PULL else requests
        self.templates: list[dict[str, object]] = [msgpack.unpackb(encode(m)) for m in templates]
        self.valid: list[bytes] = [encode(m) for m in [*templates, *templates, *every]]

    def make(self) -> tuple[str, list[bytes]]:
        """The next hostile message: (its generator's name, its parts)."""
        self.made += 1
        if self.made % HUGE_EVERY == 0:
            return "huge", [self._huge()]
        if self.target is BoundSocket.GATEWAY_PUB and self.rng.random() < 0.5:
            return "subscription", [self._subscription()]
        kind = self.rng.choices(_KINDS, _WEIGHTS)[0]
        if kind == "parts":
            count = self.rng.randint(0, 5)
            if count == 1:
                count = 2
            # ZMTP has no message of zero parts; one empty part is the nearest there is.
            return "parts", [self._one(self.rng.choice(_KINDS[:4])) for _ in range(count)] or [b""]
        return kind, [self._one(kind)]

    def _one(self, kind: str) -> bytes:
        rng = self.rng
        frame = rng.choice(self.valid)
        if kind == "random":
            return rng.randbytes(rng.choice((0, 1, 2, 8, 40, 300, 3_000)))
        if kind == "truncated":
            return frame[: rng.randrange(len(frame))]
        if kind == "mutated":
            return self._mutated(frame)
        if kind == "deep":
            around = _REQUEST_HEAD if rng.random() < 0.7 else b"\x91"
            return around * rng.choice(DEPTHS) + frame
        data = dict(rng.choice(self.templates))
        if kind == "tag":
            data["t"] = rng.choice(BAD_TAGS)
        elif kind == "version":
            data["v"] = rng.choice(BAD_VERSIONS)
        elif kind == "absurd":
            _replace_a_leaf(data, rng, rng.choice(ABSURD))
        return bytes(msgpack.packb(data, use_bin_type=True))

    def _mutated(self, frame: bytes) -> bytes:
        rng = self.rng
        data = bytearray(frame)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            how = rng.random()
            if how < 0.6 and at < len(data):
                data[at] = rng.randrange(256)
            elif how < 0.8:
                data[at:at] = rng.randbytes(rng.randint(1, 4))
            else:
                del data[at : at + rng.randint(1, 4)]
        return bytes(data)

    def _subscription(self) -> bytes:
        """A subscribe (1) or unsubscribe (0) from an XSUB, or a message a PUB ignores; topics
        are short, so that a storm tests the PUB's handling rather than filling its memory."""
        rng = self.rng
        topic = rng.choice((b"", b"tick:", b"order:", b"fill:", b"heartbeat")) + rng.randbytes(
            rng.randint(0, 8)
        )
        return bytes([rng.choice((0, 1, 1, 2))]) + topic

    def _huge(self) -> bytes:
        """A request whose id or body text fills the frame: just under the cap (refused by the
        codec's id check) or just over it (refused by libzmq's MAXMSGSIZE, which drops the peer)."""
        size = MAX_FRAME_BYTES - 200 if self.rng.random() < 0.8 else MAX_FRAME_BYTES + 8_192
        data = dict(self.rng.choice(self.templates))
        text = "A" * size
        if self.rng.random() < 0.5 and "request_id" in data:
            data["request_id"] = text
        else:
            _replace_a_leaf(data, self.rng, text)
        return bytes(msgpack.packb(data, use_bin_type=True))

    def sample(self, cls: type, depth: int = 0) -> object:
        """An instance of the registered type `cls` with plausible field values."""
        hints = typing.get_type_hints(cls)
        for _ in range(20):
            values = {f.name: self._value(hints[f.name], depth) for f in dataclasses.fields(cls)}
            try:
                return cls(**values)
            except InvalidInput:  # a type that checks its own fields: draw again
                continue
        raise RuntimeError(f"no valid {cls.__name__} drawn")

    def _value(self, hint: object, depth: int) -> object:
        rng = self.rng
        if hint is int:
            return rng.choice(INTS)
        if hint is str:
            return rng.choice(TEXTS)
        if hint is bool:
            return rng.random() < 0.5
        if hint is Decimal:
            return rng.choice(DECIMALS)
        if isinstance(hint, type) and issubclass(hint, StrEnum):
            return rng.choice(list(hint))
        if hint is object:
            return self.sample(rng.choice(_bodies(self.target)), depth + 1)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.sample(hint, depth + 1)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple:
            return tuple(self._value(args[0], depth) for _ in range(rng.randint(0, 2)))
        if rng.random() < 0.3:
            return None
        return self._value(next(arg for arg in args if arg is not type(None)), depth)


def _a_valid_signal(n: int, condition: str = "") -> Signal:
    kind = list(SignalKind)[n % 3]
    condition = condition or f"fz{n}"
    side = Side.BUY if n % 2 else Side.SELL
    return Signal(
        signal_id(condition, kind), condition, "TXFL6", side, kind, 1, 17_500, 2 * 10**18
    )  # 2033


def _replace_a_leaf(data: dict[str, object], rng: random.Random, value: object) -> None:
    """Set one field other than the tag and version, in `data` or in its body, to `value`."""
    body = data.get("body")
    if isinstance(body, dict) and len(body) > 2 and rng.random() < 0.8:
        body = dict(body)
        data["body"] = body
        data = body
    names = [name for name in data if name not in ("t", "v")]
    if names:
        data[rng.choice(names)] = value


def is_harmful(parts: list[bytes], target: BoundSocket, may_send: frozenset[type] | None) -> bool:
    """Whether this message, arriving whole, could change the broker or a service's settings:
    a request with a state-changing body (inside any Request nesting) that the sender may send
    (`may_send`; None: any), or a signal the executor would act on."""
    if len(parts) != 1:
        return False
    try:
        message = decode(parts[0])
    except DecodeError:
        return False
    if isinstance(message, Signal):
        try:
            check_signal(message)
        except InvalidInput:
            return False  # the executor refuses it: that refusal is what is under test
        return target is BoundSocket.EXECUTOR_PULL
    while isinstance(message, p.Request):
        body = type(message.body)
        if body in STATE_CHANGING and (may_send is None or body in may_send):
            return True
        message = message.body
    return False


def forbidden_bodies(target: BoundSocket, role: Role | None) -> tuple[type, ...]:
    """What `role` (None: a peer without a key) may not send to `target` although another role
    may, and that would change something: order-changing requests, or a signal at the PULL."""
    others = {body for bodies in ACCESS[target].values() for body in bodies}
    mine = ACCESS[target].get(role, frozenset()) if role is not None else frozenset()
    return tuple(
        sorted((others - mine) & (STATE_CHANGING | {Signal}), key=lambda cls: cls.__name__)
    )


def forbidden_message(maker: FrameMaker, role: Role | None, name: str) -> bytes:
    """A valid message that `role` must be refused at the maker's socket: a PlaceOrder from the
    console at the gateway, an AddCondition from the executor at the strategy, a signal from
    anyone but the strategy. `name` is its request id (or its signal's condition id), so that
    its reply can be told apart."""
    body = maker.rng.choice(forbidden_bodies(maker.target, role))
    if body is Signal:
        return encode(_a_valid_signal(0, condition=name))
    return encode(p.Request(request_id=name, body=maker.sample(body)))
