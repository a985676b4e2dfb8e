"""The one wire format: versioned msgpack maps with an explicit registry of message types.

A frame is a msgpack map holding a type tag, a schema version and every field of the message:

    {"t": "tick", "v": 1, "symbol": "TXF", "price": 17500, "qty": 1, "ts_ns": ..., "seq": 7}

Ints, text and booleans travel as themselves, enums as their string value, Decimals as their
canonical text (never a float, so a price stays exact) and an absent optional as nil.

Decoding trusts nothing: whatever the bytes, `decode` returns a registered message or raises
`DecodeError`, so a service can count and drop a bad frame instead of crashing on it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import msgpack

from aftm.domain.conditions import Condition
from aftm.domain.limits import INT64_MAX, INT64_MIN, check_id
from aftm.domain.market import Tick
from aftm.domain.orders import OrderAccepted, OrderFilled, OrderRejected, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.signals import Signal
from aftm.errors import DecodeError, InvalidInput
from aftm.wire import protocol as p

# The largest legitimate frame is a list reply (every condition or order the console asks
# for, ~100 bytes each); the caps bound what a hostile frame can make the unpacker allocate.
MAX_FRAME_BYTES = 4 * 1024 * 1024
_MAX_CONTAINER_LEN = 100_000
# Longer text is no price; refusing it keeps Decimal parsing cheap.
MAX_DECIMAL_TEXT = 64
# Maps and arrays inside one another. The deepest legitimate frame is a list reply of records
# that hold a nested message: Reply > TradeList > trades[] > TradeView > orders[] > TradeOrder,
# 6 levels; 2 spare let a schema grow a level without a codec change. Building a message
# recurses once per level, so a deeper frame is refused before the build, not by a
# RecursionError inside it.
MAX_NESTING = 8
_TAG = "t"
_VERSION = "v"

Convert = Callable[[object], object]


class _Mismatch(Exception):
    """A value does not fit its field; callers turn it into TypeError or DecodeError."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _unpack(frame: bytes) -> dict[str | bytes, object]:
    """The msgpack map in `frame`, within the size limits; DecodeError for anything else."""
    if len(frame) > MAX_FRAME_BYTES:
        raise DecodeError(f"frame is {len(frame)} bytes, over the {MAX_FRAME_BYTES} limit")
    try:
        data = msgpack.unpackb(
            frame,
            raw=False,
            strict_map_key=True,
            use_list=False,
            max_str_len=MAX_FRAME_BYTES,
            max_bin_len=MAX_FRAME_BYTES,
            max_ext_len=MAX_FRAME_BYTES,
            max_array_len=_MAX_CONTAINER_LEN,
            max_map_len=_MAX_CONTAINER_LEN,
        )
    # msgpack documents that "other exceptions can be raised" on bad input beyond its own,
    # and the promise here is that only DecodeError leaves this function.
    except Exception as error:
        raise DecodeError(f"not one msgpack value: {type(error).__name__}: {error}") from error
    if type(data) is not dict:
        raise DecodeError(f"frame is a msgpack {type(data).__name__}, not a map")
    _check_nesting(data)
    return data


def _check_nesting(data: dict[str | bytes, object]) -> None:
    """DecodeError if maps and arrays nest deeper than MAX_NESTING; iterative, so that no
    depth of input can exhaust the interpreter's stack here either."""
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if type(value) is dict else typing.cast(tuple[object], value)
        for child in children:
            if type(child) is dict or type(child) is tuple:
                if depth >= MAX_NESTING:
                    raise DecodeError(f"frame nests deeper than {MAX_NESTING} maps and arrays")
                pending.append((child, depth + 1))


def _int64(value: object) -> object:
    """An int that SQLite and every peer's msgpack can hold: signed 64 bits, not a bool."""
    if type(value) is not int:
        raise _Mismatch(f"expected int, got {type(value).__name__} {_show(value)}")
    if not INT64_MIN <= value <= INT64_MAX:
        shown = _show(value) if value.bit_length() <= 128 else "an int of over 128 bits"
        raise _Mismatch(f"{shown} is outside signed 64 bits")  # repr of a vast int is refused
    return value


def _exact(kind: type) -> tuple[Convert, Convert]:
    # `type(...) is` rather than isinstance: bool is an int subclass and must not pass for one.
    def check(value: object) -> object:
        if type(value) is not kind:
            raise _Mismatch(f"expected {kind.__name__}, got {type(value).__name__} {_show(value)}")
        return value

    return check, check


def _enum(kind: type[StrEnum]) -> tuple[Convert, Convert]:
    members = {member.value: member for member in kind}

    def to_wire(value: object) -> object:
        if type(value) is not kind:
            raise _Mismatch(f"expected {kind.__name__}, got {_show(value)}")
        return value.value

    def from_wire(value: object) -> object:
        member = members.get(value) if type(value) is str else None
        if member is None:
            raise _Mismatch(f"{_show(value)} is not a {kind.__name__} ({', '.join(members)})")
        return member

    return to_wire, from_wire


def _decimal_to_wire(value: object) -> object:
    if type(value) is not Decimal or not value.is_finite():
        raise _Mismatch(f"expected a finite Decimal, got {_show(value)}")
    text = str(value)
    if len(text) > MAX_DECIMAL_TEXT:
        raise _Mismatch(f"decimal text is longer than {MAX_DECIMAL_TEXT} characters")
    return text


def _decimal_from_wire(value: object) -> object:
    if type(value) is not str or len(value) > MAX_DECIMAL_TEXT:
        raise _Mismatch(f"expected decimal text, got {_show(value)}")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise _Mismatch(f"{_show(value)} is not decimal text") from None
    # Only the text the encoder writes is accepted: no NaN, no spaces, no "1_000".
    if not number.is_finite() or str(number) != value:
        raise _Mismatch(f"{_show(value)} is not canonical finite decimal text")
    return number


def _optional(inner: tuple[Convert, Convert]) -> tuple[Convert, Convert]:
    to_inner, from_inner = inner

    def to_wire(value: object) -> object:
        return None if value is None else to_inner(value)

    def from_wire(value: object) -> object:
        return None if value is None else from_inner(value)

    return to_wire, from_wire


def _tuple(inner: tuple[Convert, Convert]) -> tuple[Convert, Convert]:
    to_inner, from_inner = inner

    def to_wire(value: object) -> object:
        if type(value) is not tuple:
            raise _Mismatch(f"expected a tuple, got {_show(value)}")
        return [to_inner(item) for item in value]

    def from_wire(value: object) -> object:
        if type(value) is not tuple:  # unpacked with use_list=False
            raise _Mismatch(f"expected an array, got {_show(value)}")
        return tuple(from_inner(item) for item in value)

    return to_wire, from_wire


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    cls: type
    name: str
    version: int
    fields: tuple[tuple[str, Convert, Convert], ...]


class Registry:
    """The message types a codec knows, each with its wire name and current schema version.

    Converters are built once at registration, so encoding and decoding a message costs a
    dictionary lookup and one small function call per field.
    """

    def __init__(self) -> None:
        self._by_class: dict[type, _Spec] = {}
        self._by_name: dict[str, _Spec] = {}

    @property
    def types(self) -> tuple[type, ...]:
        return tuple(self._by_class)

    def register(self, cls: type, name: str, version: int) -> None:
        """Carry `cls` (a dataclass of wire-friendly fields) under `name` at schema `version`.

        Raise TypeError for a class the format cannot carry and ValueError for a clash.
        """
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        if not name or name in self._by_name:
            raise ValueError(f"wire name {name!r} is empty or already registered")
        if cls in self._by_class:
            raise ValueError(f"{cls.__name__} is already registered")
        if type(version) is not int or version < 1:
            raise ValueError(f"version must be a positive integer, got {version!r}")
        hints = typing.get_type_hints(cls)
        fields = []
        for field in dataclasses.fields(cls):
            if field.name in (_TAG, _VERSION) or not field.init:
                raise ValueError(f"{cls.__name__}.{field.name} cannot travel in a frame")
            fields.append((field.name, *self._converters(hints[field.name])))
        spec = _Spec(cls, name, version, tuple(fields))
        self._by_class[cls] = spec
        self._by_name[name] = spec

    def _converters(self, hint: object) -> tuple[Convert, Convert]:
        if hint is int:
            return _int64, _int64
        if hint in (str, bool):
            return _exact(typing.cast(type, hint))
        if hint is Decimal:
            return _decimal_to_wire, _decimal_from_wire
        if isinstance(hint, type) and issubclass(hint, StrEnum):
            return _enum(hint)
        if hint is object:  # any registered message, carried as a nested tagged map
            return self._nested(None)
        if isinstance(hint, type) and hint in self._by_class:
            return self._nested(hint)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return _tuple(self._converters(args[0]))
        if origin in (typing.Union, types.UnionType):
            options = [arg for arg in args if arg is not type(None)]
            if len(options) == 1 and len(args) == 2:
                return _optional(self._converters(options[0]))
        raise TypeError(f"the wire format cannot carry fields of type {hint!r}")

    def _nested(self, expected: type | None) -> tuple[Convert, Convert]:
        """A message inside a message; `expected` None admits any registered type."""

        def to_wire(value: object) -> object:
            if expected is not None and type(value) is not expected:
                raise _Mismatch(f"expected {expected.__name__}, got {_show(value)}")
            return self._to_map(value)

        def from_wire(value: object) -> object:
            if type(value) is not dict:
                raise _Mismatch(f"expected a nested message, got {_show(value)}")
            message = self._build(value)
            if expected is not None and type(message) is not expected:
                raise _Mismatch(f"expected {expected.__name__}, got {type(message).__name__}")
            return message

        return to_wire, from_wire

    def _to_map(self, message: object) -> dict[str, object]:
        spec = self._by_class.get(type(message))
        if spec is None:
            raise TypeError(f"{type(message).__name__} is not a registered message type")
        frame: dict[str, object] = {_TAG: spec.name, _VERSION: spec.version}
        for name, to_wire, _ in spec.fields:
            try:
                frame[name] = to_wire(getattr(message, name))
            except _Mismatch as error:
                raise TypeError(f"{spec.name} field {name!r}: {error}") from None
        return frame

    def encode(self, message: object) -> bytes:
        """Frame a registered message; TypeError for anything else or a wrongly typed field."""
        frame = self._to_map(message)
        packed = msgpack.packb(frame, use_bin_type=True)
        if len(packed) > MAX_FRAME_BYTES:
            raise ValueError(f"{frame[_TAG]} frame is {len(packed)} bytes, over {MAX_FRAME_BYTES}")
        return packed

    def decode(self, frame: bytes) -> object:
        """Rebuild the message in `frame`, or raise DecodeError saying what is wrong with it."""
        return self._build(_unpack(frame))

    def request_id_of(self, frame: bytes) -> str | None:
        """The request id of a request frame whose body may not decode, so that the request
        can still be answered; None if the frame holds no request id in the shared id shape."""
        try:
            data = _unpack(frame)
        except DecodeError:
            return None
        spec = self._by_class.get(p.Request)
        if spec is None or data.get(_TAG) != spec.name:
            return None
        request_id = data.get("request_id")
        try:
            return check_id(request_id, "request_id")
        except InvalidInput:
            return None

    def _build(self, data: dict[str | bytes, object]) -> object:
        tag = data.get(_TAG)
        spec = self._by_name.get(tag) if type(tag) is str else None
        if spec is None:
            raise DecodeError(f"unknown type tag {_show(tag)}")
        version = data.get(_VERSION)
        if type(version) is not int:
            raise DecodeError(f"{spec.name} frame has no integer version: {_show(version)}")
        if version > spec.version:
            raise DecodeError(
                f"{spec.name} frame has future version {version}; this build reads {spec.version}"
            )
        if version != spec.version:
            raise DecodeError(f"{spec.name} version {version} is not read; expected {spec.version}")
        if len(data) != len(spec.fields) + 2:
            known = {_TAG, _VERSION, *(name for name, _, _ in spec.fields)}
            extra = sorted(_show(key) for key in data if key not in known)
            if extra:
                raise DecodeError(f"{spec.name} frame has extra fields: {', '.join(extra)}")
        values: dict[str, object] = {}
        for name, _, from_wire in spec.fields:
            if name not in data:
                raise DecodeError(f"{spec.name} frame is missing field {name!r}")
            try:
                values[name] = from_wire(data[name])
            except _Mismatch as error:
                raise DecodeError(f"{spec.name} field {name!r}: {error}", field=name) from None
        try:
            return spec.cls(**values)
        except InvalidInput as error:
            message = f"{spec.name} frame is not a valid {spec.name}: {error}"
            raise DecodeError(message, field=error.field) from error


# Nested types first: a field can only name a class the registry already knows.
_WIRE_NAMES: tuple[tuple[type, str], ...] = (
    (Tick, "tick"),
    (Signal, "signal"),
    (Condition, "condition"),
    (PlaceOrder, "place_order"),
    (OrderAccepted, "order_accepted"),
    (OrderRejected, "order_rejected"),
    (OrderFilled, "order_filled"),
    (Position, "position"),
    (p.Request, "request"),
    (p.Reply, "reply"),
    (p.Login, "login"),
    (p.Logout, "logout"),
    (p.CancelOrder, "cancel_order"),
    (p.QueryOrder, "query_order"),
    (p.ListOrders, "list_orders"),
    (p.ListPositions, "list_positions"),
    (p.ListAccounts, "list_accounts"),
    (p.RegisterItem, "register_item"),
    (p.UnregisterItem, "unregister_item"),
    (p.ListFutures, "list_futures"),
    (p.GetHealth, "get_health"),
    (p.ListFills, "list_fills"),
    (p.FillList, "fill_list"),
    (p.OrderSnapshot, "order_snapshot"),
    (p.OrderList, "order_list"),
    (p.PositionList, "position_list"),
    (p.AccountList, "account_list"),
    (p.Future, "future"),
    (p.FutureList, "future_list"),
    (p.GatewayHealth, "gateway_health"),
    (p.OrderUpdated, "order_updated"),
    (p.GatewayHeartbeat, "gateway_heartbeat"),
    (p.GetMarketSession, "get_market_session"),
    (p.ProductSession, "product_session"),
    (p.MarketSession, "market_session"),
    (p.AddCondition, "add_condition"),
    (p.RemoveCondition, "remove_condition"),
    (p.ListConditions, "list_conditions"),
    (p.ConditionList, "condition_list"),
    (p.ListSignals, "list_signals"),
    (p.SignalList, "signal_list"),
    (p.ListSignalIds, "list_signal_ids"),
    (p.SignalIdList, "signal_id_list"),
    (p.GetSignals, "get_signals"),
    (p.GetShard, "get_shard"),
    (p.ShardInfo, "shard_info"),
    (p.SelectAccount, "select_account"),
    (p.SetTradingMode, "set_trading_mode"),
    (p.GetExecutorStatus, "get_executor_status"),
    (p.PositionCheck, "position_check"),
    (p.Reconciliation, "reconciliation"),
    (p.Reconcile, "reconcile"),
    (p.GetReconciliation, "get_reconciliation"),
    (p.ExecutorStatus, "executor_status"),
    (p.ManualOrder, "manual_order"),
    (p.Flatten, "flatten"),
    (p.ListTrades, "list_trades"),
    (p.TradeOrder, "trade_order"),
    (p.TradeView, "trade_view"),
    (p.TradeList, "trade_list"),
)


def _default_registry() -> Registry:
    registry = Registry()
    for cls, name in _WIRE_NAMES:
        registry.register(cls, name, 1)
    return registry


REGISTRY = _default_registry()


def encode(message: object) -> bytes:
    """Frame `message` with the default registry."""
    return REGISTRY.encode(message)


def decode(frame: bytes) -> object:
    """Decode `frame` with the default registry; DecodeError for anything not a valid message."""
    return REGISTRY.decode(frame)


def request_id_of(frame: bytes) -> str | None:
    """See Registry.request_id_of."""
    return REGISTRY.request_id_of(frame)
