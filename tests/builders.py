"""Test builders: every argument defaulted, so a test states only what it is about."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal

from aftm.domain.conditions import Condition, Stage
from aftm.domain.market import Tick
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm.wire.protocol import (
    PositionCheck,
    ReconcileState,
    Reconciliation,
    TradeOrder,
    TradeView,
)


def a_condition(
    *,
    id: str = "c1",
    symbol: str = "TXFL6",
    action: Side = Side.BUY,
    trigger_price: int = 1000,
    quantity: int = 1,
    turning_point: int = 15,
    take_profit_point: int = 90,
    stop_loss_point: int = 30,
    is_following: bool = False,
    stage: Stage = Stage.WAITING,
) -> Condition:
    return Condition(
        id=id,
        symbol=symbol,
        action=action,
        trigger_price=trigger_price,
        quantity=quantity,
        turning_point=turning_point,
        take_profit_point=take_profit_point,
        stop_loss_point=stop_loss_point,
        is_following=is_following,
        stage=stage,
    )


def a_tick(price: int, *, symbol: str = "TXFL6", ts_ns: int = 0, qty: int = 1) -> Tick:
    return Tick(symbol=symbol, price=price, qty=qty, ts_ns=ts_ns)


def a_signal(
    side: Side = Side.BUY,
    *,
    condition: str = "c1",
    kind: SignalKind = SignalKind.ENTRY,
    quantity: int = 2,
    ts_ns: int | None = None,
) -> Signal:
    """`ts_ns`: the tick time; by default now, so an entry is fresh when it reaches the executor."""
    return Signal(
        id=signal_id(condition, kind),
        condition_id=condition,
        symbol="TXFL6",
        side=side,
        kind=kind,
        quantity=quantity,
        price=17500,
        ts_ns=time.time_ns() if ts_ns is None else ts_ns,
    )


def a_trade_order(**changes: object) -> TradeOrder:
    """A filled entry of 2 lots at 23008."""
    order = TradeOrder(
        client_order_id="M0123456789abcde-0",
        leg="entry",
        attempt=0,
        side=Side.BUY,
        quantity=2,
        filled_quantity=2,
        average_price=Decimal("23008"),
        state="filled",
        reason="",
    )
    return replace(order, **changes)  # type: ignore[arg-type]


def a_trade_view(**changes: object) -> TradeView:
    """An open manual buy of 2 TXFL6, filled at 23008, nothing closed yet."""
    trade = TradeView(
        trade_id="M0123456789abcde",
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=2,
        state="open",
        reason="",
        entry_filled=2,
        exit_filled=0,
        entry_price=Decimal("23008"),
        exit_price=None,
        realised_points=Decimal("0"),
        realised_twd=Decimal("0"),
        opened_ns=1,
        updated_ns=2,
        orders=(a_trade_order(),),
    )
    return replace(trade, **changes)  # type: ignore[arg-type]


def a_position_check(**changes: object) -> PositionCheck:
    """SIM-0001 long 2 TXFL6 in the book and at the broker."""
    check = PositionCheck(
        account="SIM-0001",
        symbol="TXFL6",
        book=2,
        broker=2,
        book_average=Decimal("23008"),
        broker_average=Decimal("23008"),
        state=ReconcileState.AGREED,
    )
    return replace(check, **changes)  # type: ignore[arg-type]


def a_reconciliation(**changes: object) -> Reconciliation:
    """A run at ns 5 that found the book equal to the broker's one position."""
    found = Reconciliation(
        state=ReconcileState.AGREED,
        ts_ns=5,
        detail="",
        fills_applied=0,
        orders_asked=0,
        entries_halted=False,
        positions=(a_position_check(),),
    )
    return replace(found, **changes)  # type: ignore[arg-type]
