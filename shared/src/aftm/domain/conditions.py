"""Support/resistance conditions: definition, lifecycle stage and the prices derived from them.

The rules that move a condition from stage to stage live in the strategy service; this module is
only the value and its validation, so the console and the wire can share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import NoReturn

from aftm.domain import limits
from aftm.domain.types import OrderType, Side
from aftm.errors import InvalidInput
from aftm.market.prices import whole_points

DEFAULT_TURNING_POINT = 15
DEFAULT_TAKE_PROFIT_POINT = 90
DEFAULT_STOP_LOSS_POINT = 30


class Stage(StrEnum):
    WAITING = "waiting"  # not yet triggered
    TRIGGERED = "triggered"  # triggered, waiting to enter
    ENTERED = "entered"  # entry signalled, waiting for take-profit or stop-loss
    EXITED = "exited"  # exit signalled; never fires again


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    symbol: str
    action: Side
    trigger_price: int
    quantity: int
    turning_point: int = DEFAULT_TURNING_POINT
    take_profit_point: int = DEFAULT_TAKE_PROFIT_POINT
    stop_loss_point: int = DEFAULT_STOP_LOSS_POINT
    is_following: bool = False
    stage: Stage = Stage.WAITING

    def __post_init__(self) -> None:
        for name in ("id", "symbol"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(name, "is missing or empty")
        if not isinstance(self.action, Side):
            raise InvalidInput("action", f"{self.action!r} is not one of buy, sell")
        _require_int("trigger_price", self.trigger_price, minimum=1)
        _require_int("quantity", self.quantity, minimum=1)
        for name in ("turning_point", "take_profit_point", "stop_loss_point"):
            _require_int(name, getattr(self, name), minimum=0)
        if not isinstance(self.is_following, bool):
            raise InvalidInput("is_following", f"{self.is_following!r} is not true or false")
        if not isinstance(self.stage, Stage):
            raise InvalidInput("stage", f"{self.stage!r} is not a stage")

    @property
    def order_price(self) -> int:
        """Where the condition enters: the trigger plus the turning point, away from the move."""
        if self.action is Side.BUY:
            return self.trigger_price + self.turning_point
        return self.trigger_price - self.turning_point

    @property
    def take_profit_price(self) -> int:
        if self.action is Side.BUY:
            return self.order_price + self.take_profit_point
        return self.order_price - self.take_profit_point

    @property
    def stop_loss_price(self) -> int:
        if self.action is Side.BUY:
            return self.order_price - self.stop_loss_point
        return self.order_price + self.stop_loss_point

    @property
    def is_trailing(self) -> bool:
        """Trailing moves the trigger with the market; a turning point of 0 disables it."""
        return self.is_following and self.turning_point != 0


FIELD_NAMES = frozenset(f.name for f in fields(Condition)) - {"stage"}


def condition_from_fields(raw: Mapping[str, object], *, default_id: str) -> Condition:
    """Build a new (waiting) condition from loosely typed input such as a JSON object.

    Unknown fields are refused (a misspelt `stop_loss_pont` must not silently fall back to a
    default); prices and points may be integral JSON numbers or decimal text.
    """
    unknown = sorted(set(raw) - FIELD_NAMES)
    if unknown:
        raise InvalidInput(unknown[0], "is not a condition field")
    for required in ("symbol", "action", "trigger_price", "quantity"):
        if raw.get(required) is None:
            raise InvalidInput(required, "is missing")
    action = raw["action"]
    if not isinstance(action, str) or action.strip().lower() not in {s.value for s in Side}:
        raise InvalidInput("action", f"{action!r} is not one of buy, sell")
    condition_id = raw.get("id", default_id)
    symbol = raw["symbol"]
    is_following = raw.get("is_following", False)
    condition = Condition(
        id=condition_id if isinstance(condition_id, str) else _text("id", condition_id),
        symbol=symbol.strip() if isinstance(symbol, str) else _text("symbol", symbol),
        action=Side(action.strip().lower()),
        trigger_price=whole_points(raw["trigger_price"], "trigger_price"),
        quantity=whole_points(raw["quantity"], "quantity"),
        turning_point=whole_points(
            raw.get("turning_point", DEFAULT_TURNING_POINT), "turning_point"
        ),
        take_profit_point=whole_points(
            raw.get("take_profit_point", DEFAULT_TAKE_PROFIT_POINT), "take_profit_point"
        ),
        stop_loss_point=whole_points(
            raw.get("stop_loss_point", DEFAULT_STOP_LOSS_POINT), "stop_loss_point"
        ),
        is_following=is_following if isinstance(is_following, bool) else _flag(is_following),
    )
    return check_condition(condition)


def check_condition(condition: Condition) -> Condition:
    """A condition within the shared limits, wherever it came from (a person, a frame).

    Kept out of `Condition.__post_init__` on purpose: a condition stored before a limit was
    tightened must still load, so that it can be listed and removed.
    """
    limits.check_condition_id(condition.id, "id")
    limits.check_symbol(condition.symbol)
    limits.check_price(condition.trigger_price, "trigger_price")
    # A condition enters, and exits, with one market order of its quantity.
    limits.check_quantity(condition.quantity, order_type=OrderType.MARKET)
    for name in ("turning_point", "take_profit_point", "stop_loss_point"):
        limits.check_points(getattr(condition, name), name)
    return condition


def _text(field: str, value: object) -> NoReturn:
    raise InvalidInput(field, f"{value!r} is not text")


def _flag(value: object) -> NoReturn:
    raise InvalidInput("is_following", f"{value!r} is not true or false")


def _require_int(field: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{value!r} is not a whole number")
    if value < minimum:
        raise InvalidInput(field, f"must be at least {minimum}, got {value}")
