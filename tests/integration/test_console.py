"""`aftm` subcommands and the menu as a user runs them: subprocesses against real services.

The gateway (sim broker), strategy and executor run as real processes on free ports; the
console reaches them through its AFTM_CONSOLE_* settings. Conditions are placed where the
market cannot reach them (a buy triggers at or below its trigger: 1 point never comes), so the
only orders in the module are the ones a test sends by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import ServiceProcess, endpoint, free_port

pytestmark = pytest.mark.slow
AFTM = [sys.executable, "-m", "aftm_console"]
DOWN_TIMEOUT_MS = "200"


def aftm(
    env: Mapping[str, str], *args: str, stdin: str = "", timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AFTM, *args],
        env={**_base_env(), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _base_env() -> dict[str, str]:
    """The test's environment without any AFTM_* a developer may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}


def parsed(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aftm: ")
    return lines[0]


@dataclass
class Stack:
    console: dict[str, str]  # what the console needs to reach the services
    processes: list[ServiceProcess]
    pub: str


def service_env(tmp: Path, **overrides: str) -> tuple[dict[str, str], dict[str, str], list[int]]:
    """(service env, console env, metrics ports) on free ports, state files under `tmp`."""
    pub, router, control, signals, executor_control = (endpoint() for _ in range(5))
    ports = [free_port() for _ in range(3)]
    env = {
        "AFTM_GATEWAY_PUB_BIND": pub,
        "AFTM_GATEWAY_ROUTER_BIND": router,
        "AFTM_GATEWAY_METRICS_PORT": str(ports[0]),
        "AFTM_GATEWAY_JOURNAL_PATH": str(tmp / "gateway-journal.sqlite"),
        "AFTM_GATEWAY_SIM_STATE_PATH": str(tmp / "sim.sqlite"),
        "AFTM_STRATEGY_TICK_CONNECT": pub,
        "AFTM_STRATEGY_SIGNAL_CONNECT": signals,
        "AFTM_STRATEGY_CONTROL_BIND": control,
        "AFTM_STRATEGY_METRICS_PORT": str(ports[1]),
        "AFTM_STRATEGY_STORE_PATH": str(tmp / "strategy.sqlite"),
        "AFTM_EXECUTOR_SIGNAL_BIND": signals,
        "AFTM_EXECUTOR_CONTROL_BIND": executor_control,
        "AFTM_EXECUTOR_GATEWAY_CONNECT": router,
        "AFTM_EXECUTOR_GATEWAY_PUB_CONNECT": pub,
        "AFTM_EXECUTOR_STRATEGY_CONNECT": control,
        "AFTM_EXECUTOR_METRICS_PORT": str(ports[2]),
        "AFTM_EXECUTOR_JOURNAL_PATH": str(tmp / "executor-journal.sqlite"),
        **overrides,
    }
    console = {
        "AFTM_CONSOLE_GATEWAY_CONNECT": router,
        "AFTM_CONSOLE_GATEWAY_PUB_CONNECT": pub,
        "AFTM_CONSOLE_STRATEGY_CONNECT": control,
        "AFTM_CONSOLE_EXECUTOR_CONNECT": executor_control,
    }
    return env, console, ports


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("console")
    env, console, ports = service_env(tmp)
    processes: list[ServiceProcess] = []
    try:
        for module, port in zip(
            ("aftm_gateway", "aftm_strategy", "aftm_executor"), ports, strict=True
        ):
            process = ServiceProcess(module, env, tmp / f"{module}.log").start()
            processes.append(process)
            process.wait_healthy(port)
        yield Stack(console, processes, env["AFTM_GATEWAY_PUB_BIND"])
    finally:
        for process in reversed(processes):
            process.stop()


# --- session ---------------------------------------------------------------------------------


def test_status_reports_every_service_up(stack: Stack) -> None:
    report = parsed(aftm(stack.console, "status", "--json"))

    assert isinstance(report, dict)
    assert {name: report[name]["up"] for name in report} == {
        "gateway": True,
        "strategy": True,
        "executor": True,
    }
    assert report["gateway"]["logged_in"] is True
    assert report["gateway"]["last_broker_event_age_s"] < 5
    assert report["executor"]["mode"] == "active"
    table = aftm(stack.console, "status")
    assert table.returncode == 0
    assert "sim broker, logged in" in table.stdout


def test_logout_then_login_again(stack: Stack) -> None:
    assert aftm(stack.console, "logout").returncode == 0
    try:
        report = parsed(aftm(stack.console, "status", "--json"))
        assert isinstance(report, dict)
        assert report["gateway"]["logged_in"] is False
        refused = assert_one_line_error(aftm(stack.console, "orders"), 1)
        assert refused.startswith("aftm: gateway refused: ")
        wrong = aftm(stack.console, "login", "--user", "sim", "--password-stdin", stdin="nope\n")
        assert "login refused" in assert_one_line_error(wrong, 1)
        assert "nope" not in wrong.stdout + wrong.stderr
    finally:
        login = aftm(stack.console, "login", "--user", "sim", "--password-stdin", stdin="sim\n")
    assert login.returncode == 0, login.stderr
    assert "logged in" in login.stdout
    report = parsed(aftm(stack.console, "status", "--json"))
    assert isinstance(report, dict)
    assert report["gateway"]["logged_in"] is True


def test_login_without_a_terminal_needs_password_stdin(stack: Stack) -> None:
    result = aftm(stack.console, "login", "--user", "sim")

    assert "--password-stdin" in assert_one_line_error(result, 2)


def test_futures_lists_the_sim_symbols_with_prices(stack: Stack) -> None:
    futures = parsed(aftm(stack.console, "futures", "--json"))

    assert isinstance(futures, list)
    assert {f["symbol"] for f in futures} == {"TXFL6", "MXFL6", "TMFL6"}
    assert all(f["last_price"] > 0 for f in futures)
    assert "TXFL6" in aftm(stack.console, "futures").stdout


def test_items_rm_and_add(stack: Stack) -> None:
    def registered() -> dict[str, bool]:
        futures = parsed(aftm(stack.console, "futures", "--json"))
        assert isinstance(futures, list)
        return {f["symbol"]: f["registered"] for f in futures}

    assert aftm(stack.console, "items", "rm", "MXFL6").returncode == 0
    assert registered()["MXFL6"] is False
    assert aftm(stack.console, "items", "add", "MXFL6").returncode == 0
    assert registered()["MXFL6"] is True
    assert_one_line_error(aftm(stack.console, "items", "add", "NOPE"), 1)


# --- conditions ------------------------------------------------------------------------------


def unreachable(*extra: str) -> list[str]:
    """A buy that triggers only at 1 point: never, on this market."""
    return [
        "conditions",
        "add",
        "--symbol",
        "TXFL6",
        "--action",
        "buy",
        "--trigger-price",
        "1",
        "--quantity",
        "2",
        *extra,
    ]


def conditions(stack: Stack) -> dict[str, dict[str, object]]:
    listed = parsed(aftm(stack.console, "conditions", "list", "--json"))
    assert isinstance(listed, list)
    return {c["id"]: c for c in listed}


def test_conditions_add_list_rm(stack: Stack) -> None:
    added = aftm(
        stack.console, *unreachable("--id", "far-1", "--turning-point", "4", "--following")
    )
    assert added.returncode == 0, added.stderr
    assert "far-1 added" in added.stdout

    listed = conditions(stack)["far-1"]
    assert listed["stage"] == "waiting"
    assert (listed["turning_point"], listed["is_following"], listed["order_price"]) == (4, True, 5)
    assert "far-1" in aftm(stack.console, "conditions", "list").stdout

    assert aftm(stack.console, "conditions", "rm", "far-1").returncode == 0
    assert "far-1" not in conditions(stack)
    assert_one_line_error(aftm(stack.console, "conditions", "rm", "far-1"), 1)


def test_conditions_add_generates_an_id(stack: Stack) -> None:
    added = aftm(stack.console, *unreachable())

    assert added.returncode == 0, added.stderr
    match = re.search(r"condition (c-[0-9a-f]{8}) added", added.stdout)
    assert match is not None, added.stdout
    assert match.group(1) in conditions(stack)
    aftm(stack.console, "conditions", "rm", match.group(1))


def test_a_duplicate_condition_id_is_refused(stack: Stack) -> None:
    assert aftm(stack.console, *unreachable("--id", "twice")).returncode == 0
    try:
        refused = assert_one_line_error(aftm(stack.console, *unreachable("--id", "twice")), 1)
        assert refused.startswith("aftm: strategy refused: ")
    finally:
        aftm(stack.console, "conditions", "rm", "twice")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--symbol", "XXFL6"), "not listed at the gateway"),
        (("--quantity", "0"), "quantity"),
        (("--trigger-price", "17500.5"), "trigger_price"),
    ],
)
def test_bad_conditions_are_refused_locally(
    stack: Stack, change: tuple[str, str], message: str
) -> None:
    args = unreachable(*change)

    error = assert_one_line_error(aftm(stack.console, *args, "--id", "bad"), 2)

    assert message in error
    assert "bad" not in conditions(stack)


# --- accounts and orders -----------------------------------------------------------------------


def test_account_list_and_use(stack: Stack) -> None:
    assert "unknown account" in assert_one_line_error(
        aftm(stack.console, "account", "use", "NOPE"), 1
    )
    used = aftm(stack.console, "account", "use", "SIM-0001")
    assert used.returncode == 0, used.stderr

    accounts = parsed(aftm(stack.console, "account", "list", "--json"))
    assert accounts == [{"account": "SIM-0001", "selected": True}]
    assert "*" in aftm(stack.console, "account", "list").stdout


def test_a_manual_order_fills_and_moves_the_position(stack: Stack) -> None:
    placed = aftm(
        stack.console, "order", "--symbol", "TMFL6", "--side", "buy", "--quantity", "2",
        "--account", "SIM-0001",
    )  # fmt: skip

    assert placed.returncode == 0, placed.stderr
    match = re.search(r"order (M[0-9a-f]{15}) filled", placed.stdout)
    assert match is not None, placed.stdout
    orders = parsed(aftm(stack.console, "orders", "--json"))
    assert isinstance(orders, list)
    mine = [o for o in orders if o["client_order_id"] == match.group(1)]
    assert len(mine) == 1
    order = mine[0]
    assert (order["symbol"], order["side"], order["quantity"], order["status"]) == (
        "TMFL6", "buy", 2, "filled",
    )  # fmt: skip
    assert order["filled_quantity"] == 2
    assert isinstance(order["average_price"], str)
    assert {"account", "reason", "broker_order_id"} <= set(order)
    positions = parsed(aftm(stack.console, "positions", "--json", "--account", "SIM-0001"))
    assert isinstance(positions, list)
    assert [(p["symbol"], p["net_quantity"]) for p in positions if p["symbol"] == "TMFL6"] == [
        ("TMFL6", 2)
    ]
    assert "TMFL6" in aftm(stack.console, "positions").stdout


@pytest.mark.parametrize("quantity", ["0", "-3", "two"])
def test_impossible_quantities_are_refused_locally(stack: Stack, quantity: str) -> None:
    before = parsed(aftm(stack.console, "orders", "--json"))

    args = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", quantity)
    assert_one_line_error(aftm(stack.console, *args), 2)

    assert parsed(aftm(stack.console, "orders", "--json")) == before


def test_an_unlisted_symbol_is_refused_by_the_gateway(stack: Stack) -> None:
    args = ("order", "--symbol", "ZZFL6", "--side", "sell", "--quantity", "1")

    assert "gateway refused" in assert_one_line_error(aftm(stack.console, *args), 1)


def test_a_broker_rejection_exits_1_with_the_reason(stack: Stack) -> None:
    args = ("order", "--symbol", "TXFL6", "--side", "sell", "--quantity", "5000")

    assert "rejected" in assert_one_line_error(aftm(stack.console, *args), 1)


# --- the menu --------------------------------------------------------------------------------


def test_the_menu_shows_futures(stack: Stack) -> None:
    result = aftm(stack.console, "menu", stdin="7\n0\n")

    assert result.returncode == 0, result.stderr
    assert "7 show futures" in result.stdout
    assert "TXFL6" in result.stdout


def test_the_menu_asks_again_after_wrong_answers(stack: Stack) -> None:
    answers = "9\n4\nTXFL6\nhold\nbuy\n0\n1\n2\n\n\n\nn\n"

    result = aftm(stack.console, "menu", stdin=answers)

    assert result.returncode == 0, result.stderr  # end of input ends the menu cleanly
    assert "'9' is not on the menu" in result.stdout
    assert "'hold' is not buy or sell" in result.stdout
    assert "must be at least 1, got 0" in result.stdout
    match = re.search(r"condition (c-[0-9a-f]{8}) added", result.stdout)
    assert match is not None, result.stdout
    assert conditions(stack)[match.group(1)]["turning_point"] == 15
    aftm(stack.console, "conditions", "rm", match.group(1))


def test_the_menu_reports_a_refusal_and_goes_on(stack: Stack) -> None:
    result = aftm(stack.console, "menu", stdin="5\nNOPE\n8\n0\n")

    assert result.returncode == 0, result.stderr
    assert "executor refused" in result.stdout
    assert "SIM-0001" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_no_arguments_without_a_terminal_prints_help() -> None:
    result = aftm({}, stdin="")

    assert result.returncode == 0
    assert "usage: aftm" in result.stdout


# --- everything down ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nowhere() -> dict[str, str]:
    """Console settings pointing at ports nothing listens on."""
    return {
        "AFTM_CONSOLE_GATEWAY_CONNECT": endpoint(),
        "AFTM_CONSOLE_GATEWAY_PUB_CONNECT": endpoint(),
        "AFTM_CONSOLE_STRATEGY_CONNECT": endpoint(),
        "AFTM_CONSOLE_EXECUTOR_CONNECT": endpoint(),
        "AFTM_CONSOLE_TIMEOUT_MS": DOWN_TIMEOUT_MS,
    }


@pytest.mark.parametrize(
    ("args", "service"),
    [
        (("logout",), "gateway"),
        (("futures", "--json"), "gateway"),
        (("items", "add", "TXFL6"), "gateway"),
        (("conditions", "add", "--symbol", "TXFL6", "--action", "buy", "--trigger-price", "1",
          "--quantity", "1"), "strategy"),
        (("conditions", "list", "--json"), "strategy"),
        (("conditions", "rm", "c-1"), "strategy"),
        (("account", "list", "--json"), "gateway"),
        (("account", "use", "SIM-0001"), "executor"),
        (("orders", "--json"), "gateway"),
        (("positions", "--json"), "gateway"),
    ],
)  # fmt: skip
def test_a_service_that_does_not_answer_exits_3(
    nowhere: dict[str, str], args: tuple[str, ...], service: str
) -> None:
    line = assert_one_line_error(aftm(nowhere, *args), 3)

    endpoint_of = nowhere[f"AFTM_CONSOLE_{service.upper()}_CONNECT"]
    assert line == (
        f"aftm: the {service} at {endpoint_of} did not answer within {DOWN_TIMEOUT_MS} ms "
        f"— is it running? (start everything with: aftm run)"
    )


def test_login_with_the_gateway_down_exits_3(nowhere: dict[str, str]) -> None:
    result = aftm(nowhere, "login", "--user", "sim", "--password-stdin", stdin="sim\n")

    assert "did not answer" in assert_one_line_error(result, 3)


def test_an_order_with_the_gateway_down_names_its_id_and_how_to_check(
    nowhere: dict[str, str],
) -> None:
    args = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", "1", "--account", "A")

    line = assert_one_line_error(aftm(nowhere, *args), 3)

    match = re.search(r"outcome of order (M[0-9a-f]{15}) is unknown", line)
    assert match is not None, line
    assert "aftm orders" in line


def test_status_reports_services_down_without_failing(nowhere: dict[str, str]) -> None:
    report = parsed(aftm(nowhere, "status", "--json"))

    assert isinstance(report, dict)
    assert [report[name]["up"] for name in ("gateway", "strategy", "executor")] == [False] * 3
    table = aftm(nowhere, "status")
    assert table.returncode == 0
    assert table.stdout.count("down") == 3


def test_the_menu_survives_a_service_that_is_down(nowhere: dict[str, str]) -> None:
    result = aftm(nowhere, "menu", stdin="7\n0\n")

    assert result.returncode == 0
    assert "did not answer" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_console_setting_exits_2_naming_it(nowhere: dict[str, str]) -> None:
    result = aftm({**nowhere, "AFTM_CONSOLE_TIMEOUT_MS": "soon"}, "status")

    assert result.returncode == 2
    assert "AFTM_CONSOLE_TIMEOUT_MS" in result.stderr


# --- a lost reply to an order ---------------------------------------------------------------


@pytest.mark.parametrize(("dropped", "exit_code"), [(1, 0), (2, 3)])
def test_a_lost_order_reply_is_retried_under_the_same_id(
    tmp_path: Path, dropped: int, exit_code: int
) -> None:
    env, console, ports = service_env(tmp_path, AFTM_GATEWAY_FAULT_DROP_REPLIES=str(dropped))
    gateway = ServiceProcess("aftm_gateway", env, tmp_path / "gateway.log").start()
    try:
        gateway.wait_healthy(ports[0])
        fast = {**console, "AFTM_CONSOLE_TIMEOUT_MS": "1000"}
        args = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", "1")

        result = aftm(fast, *args, "--account", "SIM-0001")

        assert result.returncode == exit_code, result.stderr
        match = re.search(r"order (M[0-9a-f]{15})", result.stdout + result.stderr)
        assert match is not None
        orders = parsed(aftm(fast, "orders", "--json"))
        assert isinstance(orders, list)
        assert [o["client_order_id"] for o in orders] == [match.group(1)]  # placed once
        assert orders[0]["status"] == "filled"
    finally:
        gateway.stop()


def test_a_condition_is_added_even_when_the_gateway_does_not_answer(
    stack: Stack, nowhere: dict[str, str]
) -> None:
    console = {
        **stack.console,
        "AFTM_CONSOLE_GATEWAY_CONNECT": nowhere["AFTM_CONSOLE_GATEWAY_CONNECT"],
        "AFTM_CONSOLE_TIMEOUT_MS": DOWN_TIMEOUT_MS,
    }

    result = aftm(console, *unreachable("--id", "unchecked"))

    assert result.returncode == 0, result.stderr
    assert "neither checked nor registered" in result.stderr
    assert "unchecked" in conditions(stack)
    aftm(stack.console, "conditions", "rm", "unchecked")
