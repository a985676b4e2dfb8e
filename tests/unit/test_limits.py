"""The shared value limits: every boundary on both sides, and anything out of range refused.

Tables pin the edges (the last value in, the first value out); hypothesis checks that whatever
lies outside a range is refused naming the field, and whatever lies inside passes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftm.domain.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_CLIENT_ORDER_ID_LENGTH,
    MAX_CONDITION_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_LIMIT_ORDER_QUANTITY,
    MAX_MANUAL_ORDER_ID_LENGTH,
    MAX_MARKET_ORDER_QUANTITY,
    MAX_POINTS,
    MAX_PRICE,
    MAX_TS_NS,
    MIN_PRICE,
    MIN_TS_NS,
    check_account,
    check_client_order_id,
    check_condition_id,
    check_exit,
    check_fill,
    check_id,
    check_int,
    check_manual_order_id,
    check_points,
    check_price,
    check_quantity,
    check_side,
    check_signal,
    check_symbol,
    check_tick,
    check_ts_ns,
)
from aftm.domain.orders import OrderFilled
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import OrderType, Side
from aftm.errors import InvalidInput
from tests.builders import a_signal, a_tick

NOW_NS = 1_780_000_000 * 10**9  # mid-2026
ID_ALPHABET = st.sampled_from("ABCxyz0189._:-")
NOT_NUMBERS: list[object] = [True, False, 1.0, 17500.0, float("nan"), float("inf"), "1", None]


def refused(check: Callable[[], object], field: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check()
    assert caught.value.field == field
    return caught.value


# --- quantities ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_type", "maximum"),
    [
        (OrderType.MARKET, MAX_MARKET_ORDER_QUANTITY),
        (OrderType.LIMIT, MAX_LIMIT_ORDER_QUANTITY),
        (None, MAX_LIMIT_ORDER_QUANTITY),
    ],
)
def test_quantity_edges_follow_taifex_per_order_limits(
    order_type: OrderType | None, maximum: int
) -> None:
    assert check_quantity(1, order_type=order_type) == 1
    assert check_quantity(maximum, order_type=order_type) == maximum
    for outside in (0, -1, maximum + 1, 2**63, 2**64, -(2**63)):
        error = refused(partial(check_quantity, outside, order_type=order_type), "quantity")
        assert f"1 to {maximum}" in error.message


def test_taifex_figures_are_the_published_ones() -> None:
    assert (MAX_MARKET_ORDER_QUANTITY, MAX_LIMIT_ORDER_QUANTITY) == (10, 100)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_quantity_must_be_an_int(value: object) -> None:
    refused(lambda: check_quantity(value, "lots"), "lots")


@given(st.integers().filter(lambda q: not 1 <= q <= MAX_LIMIT_ORDER_QUANTITY))
def test_any_quantity_outside_the_limit_is_refused(quantity: int) -> None:
    refused(lambda: check_quantity(quantity), "quantity")


@given(st.integers(1, MAX_MARKET_ORDER_QUANTITY), st.sampled_from([*OrderType, None]))
def test_any_quantity_inside_every_limit_passes(
    quantity: int, order_type: OrderType | None
) -> None:
    assert check_quantity(quantity, order_type=order_type) == quantity


# --- prices and points ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MIN_PRICE, 1),
        (MAX_PRICE, 1_000_000),
        (23_000, 23_000),
        (Decimal("23000"), 23_000),
        (Decimal("23000.00"), 23_000),
        (Decimal("2.3E+4"), 23_000),
    ],
)
def test_whole_prices_in_range_pass(value: object, expected: int) -> None:
    assert check_price(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (0, "1 to 1000000"),
        (-1, "1 to 1000000"),
        (MAX_PRICE + 1, "1 to 1000000"),
        (2**63, "1 to 1000000"),
        pytest.param(10**5000, "more than 40 digits", id="10**5000"),
        (Decimal("0"), "1 to 1000000"),
        (Decimal("1000001"), "1 to 1000000"),
        (Decimal("1E+999999"), "1 to 1000000"),
        (Decimal("23000.5"), "whole number"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (23000.0, "whole number"),
        (float("nan"), "whole number"),
        (float("inf"), "whole number"),
        (True, "whole number"),
        ("23000", "whole number"),
        (None, "whole number"),
    ],
)
def test_prices_out_of_range_or_inexact_are_refused(value: object, fragment: str) -> None:
    error = refused(lambda: check_price(value, "trigger_price"), "trigger_price")
    assert fragment in error.message
    assert len(str(error)) < 200  # never an echo of a huge value


def test_points_may_be_zero_but_not_negative_or_absurd() -> None:
    assert check_points(0, "turning_point") == 0
    assert check_points(MAX_POINTS, "turning_point") == MAX_POINTS
    for outside in (-1, MAX_POINTS + 1, Decimal("0.5"), 1.0):
        refused(partial(check_points, outside, "stop_loss_point"), "stop_loss_point")


@given(st.integers().filter(lambda p: not MIN_PRICE <= p <= MAX_PRICE))
def test_any_int_price_outside_the_range_is_refused(price: int) -> None:
    refused(lambda: check_price(price), "price")
    refused(lambda: check_price(Decimal(price)), "price")


@given(st.integers(MIN_PRICE, MAX_PRICE))
def test_any_whole_price_inside_the_range_passes(price: int) -> None:
    assert check_price(price) == price
    assert check_price(Decimal(price)) == price
    assert check_price(Decimal(price).quantize(Decimal("0.01"))) == price


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_a_decimal_price_passes_only_if_whole_and_in_range(price: Decimal) -> None:
    good = price.is_finite() and price == price.to_integral_value() and 1 <= price <= MAX_PRICE
    if good:
        assert check_price(price) == int(price)
    else:
        refused(lambda: check_price(price), "price")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_price_is_never_taken(price: float) -> None:
    refused(lambda: check_price(price), "price")


# --- ids -----------------------------------------------------------------------------------

ID_CHECKS: list[tuple[Callable[[object], str], str, int]] = [
    (lambda v: check_id(v, "request_id"), "request_id", MAX_ID_LENGTH),
    (check_condition_id, "condition_id", MAX_CONDITION_ID_LENGTH),
    (check_client_order_id, "client_order_id", MAX_CLIENT_ORDER_ID_LENGTH),
    (check_manual_order_id, "order_id", MAX_MANUAL_ORDER_ID_LENGTH),
    (check_account, "account", MAX_ID_LENGTH),
]


@pytest.mark.parametrize(("check", "field", "longest"), ID_CHECKS)
def test_id_length_edges(check: Callable[[object], str], field: str, longest: int) -> None:
    assert check("a" * longest) == "a" * longest
    assert check("c-1:entry.2_x") == "c-1:entry.2_x"
    for bad in ("", "a" * (longest + 1), "a" * 300, "a b", "a\n", "ä", "a/b", "a#1", "'; --"):
        refused(partial(check, bad), field)
    for not_text in (None, 1, b"abc"):
        refused(partial(check, not_text), field)


def test_every_signal_id_of_a_longest_condition_id_fits() -> None:
    longest = "c" * MAX_CONDITION_ID_LENGTH
    for kind in SignalKind:
        assert check_id(signal_id(longest, kind), "id") == signal_id(longest, kind)


def test_an_id_error_does_not_echo_a_huge_id() -> None:
    error = refused(lambda: check_id("x" * 100_000 + "\x00", "id", max_length=200_000), "id")
    assert len(str(error)) < 200


@given(st.text(ID_ALPHABET, min_size=1, max_size=MAX_ID_LENGTH))
def test_any_plain_id_of_bounded_length_passes(value: str) -> None:
    assert check_id(value, "id") == value


@given(st.text(ID_ALPHABET, min_size=MAX_ID_LENGTH + 1, max_size=MAX_ID_LENGTH * 4))
def test_any_id_too_long_is_refused(value: str) -> None:
    refused(lambda: check_id(value, "id"), "id")


@given(
    st.text(ID_ALPHABET, max_size=10),
    st.characters().filter(lambda c: not c.isascii() or not (c.isalnum() or c in "._:-")),
    st.text(ID_ALPHABET, max_size=10),
)
def test_any_id_with_a_character_outside_the_set_is_refused(head: str, odd: str, tail: str) -> None:
    refused(lambda: check_id(head + odd + tail, "id"), "id")


# --- symbols, sides, timestamps, plain integers --------------------------------------------


@pytest.mark.parametrize("symbol", ["TXFL6", "MXFA7", "TMFC9", "ZZZL6"])
def test_symbols_in_the_broker_shape_pass(symbol: str) -> None:
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize(
    "symbol",
    ["", "TXF", "TXFM6", "txfl6", "TXFL66", " TXFL6", "TXFL6\n", "TX FL6", "T" * 300, 5, None],
)
def test_other_symbols_are_refused(symbol: object) -> None:
    error = refused(lambda: check_symbol(symbol, "item"), "item")
    assert len(str(error)) < 200


def test_a_side_must_be_a_side() -> None:
    assert check_side(Side.SELL) is Side.SELL
    for bad in ("buy", 1, None):
        refused(partial(check_side, bad), "side")


def test_timestamp_edges() -> None:
    assert check_ts_ns(MIN_TS_NS) == MIN_TS_NS
    assert check_ts_ns(MAX_TS_NS - 1) == MAX_TS_NS - 1
    assert check_ts_ns(NOW_NS, "sent_ns") == NOW_NS
    for bad in (0, -1, MIN_TS_NS - 1, MAX_TS_NS, 2**63, 2**64, 1.7e18, True, "1"):
        refused(partial(check_ts_ns, bad, "sent_ns"), "sent_ns")


@given(st.integers().filter(lambda t: not MIN_TS_NS <= t < MAX_TS_NS))
def test_any_timestamp_outside_the_century_is_refused(ts_ns: int) -> None:
    refused(lambda: check_ts_ns(ts_ns), "ts_ns")


@given(st.integers(MIN_TS_NS, MAX_TS_NS - 1))
def test_any_timestamp_inside_the_century_passes(ts_ns: int) -> None:
    assert check_ts_ns(ts_ns) == ts_ns


def test_int64_edges() -> None:
    assert check_int(INT64_MAX, "limit") == INT64_MAX
    assert check_int(INT64_MIN, "limit") == INT64_MIN
    for bad in (INT64_MAX + 1, INT64_MIN - 1, 2**64, True, 1.0, None):
        refused(partial(check_int, bad, "limit"), "limit")
    assert check_int(5, "limit", minimum=1, maximum=5) == 5
    refused(lambda: check_int(0, "limit", minimum=1, maximum=5), "limit")


@given(st.integers())
def test_an_int_passes_exactly_when_sqlite_can_store_it(value: int) -> None:
    if INT64_MIN <= value <= INT64_MAX:
        assert check_int(value, "seq") == value
    else:
        refused(lambda: check_int(value, "seq"), "seq")


# --- signals -------------------------------------------------------------------------------


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("kind", list(SignalKind))
def test_a_well_formed_signal_passes(side: Side, kind: SignalKind) -> None:
    signal = a_signal(side, kind=kind, ts_ns=NOW_NS)
    assert check_signal(signal) is signal


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "c1:exit"}, "id"),  # an entry under the exit's id
        ({"id": "c2:entry"}, "id"),  # another condition's id
        ({"id": "c1:entry" + "x"}, "id"),
        ({"condition_id": "c" * (MAX_CONDITION_ID_LENGTH + 1)}, "condition_id"),
        ({"condition_id": "c 1"}, "condition_id"),
        ({"kind": "entry"}, "kind"),
        ({"symbol": "NOPE"}, "symbol"),
        ({"side": "buy"}, "side"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 2**63}, "quantity"),
        ({"quantity": MAX_LIMIT_ORDER_QUANTITY + 1}, "quantity"),
        ({"price": 0}, "price"),
        ({"price": 2**64}, "price"),
        ({"price": 17500.0}, "price"),
        ({"ts_ns": 0}, "ts_ns"),
        ({"ts_ns": 2**63}, "ts_ns"),
    ],
)
def test_a_signal_out_of_range_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    signal = replace(a_signal(ts_ns=NOW_NS), **change)  # type: ignore[arg-type]
    refused(lambda: check_signal(signal), field)


def exit_of(entry: Signal, exit_signal: Signal) -> Signal:
    return check_exit(exit_signal, entry_side=entry.side, entry_symbol=entry.symbol)


@pytest.mark.parametrize("entry_side", list(Side))
@pytest.mark.parametrize("kind", [SignalKind.TAKE_PROFIT, SignalKind.STOP_LOSS])
def test_an_exit_on_the_opposite_side_closes_its_entry(entry_side: Side, kind: SignalKind) -> None:
    entry = a_signal(entry_side, ts_ns=NOW_NS)
    exit_signal = a_signal(entry_side.opposite, kind=kind, ts_ns=NOW_NS)
    assert exit_of(entry, exit_signal) is exit_signal


@pytest.mark.parametrize("entry_side", list(Side))
def test_an_exit_on_the_entrys_side_is_refused(entry_side: Side) -> None:
    entry = a_signal(entry_side, ts_ns=NOW_NS)
    forged = a_signal(entry_side, kind=SignalKind.TAKE_PROFIT, ts_ns=NOW_NS)
    error = refused(lambda: exit_of(entry, forged), "side")
    assert entry_side.opposite.value in error.message


@pytest.mark.parametrize(
    ("forged", "field"),
    [
        (a_signal(Side.SELL, kind=SignalKind.ENTRY, ts_ns=NOW_NS), "kind"),
        (
            replace(a_signal(Side.SELL, kind=SignalKind.STOP_LOSS, ts_ns=NOW_NS), symbol="MXFL6"),
            "symbol",
        ),
    ],
)
def test_an_exit_of_another_kind_or_symbol_is_refused(forged: Signal, field: str) -> None:
    entry = a_signal(Side.BUY, ts_ns=NOW_NS)
    refused(lambda: exit_of(entry, forged), field)


# --- ticks and fills -----------------------------------------------------------------------

A_FILL = OrderFilled("A1", "B1", "B1-1", "TXFL6", Side.BUY, 2, Decimal(23_000), NOW_NS)


def test_a_tick_and_a_fill_in_range_pass() -> None:
    tick = a_tick(23_000, ts_ns=NOW_NS)
    assert check_tick(tick) is tick
    assert check_tick(a_tick(23_000, ts_ns=0, qty=0)) is not None  # a file's tick: no time
    assert check_fill(A_FILL) is A_FILL


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": 0}, "price"),
        ({"price": 2**63}, "price"),
        ({"qty": -1}, "qty"),
        ({"qty": 2**64}, "qty"),
        ({"ts_ns": 2**63}, "ts_ns"),
        ({"seq": -1}, "seq"),
        ({"symbol": "TXF"}, "symbol"),
    ],
)
def test_a_tick_out_of_range_is_refused(change: dict[str, object], field: str) -> None:
    tick = replace(a_tick(23_000, ts_ns=NOW_NS), **change)  # type: ignore[arg-type]
    refused(lambda: check_tick(tick), field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 2**63}, "quantity"),
        ({"price": Decimal("NaN")}, "price"),
        ({"price": Decimal("23000.5")}, "price"),
        ({"price": Decimal(2**64)}, "price"),
        ({"ts_ns": 2**63}, "ts_ns"),
        ({"client_order_id": "A" * 300}, "client_order_id"),
    ],
)
def test_a_fill_out_of_range_is_refused(change: dict[str, object], field: str) -> None:
    fill = replace(A_FILL, **change)  # type: ignore[arg-type]
    refused(lambda: check_fill(fill), field)
