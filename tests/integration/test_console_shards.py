"""The `aftm` command in front of two strategy shards and one or two executors, all real
processes behind a real sim gateway (the rig: test_shards.Fleet).

Conditions go to the shard owning their symbol under ids carrying its name, and are listed,
removed and rolled across shards; executor commands reach every executor or the one trading
--account. Whether signals became orders is judged from the gateway's own order list.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import zmq

from aftm.wire.protocol import (
    ConditionList,
    ExecutorStatus,
    GetExecutorStatus,
    ListConditions,
    ListOrders,
    ListPositions,
    OrderList,
    PositionList,
)
from tests.integration.test_shards import ACCOUNTS, Fleet, wait_until

Context = zmq.Context[zmq.Socket[bytes]]
AFTM = [sys.executable, "-m", "aftm_console"]
SHARDS: dict[str, tuple[str, ...]] = {
    "s1": ("TXFL6",),
    "s2": ("TMFL6",),
}  # MXFL6, listed by the sim, has no owner


def aftm(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
    return subprocess.run(
        [*AFTM, *args],
        env={**plain, "AFTM_CONSOLE_INSECURE": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def far_away(symbol: str, *extra: str) -> tuple[str, ...]:
    """A condition that cannot trigger at the sim's prices (~23000)."""
    return (
        "conditions", "add", "--symbol", symbol, "--action", "buy",
        "--trigger-price", "1", "--quantity", "1", *extra,
    )  # fmt: skip


def trading_soon(symbol: str, price: int) -> tuple[str, ...]:
    """A buy that triggers at once and enters, then exits, on small moves of the sim's walk."""
    return (
        "conditions", "add", "--symbol", symbol, "--action", "buy",
        "--trigger-price", str(price + 5), "--turning-point", "3", "--quantity", "1",
        "--take-profit-point", "2", "--stop-loss-point", "2",
    )  # fmt: skip


def shard_ids(fleet: Fleet, shard: str) -> list[str]:
    reply = fleet.ask(shard, ListConditions())
    assert isinstance(reply.body, ConditionList), reply
    return [c.id for c in reply.body.conditions]


def added_id(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    match = re.search(r"condition (\S+) added", result.stdout)
    assert match is not None, result.stdout
    return match.group(1)


def broker_orders(fleet: Fleet) -> OrderList:
    reply = fleet.ask("gateway", ListOrders())
    assert isinstance(reply.body, OrderList), reply
    return reply.body


@pytest.fixture(scope="module")
def context() -> Iterator[Context]:
    made: Context = zmq.Context()
    yield made
    made.destroy(0)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, context: Context) -> Iterator[Fleet]:
    started = Fleet(tmp_path_factory.mktemp("shards"), context, SHARDS)
    try:
        yield started.start()
    finally:
        started.stop()


# --- conditions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "shard", "other"), [("TXFL6", "s1", "s2"), ("TMFL6", "s2", "s1")]
)
def test_a_condition_lands_on_the_shard_owning_its_symbol(
    fleet: Fleet, symbol: str, shard: str, other: str
) -> None:
    added = aftm(fleet.console_env(), *far_away(symbol))

    condition_id = added_id(added)
    assert re.fullmatch(rf"{shard}\.c-[0-9a-f]{{8}}", condition_id), condition_id
    assert f"added on shard {shard}" in added.stdout
    assert condition_id in shard_ids(fleet, shard)
    assert condition_id not in shard_ids(fleet, other)


def test_one_id_given_twice_on_two_shards_makes_two_ids(fleet: Fleet) -> None:
    on_s1 = added_id(aftm(fleet.console_env(), *far_away("TXFL6", "--id", "same")))
    on_s2 = added_id(aftm(fleet.console_env(), *far_away("TMFL6", "--id", "same")))

    assert (on_s1, on_s2) == ("s1.same", "s2.same")
    listed = ok_json(aftm(fleet.console_env(), "conditions", "list", "--json"))
    assert isinstance(listed, list)
    ids = [c["id"] for c in listed]
    assert len(ids) == len(set(ids))


def test_a_symbol_no_shard_owns_exits_2_listing_the_shards(fleet: Fleet) -> None:
    before = shard_ids(fleet, "s1") + shard_ids(fleet, "s2")

    error = one_line_error(aftm(fleet.console_env(), *far_away("MXFL6")), 2)

    assert "no strategy shard owns 'MXFL6'" in error
    assert "s1 at " in error
    assert "(TXFL6)" in error
    assert "s2 at " in error
    assert "(TMFL6)" in error
    assert shard_ids(fleet, "s1") + shard_ids(fleet, "s2") == before


def test_list_shows_every_shards_conditions_with_the_shard(fleet: Fleet) -> None:
    on_s1 = added_id(aftm(fleet.console_env(), *far_away("TXFL6")))
    on_s2 = added_id(aftm(fleet.console_env(), *far_away("TMFL6")))

    listed = ok_json(aftm(fleet.console_env(), "conditions", "list", "--json"))
    assert isinstance(listed, list)
    shard_of = {c["id"]: c["shard"] for c in listed}
    assert (shard_of[on_s1], shard_of[on_s2]) == ("s1", "s2")
    assert set(shard_of) == set(shard_ids(fleet, "s1") + shard_ids(fleet, "s2"))
    table = aftm(fleet.console_env(), "conditions", "list").stdout
    assert table.splitlines()[0].split()[:2] == ["shard", "id"]


def test_rm_finds_the_shard_holding_the_id(fleet: Fleet) -> None:
    on_s2 = added_id(aftm(fleet.console_env(), *far_away("TMFL6")))

    removed = aftm(fleet.console_env(), "conditions", "rm", on_s2)

    assert removed.returncode == 0, removed.stderr
    assert on_s2 not in shard_ids(fleet, "s2")
    assert "no shard holds" in one_line_error(
        aftm(fleet.console_env(), "conditions", "rm", on_s2), 1
    )


# --- roll across shards -------------------------------------------------------------------------


@pytest.fixture
def december_and_january(tmp_path: Path, context: Context) -> Iterator[Fleet]:
    """TXFL6 on s1, its next month TXFA7 on s2."""
    listed = {"AFTM_GATEWAY_SIM_SYMBOLS": "TXFL6,TXFA7,TMFL6"}
    shards: dict[str, tuple[str, ...]] = {"s1": ("TXFL6",), "s2": ("TXFA7", "TMFL6")}
    started = Fleet(tmp_path, context, shards, gateway_env=listed)
    try:
        yield started.start()
    finally:
        started.stop()


def roll(fleet: Fleet) -> tuple[int, dict[str, object]]:
    done = aftm(fleet.console_env(), "conditions", "roll", "--from", "TXFL6", "--to", "TXFA7",
                "--yes", "--json")  # fmt: skip
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_roll_moves_a_condition_to_the_shard_owning_the_new_month(
    december_and_january: Fleet,
) -> None:
    fleet = december_and_january
    original = added_id(aftm(fleet.console_env(), *far_away("TXFL6", "--id", "r1")))

    code, rolled = roll(fleet)

    assert code == 0, rolled
    assert rolled["moved"] == [{"id": "s1.r1", "new_id": "s2.r1.rTXFA7"}]
    assert original not in shard_ids(fleet, "s1")
    assert "s2.r1.rTXFA7" in shard_ids(fleet, "s2")
    assert roll(fleet) == (0, {"from": "TXFL6", "to": "TXFA7", "moved": [], "not_moved": []})


def test_a_roll_stopped_between_add_and_remove_only_removes_when_run_again(
    december_and_january: Fleet,
) -> None:
    fleet = december_and_january
    added_id(aftm(fleet.console_env(), *far_away("TXFL6", "--id", "r2")))
    # What a roll killed after adding the copy on s2 and before removing the original left.
    added_id(aftm(fleet.console_env(), *far_away("TXFA7", "--id", "r2.rTXFA7")))

    code, rolled = roll(fleet)

    assert code == 0, rolled
    assert rolled["moved"] == [{"id": "s1.r2", "new_id": "s2.r2.rTXFA7"}]
    assert shard_ids(fleet, "s1") == []
    assert shard_ids(fleet, "s2") == ["s2.r2.rTXFA7"]


# --- status --------------------------------------------------------------------------------------


def test_status_shows_every_shard_and_the_executor(fleet: Fleet) -> None:
    report = ok_json(aftm(fleet.console_env(), "status", "--json"))

    assert isinstance(report, dict)
    assert report["strategy s1"]["symbols"] == ["TXFL6"]
    assert report["strategy s2"]["symbols"] == ["TMFL6"]
    assert report["strategy s1"]["up"]
    assert report["strategy s2"]["up"]
    assert report["executor"]["account"] == "SIM-0001"
    text = aftm(fleet.console_env(), "status").stdout
    assert "shard s1 (TXFL6)" in text
    assert "shard s2 (TMFL6)" in text


# --- trading -------------------------------------------------------------------------------------


def test_signals_of_both_shards_become_orders_at_the_broker(fleet: Fleet) -> None:
    prices = fleet.last_prices()
    before = len(broker_orders(fleet).orders)
    for symbol in ("TXFL6", "TMFL6"):
        added_id(aftm(fleet.console_env(), *trading_soon(symbol, prices[symbol])))

    def both_symbols_ordered() -> set[str] | None:
        symbols = {order.symbol for order in broker_orders(fleet).orders[before:]}
        return symbols if {"TXFL6", "TMFL6"} <= symbols else None

    wait_until("orders on both shards' symbols at the broker", both_symbols_ordered, fleet, 60)


# --- two executors, one per account ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory, context: Context) -> Iterator[Fleet]:
    started = Fleet(tmp_path_factory.mktemp("accounts"), context, SHARDS, ACCOUNTS)
    try:
        yield started.start()
    finally:
        started.stop()


def holding(symbol: str, price: int) -> tuple[str, ...]:
    """A buy that enters on a small move and then holds: exits only 1,000 points away."""
    return (
        "conditions", "add", "--symbol", symbol, "--action", "buy",
        "--trigger-price", str(price + 5), "--turning-point", "3", "--quantity", "1",
        "--take-profit-point", "1000", "--stop-loss-point", "1000",
    )  # fmt: skip


def broker_positions(fleet: Fleet, account: str) -> dict[str, int]:
    reply = fleet.ask("gateway", ListPositions(account))
    assert isinstance(reply.body, PositionList), reply
    return {p.symbol: p.net_quantity for p in reply.body.positions if p.net_quantity}


def test_both_shards_trade_on_both_accounts_and_positions_agree_with_the_broker(
    two_accounts: Fleet,
) -> None:
    fleet = two_accounts
    prices = fleet.last_prices()
    for symbol in ("TXFL6", "TMFL6"):
        added_id(aftm(fleet.console_env(), *holding(symbol, prices[symbol])))
    wanted = {"TXFL6": 1, "TMFL6": 1}

    def both_accounts_hold_both() -> bool:
        return all(broker_positions(fleet, account) == wanted for account in ACCOUNTS)

    wait_until("a lot of each symbol on each account", both_accounts_hold_both, fleet, 60)
    for account in ACCOUNTS:  # each executor received every signal of both shards
        reply = fleet.ask(account, GetExecutorStatus())
        assert isinstance(reply.body, ExecutorStatus), reply
        assert reply.body.signals_received >= 2, reply.body

    def shown() -> dict[str, dict[str, int]] | None:
        document = ok_json(aftm(fleet.console_env(), "positions", "--json"))
        assert isinstance(document, dict)
        by_account: dict[str, dict[str, int]] = {account: {} for account in ACCOUNTS}
        for row in document["positions"]:
            if row["broker"]:
                by_account[row["account"]][row["symbol"]] = row["broker"]
            assert row["book"] == row["broker"], row  # the executor's book agrees
        return by_account if all(rows == wanted for rows in by_account.values()) else None

    shown_positions = wait_until("positions --json showing both accounts", shown, fleet, 20)
    assert shown_positions == {account: broker_positions(fleet, account) for account in ACCOUNTS}

    trades = ok_json(aftm(fleet.console_env(), "trades", "--json"))
    assert isinstance(trades, list)
    assert sorted((t["account"], t["symbol"]) for t in trades) == sorted(
        (account, symbol) for account in ACCOUNTS for symbol in wanted
    )
    one = ok_json(aftm(fleet.console_env(), "trades", "--json", "--account", ACCOUNTS[1]))
    assert isinstance(one, list)
    assert sorted((t["account"], t["symbol"]) for t in one) == [
        (ACCOUNTS[1], "TMFL6"),
        (ACCOUNTS[1], "TXFL6"),
    ]


def test_status_shows_every_executor_with_its_account(two_accounts: Fleet) -> None:
    report = ok_json(aftm(two_accounts.console_env(), "status", "--json"))

    assert isinstance(report, dict)
    assert [report[f"executor {n}"]["account"] for n in (1, 2)] == list(ACCOUNTS)
    assert [report[f"executor {n}"]["up"] for n in (1, 2)] == [True, True]


def test_an_order_needs_an_account_that_an_executor_trades(two_accounts: Fleet) -> None:
    order = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", "1")
    before = len(broker_orders(two_accounts).orders)

    unpicked = one_line_error(aftm(two_accounts.console_env(), *order), 2)
    unknown = one_line_error(aftm(two_accounts.console_env(), *order, "--account", "NOPE"), 2)

    assert "2 executors are listed" in unpicked
    assert "--account" in unpicked
    assert "no executor trades 'NOPE'" in unknown
    assert all(account in unknown for account in ACCOUNTS)
    assert len(broker_orders(two_accounts).orders) == before


def test_halt_reaches_every_executor_and_resume_account_only_its_own(
    two_accounts: Fleet,
) -> None:
    env = two_accounts.console_env()

    def modes() -> list[str]:
        report = ok_json(aftm(env, "status", "--json"))
        assert isinstance(report, dict)
        return [report[f"executor {n}"]["mode"] for n in (1, 2)]

    try:
        assert aftm(env, "halt").returncode == 0
        assert modes() == ["halted", "halted"]
        resumed = aftm(env, "resume", "--account", ACCOUNTS[1])
        assert resumed.returncode == 0, resumed.stderr
        assert f"account {ACCOUNTS[1]}" in resumed.stdout
        assert modes() == ["halted", "active"]
    finally:
        aftm(env, "resume")


def test_the_menus_brakes_reach_every_executor_and_its_order_the_accounts_one(
    two_accounts: Fleet,
) -> None:
    env = two_accounts.console_env()
    before = len(broker_orders(two_accounts).orders)

    def modes() -> list[str]:
        report = ok_json(aftm(env, "status", "--json"))
        assert isinstance(report, dict)
        return [report[f"executor {n}"]["mode"] for n in (1, 2)]

    try:
        halted = menu(env, "11\n0\n")
        assert halted.returncode == 0, halted.stderr
        assert modes() == ["halted", "halted"]
        resumed = menu(env, "12\n0\n")
        assert modes() == ["active", "active"], resumed.stdout
    finally:
        aftm(env, "resume")
    ordered = menu(env, f"6\nMXFL6\nbuy\n1\n{ACCOUNTS[1]}\n0\n")

    assert f"open: buy 1 MXFL6 on {ACCOUNTS[1]}" in ordered.stdout, ordered.stdout
    placed = broker_orders(two_accounts).orders[before:]
    assert [(o.account, o.symbol) for o in placed] == [(ACCOUNTS[1], "MXFL6")]


def menu(env: Mapping[str, str], answers: str) -> subprocess.CompletedProcess[str]:
    plain = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
    return subprocess.run(
        [*AFTM, "menu"],
        env={**plain, "AFTM_CONSOLE_INSECURE": "true", **env},
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- settings ------------------------------------------------------------------------------------

TEN_THOUSAND = ",".join(f"tcp://h:{1 + n}" for n in range(10_000))


@pytest.mark.parametrize(
    "variable", ["AFTM_CONSOLE_STRATEGY_CONNECT", "AFTM_CONSOLE_EXECUTOR_CONNECT"]
)
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "endpoint 1 of 1 is empty"),
        ("tcp://127.0.0.1:1,,tcp://127.0.0.1:2", "endpoint 2 of 3 is empty"),
        ("tcp://127.0.0.1:1,tcp://127.0.0.1:1", "listed twice"),
        ("tcp://127.0.0.1:1,tcp://*:2", "concrete host"),
        (TEN_THOUSAND, "10000 endpoints; at most 64"),
    ],
    ids=["empty", "empty-element", "duplicate", "wildcard", "ten-thousand"],
)
def test_a_bad_endpoint_list_exits_2_naming_the_variable(
    variable: str, value: str, why: str
) -> None:
    error = one_line_error(aftm({variable: value}, "conditions", "list"), 2)

    assert f"invalid setting {variable}:" in error
    assert why in error
    assert len(error) < 1000
