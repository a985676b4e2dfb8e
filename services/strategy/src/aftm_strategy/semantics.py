"""The seed's support/resistance rules: one condition, one tick, at most one stage step.

This is the reference the indexed engine must agree with; it is written to read like the rules
in DESIGN.md, not to be fast.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from aftm.domain.conditions import Condition, Stage
from aftm.domain.signals import SignalKind
from aftm.domain.types import Side


class Step(NamedTuple):
    condition: Condition
    fired: SignalKind | None


def step(condition: Condition, price: int) -> Step:
    """Apply one tick at `price` to `condition`; return the new condition and what it fired."""
    buying = condition.action is Side.BUY
    fired: SignalKind | None = None
    stage = condition.stage
    if stage is Stage.WAITING:
        if (price <= condition.trigger_price) if buying else (price >= condition.trigger_price):
            stage = Stage.TRIGGERED
    elif stage is Stage.TRIGGERED:
        if (price >= condition.order_price) if buying else (price <= condition.order_price):
            stage, fired = Stage.ENTERED, SignalKind.ENTRY
    elif stage is Stage.ENTERED:
        tp, sl = condition.take_profit_price, condition.stop_loss_price
        if (price >= tp) if buying else (price <= tp):
            stage, fired = Stage.EXITED, SignalKind.TAKE_PROFIT
        elif (price <= sl) if buying else (price >= sl):
            stage, fired = Stage.EXITED, SignalKind.STOP_LOSS
    trigger = condition.trigger_price
    # Trailing runs after the step, only while the entry is still pending (the seed's "not
    # ordered and not exited"): a waiting condition cannot qualify, since a price beyond its
    # trigger has just triggered it.
    beyond_trigger = (price <= trigger) if buying else (price >= trigger)
    if stage is Stage.TRIGGERED and condition.is_trailing and beyond_trigger:
        trigger = price
    if stage is condition.stage and trigger == condition.trigger_price:
        return Step(condition, fired)
    return Step(replace(condition, stage=stage, trigger_price=trigger), fired)
