"""Every stage transition of the seed's rules, for buy and sell, with and without trailing.

Reference condition: trigger 1000, turning 15, take profit 90, stop loss 30.
  buy:  order 1015, take profit 1105, stop loss 985
  sell: order  985, take profit  895, stop loss 1015
"""

from __future__ import annotations

import pytest

from aftm.domain.conditions import Stage
from aftm.domain.signals import SignalKind
from aftm.domain.types import Side
from aftm_strategy.semantics import step
from tests.builders import a_condition

B, S = Side.BUY, Side.SELL
W, T, E, X = Stage.WAITING, Stage.TRIGGERED, Stage.ENTERED, Stage.EXITED
ENTRY, TP, SL = SignalKind.ENTRY, SignalKind.TAKE_PROFIT, SignalKind.STOP_LOSS

# (action, following, stage before, price, stage after, fired, trigger after)
TRANSITIONS = [
    # waiting: triggers at or beyond the trigger, never enters on the same tick
    (B, False, W, 1001, W, None, 1000),
    (B, False, W, 1000, T, None, 1000),
    (B, False, W, 900, T, None, 1000),
    (B, True, W, 900, T, None, 900),  # triggering tick already trails
    (B, True, W, 1001, W, None, 1000),
    (S, False, W, 999, W, None, 1000),
    (S, False, W, 1000, T, None, 1000),
    (S, False, W, 1100, T, None, 1000),
    (S, True, W, 1100, T, None, 1100),
    (S, True, W, 999, W, None, 1000),
    # triggered: enters at the order price; trails only to a better trigger
    (B, False, T, 1014, T, None, 1000),
    (B, False, T, 1015, E, ENTRY, 1000),
    (B, False, T, 2000, E, ENTRY, 1000),  # one step per tick: no exit yet
    (B, False, T, 900, T, None, 1000),
    (B, True, T, 999, T, None, 999),
    (B, True, T, 1000, T, None, 1000),
    (B, True, T, 1010, T, None, 1000),
    (B, True, T, 1015, E, ENTRY, 1000),
    (S, False, T, 986, T, None, 1000),
    (S, False, T, 985, E, ENTRY, 1000),
    (S, False, T, 1100, T, None, 1000),
    (S, True, T, 1001, T, None, 1001),
    (S, True, T, 990, T, None, 1000),
    (S, True, T, 985, E, ENTRY, 1000),
    # entered: take profit, stop loss, or hold; trailing no longer applies
    (B, False, E, 1104, E, None, 1000),
    (B, False, E, 1105, X, TP, 1000),
    (B, False, E, 986, E, None, 1000),
    (B, False, E, 985, X, SL, 1000),
    (B, True, E, 900, X, SL, 1000),
    (S, False, E, 896, E, None, 1000),
    (S, False, E, 895, X, TP, 1000),
    (S, False, E, 1014, E, None, 1000),
    (S, False, E, 1015, X, SL, 1000),
    (S, True, E, 1100, X, SL, 1000),
    # exited: never fires again
    (B, False, X, 1105, X, None, 1000),
    (B, True, X, 1, X, None, 1000),
    (S, False, X, 895, X, None, 1000),
    (S, True, X, 5000, X, None, 1000),
]


@pytest.mark.parametrize(
    ("action", "following", "before", "price", "after", "fired", "trigger"), TRANSITIONS
)
def test_step_follows_the_seed_rules(
    action: Side,
    following: bool,
    before: Stage,
    price: int,
    after: Stage,
    fired: SignalKind | None,
    trigger: int,
) -> None:
    condition = a_condition(action=action, is_following=following, stage=before)

    result = step(condition, price)

    assert (result.condition.stage, result.fired, result.condition.trigger_price) == (
        after,
        fired,
        trigger,
    )


@pytest.mark.parametrize(("action", "order_price"), [(B, 965), (S, 1035)])
def test_trailing_moves_the_order_and_exit_prices_with_the_trigger(
    action: Side, order_price: int
) -> None:
    price = 950 if action is B else 1050
    condition = a_condition(action=action, is_following=True, stage=T)

    moved = step(condition, price).condition

    assert moved.order_price == order_price
    assert moved.take_profit_price == order_price + 90 * action.sign
    assert moved.stop_loss_price == order_price - 30 * action.sign


@pytest.mark.parametrize("action", [B, S])
def test_a_turning_point_of_zero_disables_trailing(action: Side) -> None:
    condition = a_condition(action=action, turning_point=0, is_following=True, stage=T)
    beyond = 900 if action is B else 1100

    assert step(condition, beyond).condition.trigger_price == 1000


@pytest.mark.parametrize("action", [B, S])
def test_take_profit_is_checked_before_stop_loss(action: Side) -> None:
    # With both distances 0 the two exits coincide at the order price.
    condition = a_condition(
        action=action, turning_point=0, take_profit_point=0, stop_loss_point=0, stage=E
    )

    assert step(condition, 1000).fired is TP


@pytest.mark.parametrize("action", [B, S])
def test_an_unchanged_condition_is_returned_as_is(action: Side) -> None:
    condition = a_condition(action=action)
    far = 1500 if action is B else 500

    assert step(condition, far).condition is condition


@pytest.mark.parametrize(
    ("action", "derived"),
    [(B, (1015, 1105, 985)), (S, (985, 895, 1015))],
)
def test_derived_prices(action: Side, derived: tuple[int, int, int]) -> None:
    condition = a_condition(action=action)

    assert (
        condition.order_price,
        condition.take_profit_price,
        condition.stop_loss_price,
    ) == derived
