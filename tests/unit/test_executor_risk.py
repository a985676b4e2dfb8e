"""Pre-trade risk checks, order sizing and position folding: pure, table-driven, both sides."""

from __future__ import annotations

import dataclasses
import hashlib
from decimal import Decimal

import pytest

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import OrderType, Side, TimeInForce
from aftm.wire.protocol import TradingMode
from aftm_executor.positions import PositionBook, apply_fill
from aftm_executor.risk import (
    Context,
    EntryRecord,
    GatewayState,
    Limits,
    OrderRate,
    Verdict,
    check,
    gateway_state,
    is_reducing,
)
from aftm_executor.sizing import client_order_id, order_for, quantity_for
from aftm_executor.states import SignalState, advance

SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
LIMITS = Limits(max_lots_per_order=10, max_net_position=20, max_orders_per_minute=60)
FILLED_ENTRY = EntryRecord(SignalState.FILLED, filled_quantity=1)


def a_signal(
    side: Side, *, kind: SignalKind = SignalKind.ENTRY, quantity: int = 1, condition: str = "c1"
) -> Signal:
    return Signal(
        id=signal_id(condition, kind),
        condition_id=condition,
        symbol="TXFL6",
        side=side,
        kind=kind,
        quantity=quantity,
        price=17500,
        ts_ns=1,
    )


def a_context(**changes: object) -> Context:
    base = Context(
        mode=TradingMode.ACTIVE,
        gateway=GatewayState.ALIVE,
        account="ACC1",
        position=0,
        orders_in_window=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def an_exit(entry_side: Side, quantity: int = 1) -> Signal:
    return a_signal(entry_side.opposite, kind=SignalKind.STOP_LOSS, quantity=quantity)


# Entries: `position` is in units of the entry side (+2: already long 2 for a buy entry).
ENTRY_CASES = [
    ("plain entry", {}, 1, Verdict.ALLOW, ""),
    ("zero quantity", {}, 0, Verdict.REFUSE, "not positive"),
    ("halted", {"mode": TradingMode.HALTED}, 1, Verdict.REFUSE, "halted"),
    ("gateway silent", {"gateway": GatewayState.SILENT}, 1, Verdict.REFUSE, "silent"),
    ("logged out", {"gateway": GatewayState.LOGGED_OUT}, 1, Verdict.REFUSE, "logged out"),
    ("gateway not heard yet", {"gateway": GatewayState.STARTING}, 1, Verdict.WAIT, "heartbeat"),
    ("no account", {"account": ""}, 1, Verdict.REFUSE, "no account"),
    ("reducing, flat", {"mode": TradingMode.REDUCING}, 1, Verdict.REFUSE, "reducing"),
    ("reducing, against", {"mode": TradingMode.REDUCING, "position": -3}, 2, Verdict.ALLOW, ""),
    ("reducing, through 0", {"mode": TradingMode.REDUCING, "position": -3}, 4, Verdict.REFUSE, ""),
    ("at lot limit", {}, 10, Verdict.ALLOW, ""),
    ("over lot limit", {}, 11, Verdict.REFUSE, "per order"),
    ("up to net limit", {"position": 15}, 5, Verdict.ALLOW, ""),
    ("over net limit", {"position": 15}, 6, Verdict.REFUSE, "over 20"),
    ("reducing an over-limit position", {"position": -25}, 5, Verdict.ALLOW, ""),
    ("flipping past the net limit", {"position": -5}, 10, Verdict.ALLOW, ""),
    ("rate below limit", {"orders_in_window": 59}, 1, Verdict.ALLOW, ""),
    ("rate at limit", {"orders_in_window": 60}, 1, Verdict.REFUSE, "per minute"),
]


@SIDES
@pytest.mark.parametrize(
    ("case", "changes", "quantity", "verdict", "reason"),
    ENTRY_CASES,
    ids=[case[0] for case in ENTRY_CASES],
)
def test_entry_checks(
    side: Side,
    case: str,
    changes: dict[str, object],
    quantity: int,
    verdict: Verdict,
    reason: str,
) -> None:
    if "position" in changes:
        changes = {**changes, "position": side.sign * int(str(changes["position"]))}

    decision = check(a_signal(side, quantity=quantity), a_context(**changes), LIMITS)

    assert decision.verdict is verdict, decision.reason
    assert reason in decision.reason


EXIT_CASES = [
    ("entry filled", FILLED_ENTRY, {}, Verdict.ALLOW, ""),
    ("entry accepted", EntryRecord(SignalState.ACCEPTED, 0), {}, Verdict.ALLOW, ""),
    ("entry partly filled", EntryRecord(SignalState.PARTIALLY_FILLED, 1), {}, Verdict.ALLOW, ""),
    ("partial then cancelled", EntryRecord(SignalState.CANCELLED, 1), {}, Verdict.ALLOW, ""),
    ("entry never journaled", None, {}, Verdict.REFUSE, "reverse position"),
    ("entry rejected", EntryRecord(SignalState.REJECTED, 0), {}, Verdict.REFUSE, "rejected"),
    ("entry cancelled unfilled", EntryRecord(SignalState.CANCELLED, 0), {}, Verdict.REFUSE, ""),
    (
        "entry rejected, logged out",
        EntryRecord(SignalState.REJECTED, 0),
        {"gateway": GatewayState.LOGGED_OUT},
        Verdict.REFUSE,
        "reverse position",
    ),
    ("entry not yet decided", EntryRecord(SignalState.RECEIVED, 0), {}, Verdict.WAIT, ""),
    ("entry in flight", EntryRecord(SignalState.SENDING, 0), {}, Verdict.WAIT, ""),
    ("entry unknown", EntryRecord(SignalState.UNKNOWN, 0), {}, Verdict.WAIT, "unknown"),
    ("gateway silent", FILLED_ENTRY, {"gateway": GatewayState.SILENT}, Verdict.ALLOW, ""),
    ("logged out", FILLED_ENTRY, {"gateway": GatewayState.LOGGED_OUT}, Verdict.WAIT, "logged"),
    ("reducing mode", FILLED_ENTRY, {"mode": TradingMode.REDUCING}, Verdict.ALLOW, ""),
    ("halted", FILLED_ENTRY, {"mode": TradingMode.HALTED}, Verdict.REFUSE, "halted"),
    ("rate at limit", FILLED_ENTRY, {"orders_in_window": 60}, Verdict.REFUSE, "per minute"),
]


@SIDES
@pytest.mark.parametrize(
    ("case", "entry", "changes", "verdict", "reason"),
    EXIT_CASES,
    ids=[case[0] for case in EXIT_CASES],
)
def test_exit_checks(
    side: Side,
    case: str,
    entry: EntryRecord | None,
    changes: dict[str, object],
    verdict: Verdict,
    reason: str,
) -> None:
    context = a_context(position=side.sign, entry=entry, **changes)  # long 1 after a buy entry

    decision = check(an_exit(side), context, LIMITS)

    assert decision.verdict is verdict, decision.reason
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("last", "logged_in", "now", "state"),
    [
        (None, False, 2, GatewayState.STARTING),
        (None, False, 3, GatewayState.SILENT),
        (5, True, 8, GatewayState.ALIVE),
        (5, True, 9, GatewayState.SILENT),
        (5, False, 8, GatewayState.LOGGED_OUT),
    ],
)
def test_gateway_state_from_heartbeats(
    last: int | None, logged_in: bool, now: int, state: GatewayState
) -> None:
    found = gateway_state(
        last_heartbeat_ns=last, logged_in=logged_in, started_ns=0, now_ns=now, timeout_ns=3
    )

    assert found is state


@SIDES
@pytest.mark.parametrize(
    ("position", "quantity", "reducing"),
    [(0, 1, False), (-2, 1, True), (-2, 2, True), (-2, 3, False), (2, 1, False)],
)
def test_is_reducing(side: Side, position: int, quantity: int, reducing: bool) -> None:
    assert is_reducing(side.sign * position, side, quantity) is reducing


def test_order_rate_slides_over_the_window() -> None:
    rate = OrderRate(window_ns=10)
    for now in (0, 4, 9):
        rate.record(now)

    assert rate.count(9) == 3
    assert rate.count(10) == 2  # the order at 0 left the window
    assert rate.count(19) == 0


@pytest.mark.parametrize(
    ("current", "reported", "after"),
    [
        (SignalState.SENDING, SignalState.UNKNOWN, SignalState.UNKNOWN),
        (SignalState.UNKNOWN, SignalState.ACCEPTED, SignalState.ACCEPTED),
        (SignalState.FILLED, SignalState.ACCEPTED, SignalState.FILLED),
        (SignalState.PARTIALLY_FILLED, SignalState.ACCEPTED, SignalState.PARTIALLY_FILLED),
        (SignalState.REJECTED, SignalState.FILLED, SignalState.REJECTED),
        (SignalState.ACCEPTED, SignalState.CANCELLED, SignalState.CANCELLED),
    ],
)
def test_states_only_move_forward(
    current: SignalState, reported: SignalState, after: SignalState
) -> None:
    assert advance(current, reported) is after


# --- sizing -----------------------------------------------------------------------------------


def test_client_order_id_is_deterministic_and_short() -> None:
    first = client_order_id("c1:entry")

    assert first == client_order_id("c1:entry")
    assert first != client_order_id("c1:exit")
    assert first.startswith("A")
    assert len(first) == 16
    assert first == "A" + hashlib.sha256(b"c1:entry").hexdigest()[:15]


@SIDES
def test_an_order_is_a_market_ioc_for_the_signal(side: Side) -> None:
    signal = a_signal(side, quantity=3)

    order = order_for(signal, "ACC1", ts_ns=42)

    assert order.client_order_id == client_order_id(signal.id)
    assert (order.account, order.symbol, order.side, order.quantity) == ("ACC1", "TXFL6", side, 3)
    assert (order.order_type, order.time_in_force, order.price) == (
        OrderType.MARKET,
        TimeInForce.IOC,
        None,
    )
    assert order.ts_ns == 42
    assert order_for(signal, "ACC1", ts_ns=42) == order


@SIDES
@pytest.mark.parametrize(
    ("kind", "entry_state", "entry_filled", "quantity"),
    [
        (SignalKind.ENTRY, None, 0, 3),
        (SignalKind.TAKE_PROFIT, SignalState.FILLED, 3, 3),
        (SignalKind.STOP_LOSS, SignalState.CANCELLED, 1, 1),  # IOC entry got only one lot
        (SignalKind.STOP_LOSS, SignalState.PARTIALLY_FILLED, 1, 3),  # may still fill fully
        (SignalKind.STOP_LOSS, SignalState.ACCEPTED, 0, 3),
        (SignalKind.STOP_LOSS, SignalState.REJECTED, 0, 3),  # refused by risk, not sized to 0
    ],
)
def test_an_exit_closes_no_more_than_its_finished_entry_got(
    side: Side,
    kind: SignalKind,
    entry_state: SignalState | None,
    entry_filled: int,
    quantity: int,
) -> None:
    signal = a_signal(side, kind=kind, quantity=3)

    assert quantity_for(signal, entry_state, entry_filled) == quantity
    assert order_for(signal, "ACC1", 0, quantity).quantity == quantity


# --- positions --------------------------------------------------------------------------------


def a_fill(side: Side, quantity: int, price: str, fill_id: str = "f1") -> OrderFilled:
    return OrderFilled(
        client_order_id="A1",
        broker_order_id="B1",
        fill_id=fill_id,
        symbol="TXFL6",
        side=side,
        quantity=quantity,
        price=Decimal(price),
        ts_ns=1,
    )


@SIDES
@pytest.mark.parametrize(
    ("fills", "net", "average"),
    [
        ([(1, "100")], 1, "100"),
        ([(1, "100"), (3, "200")], 4, "175"),  # adding averages in
        ([(4, "100"), (-1, "300")], 3, "100"),  # reducing keeps the average
        ([(2, "100"), (-2, "300")], 0, "0"),  # flat has no average
        ([(1, "100"), (-3, "300")], -2, "300"),  # through zero starts at the fill price
    ],
)
def test_fills_fold_into_a_position(
    side: Side, fills: list[tuple[int, str]], net: int, average: str
) -> None:
    position = None
    for number, (signed, price) in enumerate(fills):
        fill_side = side if signed > 0 else side.opposite
        position = apply_fill(position, "ACC1", a_fill(fill_side, abs(signed), price, f"{number}"))

    assert position == Position("ACC1", "TXFL6", side.sign * net, Decimal(average))


@SIDES
def test_a_fill_seen_before_changes_nothing(side: Side) -> None:
    book = PositionBook()

    first = book.apply("ACC1", a_fill(side, 2, "100", "f1"))
    again = book.apply("ACC1", a_fill(side, 2, "100", "f1"))
    book.apply("ACC2", a_fill(side, 1, "90", "f2"))

    assert first == Position("ACC1", "TXFL6", side.sign * 2, Decimal(100))
    assert again is None
    assert book.net_quantity("ACC1", "TXFL6") == side.sign * 2
    assert [p.account for p in book.positions()] == ["ACC1", "ACC2"]


def test_a_book_restored_from_fill_ids_ignores_them() -> None:
    book = PositionBook([Position("ACC1", "TXFL6", 2, Decimal(100))], fill_ids=["f1"])

    assert book.apply("ACC1", a_fill(Side.BUY, 2, "100", "f1")) is None
    assert book.net_quantity("ACC1", "TXFL6") == 2
