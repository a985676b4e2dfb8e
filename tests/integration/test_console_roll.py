"""`aftm conditions add` on an expiring contract and `aftm conditions roll`, as a user runs them:
the console as a subprocess against a real sim gateway and strategy, all on a fake market clock
two days before TXFL6's last trading day (2026-12-16)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_console import (
    Stack,
    aftm,
    assert_one_line_error,
    conditions,
    service_env,
    unreachable,
)
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.slow
TWO_DAYS_BEFORE = "2026-12-14T10:00:00+08:00"
SYMBOLS = "TXFL6,TXFA7,MXFL6"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    clock = {"AFTM_MARKET_CLOCK_START": TWO_DAYS_BEFORE}
    env, console, ports = service_env(tmp_path, AFTM_GATEWAY_SIM_SYMBOLS=SYMBOLS, **clock)
    processes: list[ServiceProcess] = []
    try:
        for module, port in zip(("aftm_gateway", "aftm_strategy"), ports, strict=False):
            process = ServiceProcess(module, env, tmp_path / f"{module}.log").start()
            processes.append(process)
            process.wait_healthy(port)
        yield Stack({**console, **clock}, processes, env["AFTM_GATEWAY_PUB_BIND"])
    finally:
        for process in reversed(processes):
            process.stop()


def roll(stack: Stack, *options: str) -> tuple[int, dict[str, Any]]:
    done = aftm(stack.console, "conditions", "roll", "--yes", "--json", *options)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


def test_adding_on_an_expiring_contract_warns_once_and_succeeds(stack: Stack) -> None:
    added = aftm(stack.console, *unreachable("--id", "soon"))

    assert added.returncode == 0, added.stderr
    assert added.stderr.splitlines() == [
        "aftm: TXFL6 expires on 2026-12-16 (in 2 days): roll it with "
        "aftm conditions roll --from TXFL6 --to TXFA7"
    ]
    later = aftm(stack.console, *unreachable("--id", "later", "--symbol", "TXFA7"))
    assert (later.returncode, later.stderr) == (0, "")


def test_a_roll_moves_the_waiting_conditions_and_leaves_the_others(stack: Stack) -> None:
    assert aftm(stack.console, *unreachable("--id", "w1", "--turning-point", "4")).returncode == 0
    assert aftm(stack.console, *unreachable("--id", "w2", "--action", "sell",
                "--trigger-price", "900000")).returncode == 0  # fmt: skip
    # A buy triggers at or below its trigger: at 999999 the first tick triggers it.
    assert (
        aftm(stack.console, *unreachable("--id", "hit", "--trigger-price", "999999")).returncode
        == 0
    )
    assert aftm(stack.console, *unreachable("--id", "mx", "--symbol", "MXFL6")).returncode == 0
    deadline = time.monotonic() + 15
    while conditions(stack)["hit"]["stage"] == "waiting":
        assert time.monotonic() < deadline, "no tick ever triggered 'hit'"
        time.sleep(0.1)

    code, rolled = roll(stack, "--from", "TXFL6", "--to", "TXFA7", "--shift", "5")

    assert code == 1, rolled  # one could not be moved
    assert rolled["moved"] == [
        {"id": "w1", "new_id": "w1.rTXFA7"},
        {"id": "w2", "new_id": "w2.rTXFA7"},
    ]
    assert [entry["id"] for entry in rolled["not_moved"]] == ["hit"]
    after = conditions(stack)
    assert {"w1", "w2"}.isdisjoint(after)
    assert {"hit", "mx"} <= set(after)
    moved = after["w1.rTXFA7"]
    assert (moved["symbol"], moved["stage"], moved["trigger_price"], moved["turning_point"]) == (
        "TXFA7", "waiting", 6, 4,
    )  # fmt: skip
    assert after["w2.rTXFA7"]["action"] == "sell"


def test_a_roll_after_a_crash_between_add_and_remove_makes_no_second_copy(stack: Stack) -> None:
    assert aftm(stack.console, *unreachable("--id", "k1")).returncode == 0
    # As if a roll had added the copy and died before removing the original.
    copy = unreachable("--id", "k1.rTXFA7", "--symbol", "TXFA7")
    assert aftm(stack.console, *copy).returncode == 0

    code, rolled = roll(stack, "--from", "TXFL6", "--to", "TXFA7")

    assert (code, rolled["moved"], rolled["not_moved"]) == (
        0,
        [{"id": "k1", "new_id": "k1.rTXFA7"}],
        [],
    )
    after = conditions(stack)
    assert "k1" not in after
    assert [cid for cid in after if cid.startswith("k1")] == ["k1.rTXFA7"]
    assert roll(stack, "--from", "TXFL6", "--to", "TXFA7") == (
        0,
        {"from": "TXFL6", "to": "TXFA7", "moved": [], "not_moved": []},
    )


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("MXFA7", "is not a TXF contract"),
        ("TXFK6", "does not expire after TXFL6"),
        ("TXFB7", "not listed at the gateway"),
        ("TXF7", "field 'to'"),
    ],
)
def test_a_roll_to_a_wrong_contract_exits_2_and_moves_nothing(
    stack: Stack, to: str, message: str
) -> None:
    assert aftm(stack.console, *unreachable("--id", "stay")).returncode == 0

    done = aftm(stack.console, "conditions", "roll", "--yes", "--from", "TXFL6", "--to", to)

    assert message in assert_one_line_error(done, 2)
    assert conditions(stack)["stay"]["symbol"] == "TXFL6"


def test_a_roll_without_a_terminal_needs_yes(stack: Stack) -> None:
    assert aftm(stack.console, *unreachable("--id", "stay")).returncode == 0

    done = aftm(stack.console, "conditions", "roll", "--from", "TXFL6", "--to", "TXFA7")

    assert "pass --yes" in assert_one_line_error(done, 2)
    assert "stay" in conditions(stack)


def test_a_condition_the_shift_puts_out_of_range_stays_where_it_was(stack: Stack) -> None:
    # A sell at 999998 never triggers here; shifted by 5 its trigger passes 1,000,000.
    high = unreachable("--id", "edge", "--action", "sell", "--trigger-price", "999998")
    assert aftm(stack.console, *high).returncode == 0

    code, rolled = roll(stack, "--from", "TXFL6", "--to", "TXFA7", "--shift", "5")

    assert (code, rolled["moved"]) == (1, [])
    assert [entry["id"] for entry in rolled["not_moved"]] == ["edge"]
    after = conditions(stack)
    assert after["edge"]["symbol"] == "TXFL6"
    assert "edge.rTXFA7" not in after


def test_status_shows_the_market_session_and_its_next_open_on_the_market_clock(
    stack: Stack,
) -> None:
    # 2026-12-14 is a Monday: 10:00 is in the regular session. The executor is not started here,
    # so the status exits 3 (a service down) and still tells the market.
    table = aftm(stack.console, "status")
    as_json = aftm(stack.console, "status", "--json")

    assert table.returncode == 3
    assert (
        "market: TXF, MXF, TMF: regular session until 13:45 (Taiwan); next open 15:00 (after-hours)"
        in table.stdout
    )
    assert json.loads(as_json.stdout)["market"] == {
        "products": ["TXF", "MXF", "TMF"],
        "phase": "regular",
        "reason": None,
        "closes": "2026-12-14T13:45:00+08:00",
        "next_open": "2026-12-14T15:00:00+08:00",
        "next_open_session": "after_hours",
    }


def test_status_on_a_holiday_says_closed_and_when_it_opens(stack: Stack) -> None:
    holiday = {**stack.console, "AFTM_MARKET_CLOCK_START": "2027-01-01T23:00:00+08:00"}

    table = aftm(holiday, "status")

    assert "market: TXF, MXF, TMF: closed (holiday: " in table.stdout
    assert "next open 2027-01-04 08:45 (Taiwan, regular)" in table.stdout


def test_a_copy_left_beside_an_original_that_has_since_triggered_is_pointed_out(
    stack: Stack,
) -> None:
    assert (
        aftm(stack.console, *unreachable("--id", "hit", "--trigger-price", "999999")).returncode
        == 0
    )
    copy = unreachable("--id", "hit.rTXFA7", "--symbol", "TXFA7")
    assert aftm(stack.console, *copy).returncode == 0  # an earlier roll died after adding it
    deadline = time.monotonic() + 15
    while conditions(stack)["hit"]["stage"] == "waiting":
        assert time.monotonic() < deadline, "no tick ever triggered 'hit'"
        time.sleep(0.1)

    code, rolled = roll(stack, "--from", "TXFL6", "--to", "TXFA7")

    assert (code, rolled["moved"]) == (1, [])
    [(left)] = rolled["not_moved"]
    assert left["id"] == "hit"
    assert "its copy hit.rTXFA7 waits too: remove one" in left["reason"]
    assert {"hit", "hit.rTXFA7"} <= set(conditions(stack))
