"""Test builders: every argument defaulted, so a test states only what it is about."""

from __future__ import annotations

import time

from aftm.domain.conditions import Condition, Stage
from aftm.domain.market import Tick
from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side


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
