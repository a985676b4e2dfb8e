"""The real `aftm positions`, `aftm reconcile` and `aftm status` against a scripted executor
control socket: what they send, what they print and how they exit for each answer.

The executor's own side is tested with the executor; here its answers are scripted, so each
state (agreed, differs, settling, failed), a refusal and a lost reply can be shown exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import zmq

from aftm.wire.protocol import (
    ErrorCode,
    ExecutorStatus,
    GetExecutorStatus,
    Reconcile,
    ReconcileState,
    Reconciliation,
    Reply,
    Request,
    TradingMode,
)
from aftm.wire.sockets import error, ok
from tests.builders import a_position_check, a_reconciliation
from tests.integration.test_console import aftm, assert_one_line_error
from tests.integration.test_console_scripted_executor import Script, ScriptedExecutor, console

pytestmark = pytest.mark.slow
State = ReconcileState
Serve = Callable[[Script], ScriptedExecutor]
TS_NS = 1_796_132_285_123_456_789  # 2026-12-01 13:38:05.123456789 UTC


def differs() -> Reconciliation:
    """TXFL6 agreed; MXFL6 long 2 in the book, flat at the broker: entries halted."""
    return a_reconciliation(
        state=State.DIFFERS,
        ts_ns=TS_NS,
        detail="SIM-0001 MXFL6: book 2, broker 0",
        fills_applied=3,
        entries_halted=True,
        positions=(
            a_position_check(),
            a_position_check(
                symbol="MXFL6", broker=0, broker_average=Decimal(0), state=State.DIFFERS
            ),
        ),
    )


def adopted() -> Reconciliation:
    flat = a_position_check(symbol="MXFL6", book=0, broker=0, broker_average=Decimal(0))
    return a_reconciliation(ts_ns=TS_NS, adopted=1, positions=(a_position_check(), flat))


def answering(*answers: Reconciliation | ErrorCode | None) -> Script:
    """The n-th Reconcile gets the n-th answer (the last one repeats): a Reconciliation, an
    error with that code, or None to drop it; anything else is not scripted."""

    def script(n: int, request: Request) -> Reply | None:
        if not isinstance(request.body, Reconcile):
            return error(request, ErrorCode.BAD_REQUEST, "not scripted")
        answer = answers[min(n, len(answers) - 1)]
        if isinstance(answer, ErrorCode):
            return error(request, answer, f"{type(request.body).__name__} refused")
        return None if answer is None else ok(request, answer)

    return script


@pytest.fixture
def serve() -> Iterator[Serve]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    started: list[ScriptedExecutor] = []

    def start(script: Script) -> ScriptedExecutor:
        started.append(ScriptedExecutor(context, script))
        return started[-1]

    yield start
    for executor in started:
        executor.close()
    context.term()


# --- aftm positions --------------------------------------------------------------------------


def test_positions_shows_the_book_beside_the_broker_and_flags_a_difference(serve: Serve) -> None:
    executor = serve(answering(differs()))

    result = aftm(console(executor), "positions")

    assert result.returncode == 0, result.stderr
    assert executor.requests == [Reconcile(accept=False)]
    header, columns, agreed, different, advice = result.stdout.splitlines()
    assert header.startswith("reconciliation DIFFERS at 2026-12-01 ")
    assert header.endswith(
        "; fills applied 3; orders asked again 0; entries HALTED; SIM-0001 MXFL6: book 2, broker 0"
    )
    assert columns.split()[:3] == ["account", "symbol", "book"]
    assert agreed.split() == ["SIM-0001", "TXFL6", "2", "23008", "2", "23008", "ok"]
    assert different.split() == ["SIM-0001", "MXFL6", "2", "23008", "0", "-", "DIFFERS"]
    assert advice.endswith("adopt the broker's figures with: aftm reconcile --accept")


def test_positions_json_is_one_document(serve: Serve) -> None:
    executor = serve(answering(differs()))

    result = aftm(console(executor), "positions", "--json")

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["state"], found["ts"], found["entries_halted"]) == (
        "differs", "2026-12-01T13:38:05.123456+00:00", True,
    )  # fmt: skip
    assert [(p["symbol"], p["book"], p["broker"], p["state"]) for p in found["positions"]] == [
        ("TXFL6", 2, 2, "agreed"),
        ("MXFL6", 2, 0, "differs"),
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "did not answer within 2000 ms"),
        (a_reconciliation(state=State.FAILED, detail="gateway silent"), "gateway silent"),
    ],
)
def test_positions_without_the_brokers_figures_exits_3(
    serve: Serve, answer: Reconciliation | None, message: str
) -> None:
    executor = serve(answering(answer))

    line = assert_one_line_error(aftm(console(executor), "positions"), 3)

    assert message in line
    assert executor.requests == [Reconcile()]  # never repeated blind


# --- aftm reconcile --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (a_reconciliation(), 0),
        (differs(), 1),
        (a_reconciliation(state=State.SETTLING), 1),
        (a_reconciliation(state=State.FAILED, detail="gateway silent"), 2),
        (ErrorCode.BAD_REQUEST, 2),
        (None, 2),
    ],
)
def test_reconcile_exits_0_agreed_1_differs_2_nothing_compared(
    serve: Serve, answer: Reconciliation | ErrorCode | None, status: int
) -> None:
    executor = serve(answering(answer))

    result = aftm(console(executor), "reconcile")

    assert result.returncode == status, (result.stdout, result.stderr)
    assert executor.requests == [Reconcile()]
    if status == 2:
        assert_one_line_error(result, 2)


def test_reconcile_accept_yes_adopts_after_showing_the_differences(serve: Serve) -> None:
    executor = serve(answering(differs(), adopted()))

    result = aftm(console(executor), "reconcile", "--accept", "--yes")

    assert result.returncode == 0, result.stderr
    assert executor.requests == [Reconcile(accept=False), Reconcile(accept=True)]
    assert "DIFFERS" in result.stdout.split("reconciliation agreed")[0]
    assert result.stdout.endswith("adopted the broker's figures for 1 position(s)\n")


def test_reconcile_accept_without_a_terminal_asks_nothing(serve: Serve) -> None:
    executor = serve(answering(differs()))

    line = assert_one_line_error(aftm(console(executor), "reconcile", "--accept"), 2)

    assert "no terminal to confirm on: pass --yes" in line
    assert executor.requests == []


# --- aftm status -----------------------------------------------------------------------------


def status_answering(last: Reconciliation | None) -> Script:
    status = ExecutorStatus("SIM-0001", TradingMode.ACTIVE, True, 0, 0, 0, (), last)

    def script(n: int, request: Request) -> Reply | None:
        if isinstance(request.body, GetExecutorStatus):
            return ok(request, status)
        return error(request, ErrorCode.BAD_REQUEST, "not scripted")

    return script


def test_status_shows_the_last_reconciliation(serve: Serve) -> None:
    executor = serve(status_answering(differs()))

    table = aftm(console(executor), "status")
    report = json.loads(aftm(console(executor), "status", "--json").stdout)

    assert table.returncode == 3, table.stderr  # only the executor runs here: the others are down
    line = table.stdout.splitlines()[-1]
    assert line.startswith("executor: last reconciliation DIFFERS at 2026-12-01 ")
    assert "; entries HALTED; SIM-0001 MXFL6: book 2, broker 0" in line
    last = report["executor"]["reconciliation"]
    assert (last["state"], last["entries_halted"], last["detail"]) == (
        "differs", True, "SIM-0001 MXFL6: book 2, broker 0",
    )  # fmt: skip


def test_status_says_when_no_reconciliation_has_run(serve: Serve) -> None:
    executor = serve(status_answering(None))

    table = aftm(console(executor), "status")

    assert table.stdout.splitlines()[-1] == "executor: last reconciliation not run yet"
