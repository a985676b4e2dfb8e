"""Condition validation: every refusal names the field at fault."""

from __future__ import annotations

import pytest

from aftm.domain.conditions import Condition, Stage, check_condition, condition_from_fields
from aftm.domain.types import Side
from aftm.errors import InvalidInput

VALID: dict[str, object] = {
    "symbol": "TXFL6",
    "action": "buy",
    "trigger_price": 23000,
    "quantity": 2,
}


def test_defaults_are_the_seeds() -> None:
    condition = condition_from_fields(VALID, default_id="c1")

    assert condition == Condition(
        id="c1",
        symbol="TXFL6",
        action=Side.BUY,
        trigger_price=23000,
        quantity=2,
        turning_point=15,
        take_profit_point=90,
        stop_loss_point=30,
        is_following=False,
        stage=Stage.WAITING,
    )


def test_loose_but_exact_input_is_accepted() -> None:
    raw = VALID | {
        "id": "mine",
        "action": " SELL ",
        "trigger_price": "23000.0",
        "is_following": True,
    }

    condition = condition_from_fields(raw, default_id="c1")

    assert (condition.id, condition.action, condition.trigger_price, condition.is_following) == (
        "mine",
        Side.SELL,
        23000,
        True,
    )


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"action": "hold"}, "action", "not one of buy, sell"),
        ({"action": 1}, "action", "not one of buy, sell"),
        ({"quantity": 0}, "quantity", "at least 1"),
        ({"quantity": -3}, "quantity", "at least 1"),
        ({"quantity": 1.5}, "quantity", "whole number"),
        ({"quantity": True}, "quantity", "not a number"),
        ({"turning_point": -1}, "turning_point", "at least 0"),
        ({"take_profit_point": -1}, "take_profit_point", "at least 0"),
        ({"stop_loss_point": -5}, "stop_loss_point", "at least 0"),
        ({"symbol": None}, "symbol", "missing"),
        ({"symbol": "  "}, "symbol", "missing or empty"),
        ({"symbol": 7}, "symbol", "not text"),
        ({"trigger_price": "abc"}, "trigger_price", "not a number"),
        ({"trigger_price": "23000.5"}, "trigger_price", "whole number of points"),
        ({"trigger_price": 0}, "trigger_price", "at least 1"),
        ({"trigger_price": "NaN"}, "trigger_price", "not a finite number"),
        ({"is_following": "yes"}, "is_following", "true or false"),
        ({"stop_loss_pont": 10}, "stop_loss_pont", "not a condition field"),
        ({"id": ""}, "id", "missing or empty"),
        ({"stage": "entered"}, "stage", "not a condition field"),
        # The shared limits (aftm.domain.limits):
        ({"trigger_price": 10**9}, "trigger_price", "1 to 1000000 points"),
        ({"trigger_price": 2**63}, "trigger_price", "1 to 1000000 points"),
        ({"trigger_price": "1E+400"}, "trigger_price", "does not fit 64 bits"),
        ({"trigger_price": "1E+999999999"}, "trigger_price", "does not fit 64 bits"),
        ({"quantity": 11}, "quantity", "1 to 10 lots"),  # one market order, TAIFEX's limit
        ({"quantity": 2**64}, "quantity", "1 to 10 lots"),
        ({"turning_point": 2**63}, "turning_point", "0 to 1000000 points"),
        ({"stop_loss_point": 10**7}, "stop_loss_point", "0 to 1000000 points"),
        ({"id": "c" * 59}, "id", "1 to 58 characters"),  # leaves room for ":entry"
        ({"id": "my condition"}, "id", "may hold only"),
        ({"symbol": "TXF"}, "symbol", "TXFL6"),
        ({"symbol": "T" * 300}, "symbol", "not a symbol"),
    ],
)
def test_invalid_fields_are_refused_by_name(
    change: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        condition_from_fields(VALID | change, default_id="c1")

    assert refused.value.field == field
    assert fragment in str(refused.value)


def test_the_largest_condition_within_the_limits_is_accepted() -> None:
    raw = VALID | {
        "id": "c" * 58,
        "trigger_price": 1_000_000,
        "quantity": 10,
        "turning_point": 1_000_000,
        "take_profit_point": 0,
        "stop_loss_point": 1_000_000,
    }

    assert check_condition(condition_from_fields(raw, default_id="c1")).quantity == 10


@pytest.mark.parametrize("missing", ["symbol", "action", "trigger_price", "quantity"])
def test_required_fields(missing: str) -> None:
    raw = {k: v for k, v in VALID.items() if k != missing}

    with pytest.raises(InvalidInput, match="is missing") as refused:
        condition_from_fields(raw, default_id="c1")

    assert refused.value.field == missing
