"""The limits a value must keep to cross a boundary: one definition each, shared by all services.

Wire handlers, the console and settings call these checks where a value enters, so that a limit
lives in exactly one place. Each check takes the value as it arrived (`object`), returns it typed,
and raises `InvalidInput(field, why)` naming the field, with the offending value shortened so an
error can never echo a huge input back.
"""

from __future__ import annotations

import re
from decimal import Decimal

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import OrderType, Side
from aftm.errors import InvalidInput
from aftm.market.products import SYMBOL_SHAPE

# --- quantities --------------------------------------------------------------------------------
# TAIFEX's per-order maximum for index futures (TX, MTX, TMF count as "other futures", not stock
# futures): a limit order carries at most 100 contracts; a market order at most 10 in the regular
# session and 5 after hours, since TAIFEX lowered the market-order cap on 2019-09-16.
# Sources: TAIFEX's presentation "每筆市價委託口數上限調整" (2019-05: "其餘期貨商品上限為100口"),
# mirrored at https://pdfslide.tips/documents/ecoee-cfeee-eecfee.html; the market-order figures
# from the summary at https://sunnydoll356.blogspot.com/2019/09/2019916.html (市價單 日盤 10 口,
# 夜盤 5 口; 限價單 其餘期貨商品 100 口). Not confirmed on taifex.com.tw itself, nor for TMF (listed
# 2024) by name: if TAIFEX allows more, these only refuse what a person can split. The after-hours
# cap is not applied: the library does not model sessions yet; the broker refuses such an order.
MAX_MARKET_ORDER_QUANTITY = 10
MAX_LIMIT_ORDER_QUANTITY = 100
MAX_ORDER_QUANTITY = MAX_LIMIT_ORDER_QUANTITY  # the most any one order may carry, of any type

# --- prices ------------------------------------------------------------------------------------
# Index futures trade in whole points; TAIEX has never been near either bound, yet both keep
# every derived price (a trigger plus or minus points) far inside 64 bits.
MIN_PRICE = 1
MAX_PRICE = 1_000_000
MAX_POINTS = MAX_PRICE  # offsets from a price: turning, take-profit and stop-loss points

# --- ids ---------------------------------------------------------------------------------------
ID_CHARACTERS = "A-Za-z0-9._:-"
_ID = re.compile(f"[{ID_CHARACTERS}]+")
MAX_ID_LENGTH = 64
MAX_SHARD_LENGTH = 16  # a strategy shard's name, the start of each of its condition ids
_SHARD = re.compile(f"[a-z0-9][a-z0-9-]{{0,{MAX_SHARD_LENGTH - 1}}}")
_LONGEST_STAGE = max(len(signal_id("", kind)) for kind in SignalKind)  # ":entry"
# A condition id leaves room for its stage, so that every signal id fits MAX_ID_LENGTH.
MAX_CONDITION_ID_LENGTH = MAX_ID_LENGTH - _LONGEST_STAGE
# A client order id rides in a broker order's NOTE field, which is short; the executor's ids
# ("A" + 15 hex digits) and the console's ("M" + 15) fit with room.
MAX_CLIENT_ORDER_ID_LENGTH = 20
# A manual order's id becomes a trade id ("manual:" + id) and signal ids after that.
MAX_MANUAL_ORDER_ID_LENGTH = 40
# Broker credentials: printable text, never blank; bounds far above any broker's, so a frame
# cannot carry megabytes into the vendor's login call or a log line.
MAX_USER_LENGTH = 64
MAX_PASSWORD_LENGTH = 256

# --- timestamps and integers -------------------------------------------------------------------
MIN_TS_NS = 946_684_800 * 10**9  # 2000-01-01T00:00:00Z
MAX_TS_NS = 4_102_444_800 * 10**9  # 2100-01-01T00:00:00Z
INT64_MIN = -(2**63)  # SQLite stores integers as signed 64 bits; a larger one overflows it
INT64_MAX = 2**63 - 1

_SHOWN = 40  # characters of an offending value an error message repeats


def check_int(
    value: object, field: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX
) -> int:
    """A whole number (not a bool, not a float) from `minimum` to `maximum`.

    The defaults admit exactly what SQLite's signed 64-bit integers hold.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{_show(value)} is not a whole number")
    if not minimum <= value <= maximum:
        raise InvalidInput(field, f"must be {minimum} to {maximum}, got {_show(value)}")
    return value


def check_quantity(
    value: object, field: str = "quantity", *, order_type: OrderType | None = None
) -> int:
    """Lots in one order: 1 to TAIFEX's per-order maximum for `order_type` (any type: 100)."""
    maximum = MAX_MARKET_ORDER_QUANTITY if order_type is OrderType.MARKET else MAX_ORDER_QUANTITY
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{_show(value)} is not a whole number of lots")
    if not 1 <= value <= maximum:
        kind = f"a {order_type.value} order" if order_type is not None else "an order"
        raise InvalidInput(
            field, f"must be 1 to {maximum} lots, TAIFEX's limit for {kind}; got {_show(value)}"
        )
    return value


def check_price(value: object, field: str = "price") -> int:
    """A price in whole index points, MIN_PRICE to MAX_PRICE: an int or a finite, whole Decimal.

    A float is refused even when integral: a float price would not be exact everywhere else.
    """
    return _whole_points(value, field, MIN_PRICE, MAX_PRICE)


def check_points(value: object, field: str) -> int:
    """An offset from a price in whole points, 0 to MAX_POINTS (turning, take profit, stop loss)."""
    return _whole_points(value, field, 0, MAX_POINTS)


def check_id(value: object, field: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """An id: 1 to `max_length` characters of A-Z a-z 0-9 . _ : - (safe in logs, SQL and NOTEs)."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"{_show(value)} is not text")
    if not value or len(value) > max_length:
        raise InvalidInput(field, f"must be 1 to {max_length} characters, got {len(value)}")
    if not _ID.fullmatch(value):
        raise InvalidInput(field, f"{_show(value)} may hold only {ID_CHARACTERS}")
    return value


def check_credential(value: object, field: str, *, max_length: int) -> str:
    """A broker user or password: 1 to `max_length` printable characters. The value itself is
    never shown: it may be a secret."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"is {type(value).__name__}, not text")
    if not value.strip() or len(value) > max_length:
        raise InvalidInput(field, f"must be 1 to {max_length} characters, not blank")
    if not value.isprintable():
        raise InvalidInput(field, "holds control characters")
    return value


def check_condition_id(value: object, field: str = "condition_id") -> str:
    return check_id(value, field, max_length=MAX_CONDITION_ID_LENGTH)


def check_client_order_id(value: object, field: str = "client_order_id") -> str:
    return check_id(value, field, max_length=MAX_CLIENT_ORDER_ID_LENGTH)


def check_manual_order_id(value: object, field: str = "order_id") -> str:
    return check_id(value, field, max_length=MAX_MANUAL_ORDER_ID_LENGTH)


def check_account(value: object, field: str = "account") -> str:
    return check_id(value, field)


def check_shard(value: object, field: str = "shard") -> str:
    """A strategy shard's name: 1 to MAX_SHARD_LENGTH of a-z 0-9 -, starting with a letter or
    digit. It starts the ids of the shard's conditions, followed by ".", so it holds no "."
    and the condition ids of two shards can never be equal."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"{_show(value)} is not text")
    if not _SHARD.fullmatch(value):
        raise InvalidInput(
            field, f"{_show(value)} is not 1 to {MAX_SHARD_LENGTH} of a-z 0-9 - (e.g. s1)"
        )
    return value


def check_symbol(value: object, field: str = "symbol") -> str:
    """A symbol in the broker's shape: product code, month letter A-L, year digit (TXFL6).

    The shape only: whether the product is one this system knows is for the gateway's listing
    (live) or the point-value table (backtest) to say.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, f"{_show(value)} is not text")
    if not SYMBOL_SHAPE.fullmatch(value):
        raise InvalidInput(
            field, f"{_show(value)} is not a symbol such as TXFL6 (product, month A-L, year)"
        )
    return value


def check_ts_ns(value: object, field: str = "ts_ns") -> int:
    """Nanoseconds since the epoch, from 2000-01-01 up to (not including) 2100-01-01."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{_show(value)} is not whole nanoseconds")
    if not MIN_TS_NS <= value < MAX_TS_NS:
        raise InvalidInput(field, f"{_show(value)} ns is not between 2000 and 2100")
    return value


def check_side(value: object, field: str = "side") -> Side:
    if not isinstance(value, Side):
        raise InvalidInput(field, f"{_show(value)} is not one of buy, sell")
    return value


def check_signal(signal: Signal) -> Signal:
    """Every field of a signal in range, and its id the one its condition and stage give."""
    check_condition_id(signal.condition_id)
    if not isinstance(signal.kind, SignalKind):
        raise InvalidInput("kind", f"{_show(signal.kind)} is not a signal kind")
    expected = signal_id(signal.condition_id, signal.kind)
    if signal.id != expected:
        raise InvalidInput("id", f"{_show(signal.id)} is not its condition id plus stage")
    check_symbol(signal.symbol)
    check_side(signal.side)
    check_quantity(signal.quantity)
    check_price(signal.price)
    check_ts_ns(signal.ts_ns)
    return signal


def check_tick(tick: Tick) -> Tick:
    """A tick a strategy may act on: a symbol, a price in range, counts that fit 64 bits."""
    check_symbol(tick.symbol)
    check_price(tick.price)
    check_int(tick.qty, "qty", minimum=0)
    check_int(tick.ts_ns, "ts_ns", minimum=0)
    check_int(tick.seq, "seq", minimum=0)
    return tick


def check_fill(fill: OrderFilled) -> OrderFilled:
    """A fill that may be folded into a position: lots of one order, a price in range.

    The broker's own ids (order, fill) are the broker's business and are not held to ours.
    """
    check_client_order_id(fill.client_order_id)
    check_symbol(fill.symbol)
    check_side(fill.side)
    check_quantity(fill.quantity)
    check_price(fill.price)
    check_int(fill.ts_ns, "ts_ns", minimum=0)
    return fill


def check_exit(exit_signal: Signal, *, entry_side: Side, entry_symbol: str) -> Signal:
    """An exit that may close the entry its condition id names: same symbol, opposite side."""
    if not exit_signal.kind.is_exit:
        raise InvalidInput("kind", f"{exit_signal.kind.value} is not an exit")
    if exit_signal.symbol != entry_symbol:
        raise InvalidInput("symbol", f"{_show(exit_signal.symbol)} is not the entry's symbol")
    if exit_signal.side is not entry_side.opposite:
        wanted = entry_side.opposite.value
        raise InvalidInput("side", f"an exit of a {entry_side.value} entry must {wanted}")
    return exit_signal


def _whole_points(value: object, field: str, minimum: int, maximum: int) -> int:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(field, f"{_show(value)} is not a finite number")
        if value != value.to_integral_value():
            raise InvalidInput(field, f"{_show(value)} is not a whole number of points")
        if not minimum <= value <= maximum:  # compared as a Decimal: int() of 1E+999999 is slow
            raise InvalidInput(field, f"must be {minimum} to {maximum} points, got {_show(value)}")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{_show(value)} is not a whole number of points")
    if not minimum <= value <= maximum:
        raise InvalidInput(field, f"must be {minimum} to {maximum} points, got {_show(value)}")
    return value


def _show(value: object) -> str:
    if isinstance(value, int) and abs(value) >= 10**_SHOWN:
        return f"a number of more than {_SHOWN} digits"  # repr of a vast int is slow, or refused
    text = repr(value[: _SHOWN + 1] if isinstance(value, str) else value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."
