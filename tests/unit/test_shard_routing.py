"""Which shard owns a symbol and what ids it takes (strategy side), and how the console picks
a shard, names a copy and merges several executors' reconciliations: pure values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.errors import InvalidInput
from aftm.wire.protocol import (
    HEARTBEAT_TOPIC,
    TICK_TOPIC,
    PositionCheck,
    ReconcileState,
    Reconciliation,
    ShardInfo,
)
from aftm_console import shards as console
from aftm_console.executors import merged
from aftm_strategy.shard import Shard
from tests.builders import a_condition

S1 = Shard("s1", ("TXFL6", "MXFL6"))
UNNAMED = Shard()


def test_a_named_shard_subscribes_to_its_symbols_and_the_heartbeat_only() -> None:
    assert S1.topics() == (b"tick:TXFL6", b"tick:MXFL6", HEARTBEAT_TOPIC)


def test_the_unnamed_shard_subscribes_to_every_tick() -> None:
    assert UNNAMED.topics() == (TICK_TOPIC, HEARTBEAT_TOPIC)


@pytest.mark.parametrize(
    ("condition_id", "symbol", "why"),
    [
        ("s1.c-1", "TMFL6", "shard 's1' owns TXFL6, MXFL6, not 'TMFL6'"),
        ("c-1", "TXFL6", "starts with 's1.'"),
        ("s10.c-1", "TXFL6", "starts with 's1.'"),
        ("s1c-1", "TXFL6", "starts with 's1.'"),
    ],
)
def test_a_named_shard_refuses_other_symbols_and_ids_without_its_name(
    condition_id: str, symbol: str, why: str
) -> None:
    assert why in S1.refusal(a_condition(id=condition_id, symbol=symbol))


def test_a_named_shard_takes_its_symbol_under_its_name() -> None:
    assert S1.refusal(a_condition(id="s1.c-1", symbol="MXFL6")) == ""


def test_the_unnamed_shard_takes_any_symbol_and_id() -> None:
    assert UNNAMED.refusal(a_condition(id="s1.c-1", symbol="TMFL6")) == ""
    assert UNNAMED.info() == ShardInfo("", ())


def test_stored_conditions_on_symbols_not_owned_are_strays() -> None:
    kept, stray = a_condition(id="a", symbol="TXFL6"), a_condition(id="b", symbol="TMFL6")

    assert S1.strays([kept, stray]) == [stray]


# --- the console's side ---------------------------------------------------------------------------

C1 = console.Shard("tcp://h:1", "s1", ("TXFL6",))
C2 = console.Shard("tcp://h:2", "s2", ("TMFL6", "MXFL6"))


def test_the_one_owner_is_found() -> None:
    assert console.owner([C1, C2], "MXFL6") == C2


def test_no_owner_is_bad_input_listing_every_shard() -> None:
    with pytest.raises(InvalidInput, match="no strategy shard owns 'TXFA7'") as refused:
        console.owner([C1, C2], "TXFA7")

    assert "s1 at tcp://h:1 (TXFL6)" in str(refused.value)
    assert "s2 at tcp://h:2 (TMFL6, MXFL6)" in str(refused.value)


def test_two_owners_are_a_setup_error_naming_both() -> None:
    also = console.Shard("tcp://h:3", "s3", ("TXFL6",))

    with pytest.raises(console.ShardSetupError, match=r"TXFL6 is owned by s1 .* and s3"):
        console.owner([C1, also], "TXFL6")


def test_an_unnamed_strategy_beside_a_shard_owns_everything_twice() -> None:
    unnamed = console.Shard("tcp://h:3", "", ())

    with pytest.raises(console.ShardSetupError):
        console.owner([C1, unnamed], "TXFL6")


@pytest.mark.parametrize(
    ("shard", "given", "stored"),
    [
        (C1, "x1", "s1.x1"),
        (C1, "s1.x1", "s1.x1"),
        (C2, "s1.x1", "s2.s1.x1"),
        (console.Shard("tcp://h:1", "", ()), "x1", "x1"),
    ],
)
def test_an_id_gets_the_shards_name_once(shard: console.Shard, given: str, stored: str) -> None:
    assert console.shard_id(shard, given) == stored


def test_an_id_too_long_with_the_name_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="field 'id'"):
        console.shard_id(C1, "x" * 56)


def test_a_copy_on_another_shard_drops_the_old_name() -> None:
    assert console.unprefixed(C1, "s1.x1") == "x1"
    assert console.unprefixed(console.Shard("e", "", ()), "s1.x1") == "s1.x1"


def _check(account: str, state: ReconcileState, book: int = 1) -> PositionCheck:
    return PositionCheck(account, "TXFL6", book, 1, Decimal(1), Decimal(1), state)


def _found(state: ReconcileState, *checks: PositionCheck, detail: str = "") -> Reconciliation:
    return Reconciliation(state, 5, detail, 1, 2, False, tuple(checks))


def test_merged_reconciliations_keep_each_executors_own_account_and_the_worst_state() -> None:
    a = _found(
        ReconcileState.AGREED,
        _check("A", ReconcileState.AGREED),
        _check("B", ReconcileState.DIFFERS, book=0),  # B as A's executor sees it: not its own
    )
    b = _found(ReconcileState.SETTLING, _check("B", ReconcileState.SETTLING), detail="in flight")

    both = merged([("A", a), ("B", b)])

    assert both.state is ReconcileState.SETTLING
    assert [(c.account, c.book) for c in both.positions] == [("A", 1), ("B", 1)]
    assert (both.fills_applied, both.orders_asked, both.detail) == (2, 4, "B: in flight")
