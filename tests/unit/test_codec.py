"""The wire codec: every registered type round trips exactly; every bad frame is a DecodeError."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftm.domain.conditions import Condition, Stage
from aftm.domain.market import Tick
from aftm.domain.orders import OrderAccepted, OrderFilled, OrderRejected, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import OpenClose, OrderStatus, OrderType, Side, TimeInForce
from aftm.errors import DecodeError, InvalidInput
from aftm.wire import protocol as p
from aftm.wire.codec import (
    MAX_DECIMAL_TEXT,
    MAX_FRAME_BYTES,
    MAX_NESTING,
    REGISTRY,
    Registry,
    decode,
    encode,
)
from tests.builders import a_position_check, a_reconciliation, a_trade_order, a_trade_view

TICK = Tick(symbol="TXFL6", price=17500, qty=2, ts_ns=1_700_000_000_123_456_789, seq=42)
CONDITION = Condition(id="c1", symbol="TXFL6", action=Side.SELL, trigger_price=17500, quantity=1)
MARKET_ORDER = PlaceOrder(
    client_order_id="o1", account="acc", symbol="TXFL6", side=Side.BUY, quantity=1
)
FILL = OrderFilled(
    client_order_id="o1",
    broker_order_id="b1",
    fill_id="f1",
    symbol="TXFL6",
    side=Side.BUY,
    quantity=1,
    price=Decimal("17500.25"),
    ts_ns=5,
)

SAMPLES: list[object] = [
    TICK,
    Signal(
        id="c1:entry",
        condition_id="c1",
        symbol="TXFL6",
        side=Side.SELL,
        kind=SignalKind.ENTRY,
        quantity=1,
        price=17485,
        ts_ns=3,
    ),
    CONDITION,
    Condition(
        id="c2",
        symbol="MXFL6",
        action=Side.BUY,
        trigger_price=1,
        quantity=3,
        turning_point=0,
        is_following=True,
        stage=Stage.EXITED,
    ),
    MARKET_ORDER,
    PlaceOrder(
        client_order_id="o2",
        account="acc",
        symbol="TXFL6",
        side=Side.SELL,
        quantity=2,
        order_type=OrderType.LIMIT,
        price=Decimal("17500.25"),
        time_in_force=TimeInForce.ROD,
        open_close=OpenClose.CLOSE,
        ts_ns=-1,
    ),
    OrderAccepted(client_order_id="o1", broker_order_id="b1", ts_ns=4),
    OrderRejected(client_order_id="o1", reason="margin 不足", ts_ns=4),
    FILL,
    Position(account="acc", symbol="TXFL6", net_quantity=-3, average_price=Decimal("-0.000")),
]

SNAPSHOT = p.OrderSnapshot(
    client_order_id="o1",
    broker_order_id="b1",
    account="acc",
    symbol="TXFL6",
    side=Side.BUY,
    quantity=2,
    filled_quantity=1,
    average_price=None,
    status=OrderStatus.PARTIALLY_FILLED,
    reason="",
    ts_ns=9,
)
HEALTH = p.GatewayHealth(broker="sim", logged_in=True, last_broker_event_ns=7, ts_ns=8)
PROTOCOL_SAMPLES: list[object] = [
    p.Request(request_id="r1", body=MARKET_ORDER),
    p.Reply(request_id="r1", ok=True, body=p.OrderList(orders=(SNAPSHOT, SNAPSHOT))),
    p.Reply(request_id="r2", ok=False, error_code=p.ErrorCode.INVALID, error="unknown symbol"),
    p.Login(user="u", password="secret"),
    p.Logout(),
    p.CancelOrder(client_order_id="o1"),
    p.QueryOrder(client_order_id="o1"),
    p.ListOrders(),
    p.ListPositions(account="acc"),
    p.ListAccounts(),
    p.RegisterItem(symbol="TXFL6"),
    p.UnregisterItem(symbol="TXFL6"),
    p.ListFutures(),
    p.GetHealth(),
    SNAPSHOT,
    p.OrderList(orders=()),
    p.Future(symbol="MXFL6", name="mini", point_value_twd=50, last_price=2, registered=False),
    p.PositionList(positions=()),
    p.AccountList(accounts=("a", "b")),
    p.FutureList(
        futures=(
            p.Future(
                symbol="TXFL6", name="TAIEX", point_value_twd=200, last_price=1, registered=True
            ),
        )
    ),
    HEALTH,
    p.OrderUpdated(order=SNAPSHOT),
    p.GatewayHeartbeat(health=HEALTH),
    p.GetMarketSession(),
    p.ProductSession(product="TXF", phase="regular", next_open_ns=0, next_close_ns=1),
    p.MarketSession(
        calendar="taifex",
        products=(
            p.ProductSession(product="TXF", phase="closed", next_open_ns=2, next_close_ns=3),
        ),
        ts_ns=4,
    ),
    p.AddCondition(condition=CONDITION),
    p.RemoveCondition(condition_id="c1"),
    p.ListConditions(),
    p.ConditionList(conditions=(CONDITION,)),
    p.ListSignals(),
    p.SignalList(signals=()),
    p.ListSignalIds(after=3, limit=10),
    p.SignalIdList(ids=("c1:entry", "c1:exit"), last=7),
    p.GetSignals(ids=("c1:entry",)),
    p.GetShard(),
    p.ShardInfo(shard="s1", symbols=("TXFL6", "MXFL6")),
    p.SelectAccount(account="acc"),
    p.SetTradingMode(mode=p.TradingMode.REDUCING),
    p.GetExecutorStatus(),
    p.ExecutorStatus(
        account="acc",
        mode=p.TradingMode.ACTIVE,
        gateway_alive=False,
        signals_received=1,
        orders_sent=1,
        signals_rejected=0,
        positions=(
            Position(account="acc", symbol="TXFL6", net_quantity=1, average_price=Decimal(1)),
        ),
    ),
]
TRADE_ORDER = a_trade_order(leg="exit", attempt=2, average_price=Decimal("17510.5"))
TRADE_VIEW = a_trade_view(realised_points=Decimal("10.5"), orders=(TRADE_ORDER,))
PROTOCOL_SAMPLES += [
    p.ManualOrder(order_id="m-1", symbol="TXFL6", side=Side.BUY, quantity=1, account=""),
    p.Flatten(symbol="TXFL6"),
    p.ListTrades(open_only=True, limit=10),
    TRADE_ORDER,
    TRADE_VIEW,
    p.TradeList(trades=(TRADE_VIEW,)),
    p.ListFills(after=3, limit=10),
    p.FillList(fills=(FILL,), last=4, ledger="l1"),
    a_position_check(state=p.ReconcileState.DIFFERS, broker=0),
    a_reconciliation(),
    p.Reconcile(accept=True),
    p.GetReconciliation(),
]
SAMPLES += PROTOCOL_SAMPLES


def test_a_nested_field_refuses_the_wrong_message_type() -> None:
    frame = msgpack.unpackb(encode(p.OrderUpdated(order=SNAPSHOT)))
    frame["order"] = msgpack.unpackb(encode(TICK))

    with pytest.raises(DecodeError, match="expected OrderSnapshot"):
        decode(msgpack.packb(frame))


def test_a_tuple_field_refuses_a_non_array() -> None:
    frame = msgpack.unpackb(encode(p.AccountList(accounts=("a",))))
    frame["accounts"] = "a"

    with pytest.raises(DecodeError, match="expected an array"):
        decode(msgpack.packb(frame))


def test_samples_cover_every_registered_type() -> None:
    assert {type(sample) for sample in SAMPLES} == set(REGISTRY.types)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_registered_type_round_trips(message: object) -> None:
    decoded = decode(encode(message))

    assert decoded == message
    assert repr(decoded) == repr(message)  # Decimal exponents too, not just equal values


def test_frame_is_a_map_with_tag_version_and_every_field() -> None:
    assert msgpack.unpackb(encode(TICK)) == {
        "t": "tick",
        "v": 1,
        "symbol": "TXFL6",
        "price": 17500,
        "qty": 2,
        "ts_ns": 1_700_000_000_123_456_789,
        "seq": 42,
    }


def test_decimal_travels_as_exact_text() -> None:
    raw = msgpack.unpackb(encode(FILL))
    decoded = decode(encode(FILL))

    assert raw["price"] == "17500.25"
    assert raw["side"] == "buy"
    assert isinstance(decoded, OrderFilled)
    assert decoded.price == Decimal("17500.25")
    assert decoded.price.as_tuple() == Decimal("17500.25").as_tuple()


def test_absent_optional_travels_as_nil() -> None:
    assert msgpack.unpackb(encode(MARKET_ORDER))["price"] is None


DROP = object()


def frame_of(message: object, **changes: object) -> bytes:
    """`message`'s frame with fields replaced, added, or (with DROP) removed."""
    data: dict[Any, object] = msgpack.unpackb(encode(message))
    data.update(changes)
    return msgpack.packb({k: v for k, v in data.items() if v is not DROP}, use_bin_type=True)


def with_key(message: object, key: object, value: object) -> bytes:
    data: dict[Any, object] = msgpack.unpackb(encode(message))
    return msgpack.packb({**data, key: value}, use_bin_type=True)


MALFORMED = [
    pytest.param(frame_of(TICK, t="tock"), "unknown type tag 'tock'", id="unknown tag"),
    pytest.param(frame_of(TICK, t=1), "unknown type tag 1", id="tag not text"),
    pytest.param(frame_of(TICK, t=DROP), "unknown type tag None", id="no tag"),
    pytest.param(frame_of(TICK, v=2), "future version 2", id="future version"),
    pytest.param(frame_of(TICK, v=0), "version 0 is not read", id="old version"),
    pytest.param(frame_of(TICK, v=True), "no integer version", id="bool version"),
    pytest.param(frame_of(TICK, v="1"), "no integer version", id="text version"),
    pytest.param(frame_of(TICK, v=DROP), "no integer version", id="no version"),
    pytest.param(frame_of(TICK, price=DROP), "missing field 'price'", id="missing field"),
    pytest.param(frame_of(TICK, colour="red"), "extra fields: 'colour'", id="extra field"),
    pytest.param(with_key(TICK, b"seq", 1), r"extra fields: b'seq'", id="binary key"),
    pytest.param(frame_of(TICK, price="17500"), "'price': expected int", id="text for int"),
    pytest.param(frame_of(TICK, qty=True), "'qty': expected int, got bool", id="bool for int"),
    pytest.param(frame_of(TICK, price=17500.0), "expected int, got float", id="float for int"),
    pytest.param(frame_of(TICK, seq=None), "'seq': expected int", id="nil for int"),
    pytest.param(frame_of(TICK, symbol=7), "'symbol': expected str", id="int for text"),
    pytest.param(frame_of(TICK, symbol=b"TXF"), "expected str, got bytes", id="bytes for text"),
    pytest.param(frame_of(TICK, symbol=["TXF"]), "expected str, got tuple", id="list for text"),
    pytest.param(frame_of(TICK, symbol={"a": 1}), "expected str, got dict", id="map for text"),
    pytest.param(
        frame_of(CONDITION, is_following=1), "'is_following': expected bool", id="int for bool"
    ),
    pytest.param(frame_of(FILL, side="hold"), "'hold' is not a Side", id="bad enum"),
    pytest.param(frame_of(FILL, side="BUY"), "'BUY' is not a Side", id="enum name"),
    pytest.param(frame_of(FILL, side=0), "0 is not a Side", id="enum as int"),
    pytest.param(frame_of(FILL, price=17500.25), "expected decimal text", id="float decimal"),
    pytest.param(frame_of(FILL, price=17500), "expected decimal text", id="int decimal"),
    pytest.param(frame_of(FILL, price=None), "expected decimal text", id="nil decimal"),
    pytest.param(frame_of(FILL, price="abc"), "'abc' is not decimal text", id="bad decimal"),
    pytest.param(frame_of(FILL, price=""), "is not decimal text", id="empty decimal"),
    pytest.param(frame_of(FILL, price="NaN"), "not canonical finite", id="nan decimal"),
    pytest.param(frame_of(FILL, price="-Infinity"), "not canonical finite", id="inf decimal"),
    pytest.param(frame_of(FILL, price=" 1"), "not canonical", id="spaced decimal"),
    pytest.param(frame_of(FILL, price="1_000"), "not canonical", id="underscored decimal"),
    pytest.param(frame_of(FILL, price="1" * 65), "expected decimal text", id="long decimal"),
    pytest.param(frame_of(MARKET_ORDER, price=1.5), "expected decimal text", id="float optional"),
    pytest.param(frame_of(TICK, seq=msgpack.ExtType(5, b"x")), "got ExtType", id="ext value"),
    pytest.param(frame_of(TICK, seq=msgpack.Timestamp(1)), "got Timestamp", id="timestamp"),
    pytest.param(msgpack.packb([TICK.symbol, TICK.price]), "msgpack tuple, not a map", id="array"),
    pytest.param(msgpack.packb(17500), "msgpack int, not a map", id="int"),
    pytest.param(msgpack.packb("tick"), "msgpack str, not a map", id="str"),
    pytest.param(msgpack.packb(None), "msgpack NoneType, not a map", id="nil"),
    pytest.param(b"", "incomplete input", id="empty"),
    pytest.param(encode(TICK)[:-1], "incomplete input", id="truncated"),
    pytest.param(encode(TICK)[:1], "incomplete input", id="header only"),
    pytest.param(b"\xc1", "FormatError", id="reserved byte"),
    pytest.param(bytes(range(256)), "not one msgpack value", id="random bytes"),
    pytest.param(encode(TICK) + b"\x00", "ExtraData", id="trailing garbage"),
    pytest.param(encode(TICK) * 2, "ExtraData", id="two frames"),
    pytest.param(b"\x81\xa1t\xa2\xff\xfe", "UnicodeDecodeError", id="bad utf-8"),
    pytest.param(msgpack.packb({1: 2}), "not allowed for map key", id="int key"),
    pytest.param(b"\x91" * 10_000 + b"\xc0", "StackError", id="deeply nested"),
    pytest.param(b"\xdf\xff\xff\xff\xff", "exceeds max_map_len", id="huge map header"),
    pytest.param(b"\xdd\xff\xff\xff\xff", "exceeds max_array_len", id="huge array header"),
    pytest.param(b"\xdb\xff\xff\xff\xff", "not one msgpack value", id="huge str header"),
    pytest.param(
        frame_of(OrderRejected("o", "", 0), reason="x" * MAX_FRAME_BYTES),
        f"over the {MAX_FRAME_BYTES} limit",
        id="oversized frame",
    ),
]


@pytest.mark.parametrize(("frame", "message"), MALFORMED)
def test_malformed_frame_raises_decode_error(frame: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(frame)


def nested_requests(depth: int) -> dict[str, object]:
    """A Request whose body is a Request whose body is ... `depth` Requests around GetHealth."""
    frame: dict[str, object] = {"t": "get_health", "v": 1}
    for _ in range(depth):
        frame = {"t": "request", "v": 1, "request_id": "r", "body": frame}
    return frame


def nested_arrays(depth: int) -> object:
    value: object = "TXFL6"
    for _ in range(depth):
        value = [value]
    return value


def depth_of(value: object) -> int:
    """Maps and arrays nested in an unpacked frame (recursive: for small trusted samples)."""
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@pytest.mark.parametrize("depth", [MAX_NESTING, 500])  # msgpack packs no deeper than 511
def test_nesting_deeper_than_the_limit_is_refused_before_building(depth: int) -> None:
    frame = msgpack.packb(nested_requests(depth))

    with pytest.raises(DecodeError, match=f"nests deeper than {MAX_NESTING}"):
        decode(frame)


def test_nesting_up_to_the_limit_reaches_the_typed_build() -> None:
    # The tick map is level 1, so the symbol's arrays may nest MAX_NESTING - 1 deep.
    at_limit = frame_of(TICK, symbol=nested_arrays(MAX_NESTING - 1))
    over_limit = frame_of(TICK, symbol=nested_arrays(MAX_NESTING))

    with pytest.raises(DecodeError, match="'symbol': expected str"):
        decode(at_limit)
    with pytest.raises(DecodeError, match="nests deeper"):
        decode(over_limit)


def test_the_deepest_legitimate_message_fits_the_nesting_limit() -> None:
    deepest = p.Reply(request_id="r1", ok=True, body=p.TradeList(trades=(TRADE_VIEW,)))
    frames = [encode(sample) for sample in [*SAMPLES, deepest]]

    assert max(depth_of(msgpack.unpackb(frame)) for frame in frames) == 6
    assert MAX_NESTING > 6
    assert decode(encode(deepest)) == deepest


@pytest.mark.parametrize("field", ["qty", "ts_ns", "seq", "price"])
@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_an_int_field_beyond_signed_64_bits_is_refused_naming_the_field(
    field: str, value: int
) -> None:
    with pytest.raises(DecodeError, match=rf"'{field}': .* outside signed 64 bits") as caught:
        decode(frame_of(TICK, **{field: value}))

    assert caught.value.field == field


@pytest.mark.parametrize("value", [-(2**63), 2**63 - 1])
def test_an_int_field_holds_every_signed_64_bit_value(value: int) -> None:
    tick = Tick(symbol="TXFL6", price=value, qty=value, ts_ns=value, seq=value)

    assert decode(encode(tick)) == tick


@pytest.mark.parametrize(
    "value", [2**63, -(2**63) - 1, 2**64, 10**5000], ids=["2^63", "-2^63-1", "2^64", "10^5000"]
)
def test_encoding_an_int_beyond_signed_64_bits_raises_type_error(value: int) -> None:
    with pytest.raises(TypeError, match=r"'qty': .* outside signed 64 bits"):
        encode(Tick(symbol="TXFL6", price=1, qty=value, ts_ns=0))


def test_invalid_domain_value_raises_decode_error_caused_by_invalid_input() -> None:
    with pytest.raises(DecodeError, match="quantity") as caught:
        decode(frame_of(CONDITION, quantity=0))

    assert isinstance(caught.value.__cause__, InvalidInput)


def test_newer_schema_is_refused_as_a_future_version() -> None:
    newer = Registry()
    newer.register(Tick, "tick", 2)

    with pytest.raises(DecodeError, match="future version 2; this build reads 1"):
        decode(newer.encode(TICK))
    with pytest.raises(DecodeError, match="version 1 is not read; expected 2"):
        newer.decode(encode(TICK))


@pytest.mark.parametrize("message", [object(), "tick", {"t": "tick"}, 1, None])
def test_encoding_an_unregistered_type_raises_type_error(message: object) -> None:
    with pytest.raises(TypeError, match="not a registered message type"):
        encode(message)


@pytest.mark.parametrize(
    "message",
    [
        Tick(symbol="TXFL6", price=True, qty=1, ts_ns=0),
        Tick(symbol="TXFL6", price=1.5, qty=1, ts_ns=0),  # type: ignore[arg-type]
        PlaceOrder("o", "a", "TXFL6", "buy", 1),  # type: ignore[arg-type]
        PlaceOrder("o", "a", "TXFL6", Side.BUY, 1, price=17500.5),  # type: ignore[arg-type]
        PlaceOrder("o", "a", "TXFL6", Side.BUY, 1, price=Decimal("NaN")),
        PlaceOrder("o", "a", "TXFL6", Side.BUY, 1, price=Decimal("1" * (MAX_DECIMAL_TEXT + 1))),
    ],
    ids=["bool", "float", "enum text", "float price", "nan price", "long price"],
)
def test_encoding_a_wrongly_typed_field_raises_type_error(message: object) -> None:
    with pytest.raises(TypeError, match="field"):
        encode(message)


def test_encoding_an_oversized_frame_raises_value_error() -> None:
    with pytest.raises(ValueError, match="over"):
        encode(OrderRejected("o", "x" * MAX_FRAME_BYTES, 0))


@dataclass(frozen=True)
class Basket:
    symbols: list[str]


@dataclass(frozen=True)
class Tagged:
    t: str


def test_registry_refuses_types_it_cannot_carry_and_clashes() -> None:
    registry = Registry()
    registry.register(Tick, "tick", 1)

    with pytest.raises(TypeError, match="cannot carry"):
        registry.register(Basket, "basket", 1)
    with pytest.raises(TypeError, match="not a dataclass"):
        registry.register(int, "int", 1)
    with pytest.raises(ValueError, match="cannot travel"):
        registry.register(Tagged, "tagged", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Signal, "tick", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Tick, "tick2", 1)
    with pytest.raises(ValueError, match="positive integer"):
        registry.register(Signal, "signal", 0)


INT64 = st.integers(-(2**63), 2**63 - 1)
POSITIVE = st.integers(1, 2**63 - 1)
TEXT = st.text(max_size=20)
NAME = st.text(min_size=1, max_size=20).filter(str.strip)
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False).filter(
    lambda d: len(str(d)) <= MAX_DECIMAL_TEXT
)
SIDES = st.sampled_from(Side)

MESSAGES = st.one_of(
    st.builds(Tick, TEXT, INT64, INT64, INT64, INT64),
    st.builds(Signal, TEXT, TEXT, TEXT, SIDES, st.sampled_from(SignalKind), INT64, INT64, INT64),
    st.builds(
        Condition,
        NAME,
        NAME,
        SIDES,
        POSITIVE,
        POSITIVE,
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**63 - 1),
        st.booleans(),
        st.sampled_from(Stage),
    ),
    st.builds(
        PlaceOrder,
        TEXT,
        TEXT,
        TEXT,
        SIDES,
        INT64,
        st.sampled_from(OrderType),
        st.none() | DECIMALS,
        st.sampled_from(TimeInForce),
        st.sampled_from(OpenClose),
        INT64,
    ),
    st.builds(OrderAccepted, TEXT, TEXT, INT64),
    st.builds(OrderRejected, TEXT, TEXT, INT64),
    st.builds(OrderFilled, TEXT, TEXT, TEXT, TEXT, SIDES, INT64, DECIMALS, INT64),
    st.builds(Position, TEXT, TEXT, INT64, DECIMALS),
)

WIRE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=70)
    | st.binary(max_size=10)
    | st.sampled_from(["buy", "waiting", "1.5", "NaN", "tick", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@st.composite
def damaged_frames(draw: st.DrawFn) -> bytes:
    """A valid frame with one key's value replaced, or with some of its bytes overwritten."""
    frame = encode(draw(MESSAGES))
    if draw(st.booleans()):
        data: dict[str, object] = msgpack.unpackb(frame)
        data[draw(st.sampled_from(sorted(data)))] = draw(WIRE_VALUES)
        return msgpack.packb(data, use_bin_type=True)
    damaged = bytearray(frame)
    for _ in range(draw(st.integers(1, 3))):
        damaged[draw(st.integers(0, len(damaged) - 1))] = draw(st.integers(0, 255))
    return bytes(damaged)


@given(MESSAGES)
def test_any_message_round_trips(message: object) -> None:
    decoded = decode(encode(message))

    assert decoded == message
    assert repr(decoded) == repr(message)


@given(st.binary(max_size=300) | damaged_frames())
def test_any_bytes_decode_to_a_registered_message_or_raise_decode_error(frame: bytes) -> None:
    try:
        message = decode(frame)
    except DecodeError:
        return
    assert type(message) in REGISTRY.types
    assert decode(encode(message)) == message


@given(MESSAGES, st.data())
def test_any_truncated_frame_raises_decode_error(message: object, data: st.DataObject) -> None:
    frame = encode(message)
    cut = data.draw(st.integers(0, len(frame) - 1), label="cut")

    with pytest.raises(DecodeError):
        decode(frame[:cut])
