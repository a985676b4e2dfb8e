"""`aftm` subcommands and the menu as a user runs them: subprocesses against real services.

The gateway (sim broker), strategy and executor run as real processes on free ports; the
console reaches them through its AFTM_CONSOLE_* settings. Conditions are placed where the
market cannot reach them (a buy triggers at or below its trigger: 1 point never comes), so the
only orders in the module are the manual ones a test sends through the executor. Each test
uses its own symbol or compares before and after, so the shared stack's history does not
matter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from aftm.wire.protocol import ExecutorStatus, GetExecutorStatus, ListPositions, PositionList
from aftm.wire.reliable import ReliableClient
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
    plain = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
    return {**plain, "AFTM_CONSOLE_INSECURE": "true"}  # its services run without keys


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
    # Below TAIFEX's 10 lots a market order, so that the executor's own lot limit is reachable.
    env, console, ports = service_env(tmp, AFTM_EXECUTOR_MAX_LOTS_PER_ORDER="5")
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
    assert {name: report[name]["up"] for name in report if name != "market"} == {
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
    assert_one_line_error(aftm(stack.console, "items", "add", "TXFA9"), 1)  # well formed, unlisted


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
        (("--symbol", "XXF6"), "is not a symbol such as TXFL6"),
        (("--quantity", "0"), "quantity"),
        (("--trigger-price", "17500.5"), "trigger_price"),
        (("--trigger-price", "1000000000"), "trigger_price"),
        (("--trigger-price", str(2**64)), "trigger_price"),
        (("--quantity", "11"), "quantity"),
        (("--stop-loss-point", "1E+30"), "stop_loss_point"),
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


def ask(endpoint_to: str, body: object) -> object:
    """One request straight to a service's socket, past the console; the reply's body."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    client = ReliableClient(context, endpoint_to, timeout_ms=5000)
    try:
        return client.request(body, retries=1).body
    finally:
        client.close()
        context.term()


def executor_status(stack: Stack) -> ExecutorStatus:
    """Straight from the executor's control socket: its own positions, as it counts them."""
    status = ask(stack.console["AFTM_CONSOLE_EXECUTOR_CONNECT"], GetExecutorStatus())
    assert isinstance(status, ExecutorStatus), status
    return status


def net_position(stack: Stack, symbol: str) -> int:
    return sum(p.net_quantity for p in executor_status(stack).positions if p.symbol == symbol)


def broker_position(stack: Stack, symbol: str) -> int:
    """Straight from the gateway: `aftm positions` shows the broker's figures only through the
    executor's reconciliation, and this checks the broker independently of the executor."""
    listed = ask(stack.console["AFTM_CONSOLE_GATEWAY_CONNECT"], ListPositions("SIM-0001"))
    assert isinstance(listed, PositionList), listed
    return sum(p.net_quantity for p in listed.positions if p.symbol == symbol)


def trades(stack: Stack, *options: str) -> dict[str, dict[str, Any]]:
    listed = parsed(aftm(stack.console, "trades", "--json", *options))
    assert isinstance(listed, list)
    return {t["trade_id"]: t for t in listed}


def eventually(what: str, probe: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def order(stack: Stack, symbol: str, side: str, quantity: int) -> str:
    """A manual order that must fill; its trade id."""
    placed = aftm(
        stack.console, "order", "--symbol", symbol, "--side", side, "--quantity", str(quantity),
        "--account", "SIM-0001",
    )  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    sent = re.search(r"sending order (M[0-9a-f]{15}): market", placed.stdout)
    filled = rf"trade (\S+) open: {side} {quantity} {symbol} on SIM-0001, entry filled {quantity} @"
    opened = re.search(filled, placed.stdout)
    assert sent is not None, placed.stdout
    assert opened is not None, placed.stdout
    return opened.group(1)


def test_a_manual_order_goes_through_the_executor_and_counts_in_its_position(
    stack: Stack,
) -> None:
    executor_before = net_position(stack, "TMFL6")
    broker_before = broker_position(stack, "TMFL6")

    trade_id = order(stack, "TMFL6", "buy", 2)

    trade = trades(stack)[trade_id]
    assert (trade["symbol"], trade["side"], trade["quantity"], trade["state"]) == (
        "TMFL6", "buy", 2, "open",
    )  # fmt: skip
    assert (trade["account"], trade["entry_filled"], trade["exit_filled"]) == ("SIM-0001", 2, 0)
    assert isinstance(trade["entry_price"], str)
    (entry,) = trade["orders"]
    assert (entry["leg"], entry["side"], entry["quantity"], entry["filled_quantity"]) == (
        "entry", "buy", 2, 2,
    )  # fmt: skip
    eventually(
        "the executor's position", lambda: net_position(stack, "TMFL6") == executor_before + 2
    )
    assert broker_position(stack, "TMFL6") == broker_before + 2
    assert trade_id in trades(stack, "--open")
    table = aftm(stack.console, "trades")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("trade id")
    assert re.search(rf"{trade_id} .* TMFL6 .* open .* 2 @ [0-9.]+", table.stdout)


def test_positions_and_reconcile_show_the_book_beside_the_broker(stack: Stack) -> None:
    order(stack, "TXFL6", "sell", 1)

    shown = aftm(stack.console, "positions", "--json")
    reconciled = aftm(stack.console, "reconcile", "--json")

    assert shown.returncode == 0, shown.stderr
    document = parsed(shown)
    assert isinstance(document, dict)
    rows = {(r["account"], r["symbol"]): r for r in document["positions"]}
    row = rows[("SIM-0001", "TXFL6")]
    assert row["book"] == row["broker"] == broker_position(stack, "TXFL6") != 0
    assert row["state"] == "agreed"
    assert reconciled.returncode == 0, reconciled.stderr
    summary = parsed(reconciled)
    assert isinstance(summary, dict)
    assert (summary["state"], summary["entries_halted"]) == ("agreed", False)


def test_flatten_closes_what_a_manual_order_opened_even_while_halted(stack: Stack) -> None:
    trade_id = order(stack, "MXFL6", "sell", 1)
    halted = aftm(stack.console, "halt")
    assert halted.returncode == 0, halted.stderr
    try:
        assert "trading mode is now halted" in halted.stdout

        flattened = aftm(stack.console, "flatten", "--symbol", "MXFL6", "--yes")

        assert flattened.returncode == 0, flattened.stderr
        assert "closing MXFL6 positions at market" in flattened.stdout
        assert trade_id in flattened.stdout
        eventually("the trade to close", lambda: trades(stack)[trade_id]["state"] == "done")
    finally:
        resumed = aftm(stack.console, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "trading mode is now active" in resumed.stdout
    trade = trades(stack)[trade_id]
    assert (trade["entry_filled"], trade["exit_filled"]) == (1, 1)
    assert {o["leg"] for o in trade["orders"]} == {"entry", "exit"}
    assert trade_id not in trades(stack, "--open")
    eventually("a flat executor position", lambda: net_position(stack, "MXFL6") == 0)
    assert broker_position(stack, "MXFL6") == 0
    again = aftm(stack.console, "flatten", "--symbol", "MXFL6", "--yes")
    assert again.returncode == 0, again.stderr
    assert "nothing to close" in again.stdout


def test_a_halted_executor_refuses_a_manual_order_until_resumed(stack: Stack) -> None:
    args = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", "1")
    assert aftm(stack.console, "halt").returncode == 0
    try:
        line = assert_one_line_error(aftm(stack.console, *args, "--account", "SIM-0001"), 1)
        assert line.startswith("aftm: executor refused: ")
        assert "(bad_request)" not in line  # refused as an order, not as an unknown request
    finally:
        assert aftm(stack.console, "resume").returncode == 0
    order(stack, "TXFL6", "buy", 1)


@pytest.mark.parametrize("mode", ["reducing", "halted", "active"])
def test_mode_sets_and_prints_each_mode(stack: Stack, mode: str) -> None:
    try:
        result = aftm(stack.console, "mode", mode)

        assert result.returncode == 0, result.stderr
        assert f"the executor's trading mode is now {mode} (" in result.stdout
        report = parsed(aftm(stack.console, "status", "--json"))
        assert isinstance(report, dict)
        assert report["executor"]["mode"] == mode
    finally:
        aftm(stack.console, "resume")


def test_an_unlisted_symbol_is_refused_with_the_reason(stack: Stack) -> None:
    args = ("order", "--symbol", "ZZFL6", "--side", "sell", "--quantity", "1")

    line = assert_one_line_error(aftm(stack.console, *args), 1)

    # Refused by the executor itself or, once placed, by the gateway: either way it says why.
    assert "ZZFL6" in line
    assert "(bad_request)" not in line


def test_an_order_over_the_risk_limit_exits_1_with_the_reason(stack: Stack) -> None:
    before = trades(stack)
    args = ("order", "--symbol", "TXFL6", "--side", "sell", "--quantity", "6")  # limit: 5

    line = assert_one_line_error(aftm(stack.console, *args), 1)

    assert "rejected" in line
    opened = [t for t in trades(stack).values() if t["trade_id"] not in before]
    assert all(t["entry_filled"] == 0 for t in opened)  # recorded as refused, nothing placed


# --- the menu --------------------------------------------------------------------------------


def test_the_menu_shows_futures(stack: Stack) -> None:
    result = aftm(stack.console, "menu", stdin="7\n0\n")

    assert result.returncode == 0, result.stderr
    assert "7 show futures" in result.stdout
    assert "TXFL6" in result.stdout


def test_the_menu_asks_again_after_wrong_answers(stack: Stack) -> None:
    answers = "99\n4\nTXFL6\nhold\nbuy\n0\n1\n2\n\n\n\nn\n"

    result = aftm(stack.console, "menu", stdin=answers)

    assert result.returncode == 0, result.stderr  # end of input ends the menu cleanly
    assert "'99' is not on the menu" in result.stdout
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


def test_the_menu_sends_a_market_order_through_the_executor(stack: Stack) -> None:
    result = aftm(stack.console, "menu", stdin="6\nTMFL6\nbuy\n1\nSIM-0001\n9\n0\n")

    assert result.returncode == 0, result.stderr
    opened = re.search(r"trade (\S+) open: buy 1 TMFL6 on SIM-0001", result.stdout)
    assert opened is not None, result.stdout
    assert opened.group(1) in trades(stack)
    assert "realised TWD" in result.stdout  # 9: the trades table


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
        (("trades", "--json"), "executor"),
        (("halt",), "executor"),
        (("resume",), "executor"),
        (("mode", "reducing"), "executor"),
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


@pytest.mark.parametrize(
    ("args", "exit_code"), [(("positions", "--json"), 3), (("reconcile", "--json"), 2)]
)
def test_positions_and_reconcile_with_the_executor_down_say_so(
    nowhere: dict[str, str], args: tuple[str, ...], exit_code: int
) -> None:
    line = assert_one_line_error(aftm(nowhere, *args), exit_code)

    # A reconciliation is several gateway requests: it is given 4 request time-outs.
    waited = 4 * int(DOWN_TIMEOUT_MS)
    endpoint_of = nowhere["AFTM_CONSOLE_EXECUTOR_CONNECT"]
    assert line.startswith(f"aftm: the executor at {endpoint_of} did not answer within {waited} ms")


def test_login_with_the_gateway_down_exits_3(nowhere: dict[str, str]) -> None:
    result = aftm(nowhere, "login", "--user", "sim", "--password-stdin", stdin="sim\n")

    assert "did not answer" in assert_one_line_error(result, 3)


def test_an_order_with_the_executor_down_names_its_id_and_how_to_check(
    nowhere: dict[str, str],
) -> None:
    args = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", "1", "--account", "A")

    line = assert_one_line_error(aftm(nowhere, *args), 3)

    match = re.search(r"outcome of order (M[0-9a-f]{15}) is unknown", line)
    assert match is not None, line
    assert "check it with: aftm trades" in line


def test_a_flatten_with_the_executor_down_says_its_outcome_is_unknown(
    nowhere: dict[str, str],
) -> None:
    line = assert_one_line_error(aftm(nowhere, "flatten", "--yes"), 3)

    assert "whether the executor is closing every position is unknown" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--quantity", "0"), "must be at least 1, got 0"),
        (("--quantity", "-3"), "must be at least 1, got -3"),
        (("--quantity", "two"), "'two' is not a whole number"),
        (("--quantity", "11"), "must be 1 to 10 lots, TAIFEX's limit for a market order"),
        (("--quantity", str(2**63)), "must be 1 to 10 lots"),
        (("--quantity", "5000"), "must be 1 to 10 lots"),
        (("--symbol", "ZZF6"), "is not a symbol such as TXFL6"),
        (("--symbol", "T" * 300), "is not a symbol"),
        (("--account", "A B"), "field 'account'"),
        (("--symbol", ""), "--symbol: must not be empty"),
        (("--side", "hold"), "invalid choice: 'hold'"),
    ],
)
def test_bad_order_input_exits_2_without_asking_any_service(
    nowhere: dict[str, str], change: tuple[str, str], message: str
) -> None:
    options = {"--symbol": "TXFL6", "--side": "buy", "--quantity": "1"} | dict([change])
    args = [text for pair in options.items() for text in pair]

    # Exit 2 rather than 3: nothing listens at these endpoints, so asking would have failed.
    line = assert_one_line_error(aftm(nowhere, "order", *args), 2)

    assert line.startswith("aftm: error: ")
    assert message in line


@pytest.mark.parametrize(
    "args",
    [
        ("account", "use", "A B"),
        ("items", "add", "TXF"),
        ("items", "rm", "TXFL6;"),
        ("conditions", "rm", "c" * 300),
        ("flatten", "--symbol", "TXF", "--yes"),
    ],
    ids=["account", "items-add", "items-rm", "conditions-rm", "flatten"],
)
def test_a_value_out_of_shape_exits_2_without_asking_any_service(
    nowhere: dict[str, str], args: tuple[str, ...]
) -> None:
    line = assert_one_line_error(aftm(nowhere, *args), 2)

    assert line.startswith("aftm: error: field ")
    assert len(line) < 300


def test_flatten_without_a_terminal_needs_yes(nowhere: dict[str, str]) -> None:
    line = assert_one_line_error(aftm(nowhere, "flatten", "--symbol", "TXFL6"), 2)

    assert "no terminal to confirm on: pass --yes" in line


def test_status_reports_services_down_and_exits_3(nowhere: dict[str, str]) -> None:
    as_json = aftm(nowhere, "status", "--json")
    report = json.loads(as_json.stdout)

    assert as_json.returncode == 3, as_json.stderr  # EXIT_DOWN: a script can tell
    assert isinstance(report, dict)
    assert [report[name]["up"] for name in ("gateway", "strategy", "executor")] == [False] * 3
    table = aftm(nowhere, "status")
    assert table.returncode == 3
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


# --- a gateway that does not answer ---------------------------------------------------------


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
