"""`aftm positions`, `aftm reconcile` and the reconciliation in `aftm status`: the header line,
the table, the JSON document, the confirmation, and the exit statuses, from built values and a
fake executor that holds the requests it was asked."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import TypeVar

import pytest

from aftm.wire.protocol import (
    ErrorCode,
    ExecutorStatus,
    Reconcile,
    ReconcileState,
    Reconciliation,
    TradingMode,
)
from aftm_console import cli, menu
from aftm_console.book import Row, Summary, check_row, document, headline, summary, text
from aftm_console.commands import reconciliation
from aftm_console.commands.status import collect_status, show_status
from aftm_console.errors import NotCompared, ServiceDown, ServiceRefused
from aftm_console.services import Service, Services
from aftm_console.settings import ConsoleSettings
from tests.builders import a_position_check, a_reconciliation
from tests.unit.test_console_executor_requests import ENDPOINT, FakeExecutor, down

T = TypeVar("T")
State = ReconcileState
# 2026-12-01 21:38:05.123456789 in Taipei (UTC+8): 13:38:05 UTC.
TS_NS = 1_796_132_285_123_456_789
LOCAL = "2026-12-01 21:38:05 CST"


def differs() -> Reconciliation:
    """SIM-0001: TXFL6 agreed, MXFL6 long 2 in the book but flat at the broker, TMFL6 in flight."""
    return a_reconciliation(
        state=State.DIFFERS,
        ts_ns=TS_NS,
        detail="SIM-0001 MXFL6: book 2, broker 0",
        fills_applied=3,
        orders_asked=1,
        entries_halted=True,
        positions=(
            a_position_check(),
            a_position_check(
                symbol="MXFL6", broker=0, broker_average=Decimal(0), state=State.DIFFERS
            ),
            a_position_check(
                account="SIM-0002",
                symbol="TMFL6",
                book=-1,
                broker=-3,
                book_average=Decimal("23001.5"),
                broker_average=Decimal("23002"),
                state=State.SETTLING,
            ),
        ),
    )


def failed() -> Reconciliation:
    return a_reconciliation(
        state=State.FAILED, ts_ns=TS_NS, detail="gateway did not answer within 2000 ms"
    )


def adopted() -> Reconciliation:
    """What an accept after differs() answers: MXFL6 set to the broker's flat, TMFL6 still in
    flight."""
    checks = differs().positions
    flat = a_position_check(symbol="MXFL6", book=0, broker=0, broker_average=Decimal(0))
    return a_reconciliation(
        state=State.SETTLING, ts_ns=TS_NS, adopted=1, positions=(checks[0], flat, checks[2])
    )


@pytest.fixture(autouse=True)
def taipei_time() -> Iterator[None]:
    """Local time is Taipei's (a POSIX rule, so no time zone database is needed)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "CST-8"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch) -> FakeExecutor:
    """The fake every `aftm` subcommand in this test talks to; set its answers per test."""
    fake = FakeExecutor()
    monkeypatch.setattr("aftm_console.commands.common.Services", lambda settings: fake)
    for name in ("AFTM_CONSOLE_EXECUTOR_CONNECT", "AFTM_CONSOLE_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    return fake


def on_terminal(monkeypatch: pytest.MonkeyPatch, answers: str) -> None:
    monkeypatch.setattr(reconciliation, "is_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))


# --- the header line -------------------------------------------------------------------------


def test_the_header_says_state_time_work_halt_and_detail() -> None:
    assert headline(summary(differs())) == (
        f"reconciliation DIFFERS at {LOCAL}; fills applied 3; orders asked again 1; "
        "entries HALTED; SIM-0001 MXFL6: book 2, broker 0"
    )


@pytest.mark.parametrize(
    ("state", "label"),
    [
        (State.AGREED, "agreed"),
        (State.SETTLING, "settling (orders in flight)"),
        (State.DIFFERS, "DIFFERS"),
        (State.FAILED, "FAILED (nothing compared)"),
    ],
)
def test_the_header_names_each_state(state: ReconcileState, label: str) -> None:
    line = headline(summary(a_reconciliation(state=state, ts_ns=TS_NS)))

    assert line == (
        f"reconciliation {label} at {LOCAL}; fills applied 0; orders asked again 0; entries allowed"
    )


def test_a_reconciliation_never_run_says_so() -> None:
    never = a_reconciliation(state=State.NEVER, ts_ns=0, positions=())

    assert headline(summary(never)) == "reconciliation not run yet"


def test_the_header_counts_what_an_accept_adopted() -> None:
    assert "; positions adopted from the broker 1" in headline(summary(adopted()))


# --- the table -------------------------------------------------------------------------------


def test_each_row_shows_book_beside_broker_and_flags_what_is_not_agreed() -> None:
    rows = [check_row(c) for c in differs().positions]

    assert rows == [
        ("SIM-0001", "TXFL6", 2, Decimal("23008"), 2, Decimal("23008"), "ok"),
        ("SIM-0001", "MXFL6", 2, Decimal("23008"), 0, None, "DIFFERS"),  # flat: no average
        ("SIM-0002", "TMFL6", -1, Decimal("23001.5"), -3, Decimal("23002"), "in flight"),
    ]


def test_the_text_is_the_header_the_table_and_what_to_do() -> None:
    lines = text(differs()).splitlines()

    assert lines[0].startswith("reconciliation DIFFERS at ")
    assert lines[1].split() == ["account", "symbol", "book", "book", "avg", "broker", "broker",
                                "avg", "check"]  # fmt: skip
    assert lines[3].split() == ["SIM-0001", "MXFL6", "2", "23008", "0", "-", "DIFFERS"]
    dash = lines[3].index(" - ") + 1  # a missing average, right-aligned with the numbers
    assert dash == lines[1].index("broker avg") + len("broker avg") - 1
    assert lines[5] == (
        "1 position(s) DIFFER from the broker: find out why (aftm trades, aftm orders), then "
        "adopt the broker's figures with: aftm reconcile --accept"
    )
    assert lines[6].startswith("1 position(s) in flight: ")
    assert len(lines) == 7


def test_an_agreed_book_needs_no_advice() -> None:
    lines = text(a_reconciliation()).splitlines()

    assert len(lines) == 3
    assert lines[2].split() == ["SIM-0001", "TXFL6", "2", "23008", "2", "23008", "ok"]


def test_a_run_that_compared_nothing_shows_the_last_comparison_as_such() -> None:
    earlier = differs().positions
    lines = text(a_reconciliation(state=State.FAILED, detail="gateway silent",
                                  positions=earlier)).splitlines()  # fmt: skip

    assert lines[0].startswith("reconciliation FAILED (nothing compared) at ")
    assert lines[0].endswith("; gateway silent")
    assert lines[2].split() == ["SIM-0001", "TXFL6", "2", "23008", "2", "23008", "last:", "ok"]
    assert lines[3].split()[-2:] == ["last:", "DIFFERS"]
    assert lines[4].split()[-3:] == ["last:", "in", "flight"]
    assert lines[5:] == [
        "the broker's positions were not read now: the rows are from the last comparison"
    ]  # and no advice: nothing can be adopted without the broker's figures


def test_a_run_that_compared_nothing_and_has_no_rows_does_not_say_flat() -> None:
    lines = text(a_reconciliation(state=State.FAILED, positions=())).splitlines()

    assert lines[1:] == [
        "the broker's positions were not read now: the last comparison, if any, listed no positions"
    ]


@pytest.mark.parametrize(
    ("account", "symbols"), [("", ["TXFL6", "MXFL6", "TMFL6"]), ("SIM-0002", ["TMFL6"])]
)
def test_one_account_shows_only_its_rows(account: str, symbols: list[str]) -> None:
    shown = text(differs(), account).splitlines()[2 : 2 + len(symbols)]

    assert [line.split()[1] for line in shown] == symbols
    assert [c["symbol"] for c in document(differs(), account)["positions"]] == symbols


def test_no_positions_says_so() -> None:
    empty = a_reconciliation(positions=())

    assert text(empty).splitlines()[1] == "no positions in the book or at the broker"
    assert (
        text(empty, "X").splitlines()[1] == "no positions on account X in the book or at the broker"
    )


# --- JSON ------------------------------------------------------------------------------------


def test_the_document_has_fixed_keys_iso_time_numbers_and_decimal_strings() -> None:
    found = json.loads(json.dumps(document(differs())))

    assert set(found) == set(Summary.__annotations__) | {"positions"}
    assert (found["state"], found["ts"], found["ts_ns"]) == (
        "differs", "2026-12-01T13:38:05.123456+00:00", TS_NS,
    )  # fmt: skip
    assert (found["fills_applied"], found["orders_asked"], found["adopted"]) == (3, 1, 0)
    assert found["entries_halted"] is True
    assert found["detail"] == "SIM-0001 MXFL6: book 2, broker 0"
    assert all(set(row) == set(Row.__annotations__) for row in found["positions"])
    assert found["positions"][1] == {
        "account": "SIM-0001",
        "symbol": "MXFL6",
        "state": "differs",
        "book": 2,
        "book_average": "23008",
        "broker": 0,
        "broker_average": None,
    }
    assert found["positions"][2]["book_average"] == "23001.5"


def test_the_document_of_a_run_that_compared_nothing_keeps_the_last_rows() -> None:
    earlier = differs().positions

    found = document(a_reconciliation(state=State.FAILED, positions=earlier))

    assert found["state"] == "failed"
    assert found["positions"] == document(differs())["positions"]


def test_a_run_never_made_has_no_time() -> None:
    found = document(a_reconciliation(state=State.NEVER, ts_ns=0, positions=()))

    assert (found["ts"], found["ts_ns"], found["positions"]) == (None, 0, [])


# --- aftm positions --------------------------------------------------------------------------


def test_positions_asks_for_a_fresh_reconciliation_once(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.answers["Reconcile"] = [differs()]

    assert cli.main(["positions"]) == 0  # a difference is shown, not an error

    assert executor.asked == [(Reconcile(accept=False), 0)]  # it applies fills: never blind
    out = capsys.readouterr().out
    assert out.startswith("reconciliation DIFFERS at ")
    assert "DIFFERS" in out.splitlines()[3]


def test_positions_json_is_the_document(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.answers["Reconcile"] = [differs()]

    assert cli.main(["positions", "--json", "--account", "SIM-0001"]) == 0

    assert json.loads(capsys.readouterr().out) == document(differs(), "SIM-0001")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (down(), f"aftm: the executor at {ENDPOINT} did not answer within 200 ms"),
        (failed(), "aftm: the book was not compared with the broker: gateway did not answer"),
    ],
)
def test_positions_without_the_broker_figures_exits_3(
    executor: FakeExecutor,
    capsys: pytest.CaptureFixture[str],
    answer: object,
    message: str,
) -> None:
    executor.answers["Reconcile"] = [answer]

    assert cli.main(["positions"]) == 3

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(message)


def test_a_failed_reconciliation_is_not_compared() -> None:
    with pytest.raises(NotCompared, match="gateway did not answer") as failure:
        reconciliation.show_positions(FakeExecutor(Reconcile=[failed()]))

    assert failure.value.exit_code == 3


def test_positions_waits_for_a_reconciliation_longer_than_for_a_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited: list[int | None] = []

    def ask(self: Services, service: Service, body: object, answer: type[T], **kw: object) -> T:
        waited.append(kw.get("timeout_ms"))  # type: ignore[arg-type]
        raise down()

    monkeypatch.setattr(Services, "ask", ask)
    services = Services(ConsoleSettings(timeout_ms=3000))
    try:
        with pytest.raises(ServiceDown):
            reconciliation.show_positions(services)
    finally:
        services.close()

    assert waited == [3000 * reconciliation.TIMEOUT_FACTOR]


# --- aftm reconcile --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (a_reconciliation(), 0),
        (differs(), 1),
        (a_reconciliation(state=State.SETTLING), 1),
        (failed(), 2),
        (down(), 2),
        (ServiceRefused("executor", "Reconcile is not an executor request", ErrorCode.BAD_REQUEST),
         2),
    ],
)  # fmt: skip
def test_reconcile_exits_0_agreed_1_differs_2_nothing_compared(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str], answer: object, status: int
) -> None:
    executor.answers["Reconcile"] = [answer]

    assert cli.main(["reconcile"]) == status

    assert executor.requests() == [Reconcile(accept=False)]
    error = capsys.readouterr().err
    assert error.count("\n") == (1 if status == 2 else 0)


def test_reconcile_json_prints_the_document(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.answers["Reconcile"] = [failed()]

    assert cli.main(["reconcile", "--json"]) == 2

    captured = capsys.readouterr()
    assert json.loads(captured.out)["state"] == "failed"
    assert "not compared with the broker" in captured.err


def test_accept_without_a_terminal_or_yes_exits_2_and_asks_nothing(
    executor: FakeExecutor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(reconciliation, "is_interactive", lambda: False)

    assert cli.main(["reconcile", "--accept"]) == 2

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "no terminal to confirm on: pass --yes" in error
    assert executor.asked == []


def test_yes_without_accept_is_bad_input(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["reconcile", "--yes"]) == 2

    assert "--yes only goes with --accept" in capsys.readouterr().err
    assert executor.asked == []


def test_accept_with_yes_shows_the_differences_then_adopts(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.answers["Reconcile"] = [differs(), adopted()]

    assert cli.main(["reconcile", "--accept", "--yes"]) == 1  # TMFL6 is still in flight

    assert executor.asked == [(Reconcile(accept=False), 0), (Reconcile(accept=True), 0)]
    out = capsys.readouterr().out
    before, after = out.split("reconciliation settling")
    assert "MXFL6      2     23008       0           -  DIFFERS" in before
    assert "positions adopted from the broker 1" in after
    assert out.endswith("adopted the broker's figures for 1 position(s)\n")


@pytest.mark.parametrize("answer", ["y\n", "n\n", ""])
def test_accept_on_a_terminal_asks_first(
    executor: FakeExecutor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
) -> None:
    executor.answers["Reconcile"] = [differs(), adopted()]
    on_terminal(monkeypatch, answer)

    # Adopted or not, a difference remains: TMFL6 is in flight, MXFL6 too unless adopted.
    assert cli.main(["reconcile", "--accept"]) == 1

    err = capsys.readouterr().err
    question = "adopt the broker's figures for SIM-0001 MXFL6 (book 2, broker 0)? [y/N] "
    assert err.startswith(question)
    confirmed = answer == "y\n"
    assert len(executor.asked) == (2 if confirmed else 1)
    if not confirmed:
        assert "not confirmed: nothing was adopted, the difference remains" in err


@pytest.mark.parametrize(
    ("before", "why"),
    [
        (a_reconciliation(), "the book agrees with the broker"),
        (a_reconciliation(state=State.SETTLING), "orders in flight may explain every difference"),
    ],
)
def test_accept_with_nothing_to_adopt_sends_no_accept(
    executor: FakeExecutor,
    capsys: pytest.CaptureFixture[str],
    before: Reconciliation,
    why: str,
) -> None:
    executor.answers["Reconcile"] = [before]

    status = cli.main(["reconcile", "--accept", "--yes"])

    assert status == (0 if before.state is State.AGREED else 1)
    assert executor.requests() == [Reconcile(accept=False)]
    assert f"nothing to adopt: {why}" in capsys.readouterr().out


def test_accept_json_keeps_stdout_for_the_final_document(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.answers["Reconcile"] = [differs(), adopted()]

    cli.main(["reconcile", "--accept", "--yes", "--json"])

    captured = capsys.readouterr()
    assert json.loads(captured.out) == document(adopted())
    assert "DIFFERS" in captured.err  # what was adopted, for the person and the log
    assert "adopted the broker's figures for 1 position(s)" in captured.err


def test_an_unanswered_accept_says_its_outcome_is_unknown(
    executor: FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.answers["Reconcile"] = [differs(), down()]

    assert cli.main(["reconcile", "--accept", "--yes"]) == 2

    assert executor.requests() == [Reconcile(accept=False), Reconcile(accept=True)]
    error = capsys.readouterr().err
    assert error == (
        f"aftm: the executor at {ENDPOINT} did not answer within 800 ms, so whether the broker's "
        "figures were adopted is unknown; check it with: aftm positions\n"
    )


# --- the menu --------------------------------------------------------------------------------


def test_the_menu_shows_positions_and_reconciles_on_a_yes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = FakeExecutor(Reconcile=[differs(), differs(), adopted()])
    monkeypatch.setattr("sys.stdin", io.StringIO("8\n14\ny\n0\n"))

    assert menu.run_menu(executor, lambda: 0) == 0

    assert executor.requests() == [Reconcile(), Reconcile(), Reconcile(accept=True)]
    out = capsys.readouterr().out
    assert "8 show positions" in out
    assert "14 reconcile positions" in out
    assert "adopt the broker's figures for SIM-0001 MXFL6 (book 2, broker 0)? (y/n): " in out
    assert "adopted the broker's figures for 1 position(s)" in out


def test_the_menu_reconcile_answered_no_adopts_nothing_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = FakeExecutor(Reconcile=[differs()])
    monkeypatch.setattr("sys.stdin", io.StringIO("14\nn\n0\n"))

    assert menu.run_menu(executor, lambda: 0) == 0

    assert executor.requests() == [Reconcile()]
    assert "aftm: not confirmed: nothing was adopted" in capsys.readouterr().out


# --- aftm status -----------------------------------------------------------------------------


class ExecutorOnly(FakeExecutor):
    """The executor answers; the gateway and the strategy do not."""

    def ask(
        self,
        service: Service,
        body: object,
        answer: type[T],
        *,
        retries: int = 0,
        timeout_ms: int | None = None,
        endpoint: str | None = None,
    ) -> T:
        if service is not Service.EXECUTOR:
            raise ServiceDown(service, ENDPOINT, 200)
        return super().ask(service, body, answer, retries=retries, timeout_ms=timeout_ms)

    def endpoint(self, service: Service) -> str:
        return ENDPOINT


def a_status(last: Reconciliation | None) -> ExecutorStatus:
    return ExecutorStatus("SIM-0001", TradingMode.ACTIVE, True, 0, 0, 0, (), last)


@pytest.mark.parametrize(
    ("last", "line"),
    [
        (None, "executor: last reconciliation not run yet"),
        (differs(), f"executor: last reconciliation DIFFERS at {LOCAL}; fills applied 3; "
                    "orders asked again 1; entries HALTED; SIM-0001 MXFL6: book 2, broker 0"),
    ],
)  # fmt: skip
def test_status_shows_the_last_reconciliation(
    capsys: pytest.CaptureFixture[str], last: Reconciliation | None, line: str
) -> None:
    executor = ExecutorOnly(GetExecutorStatus=[a_status(last)])

    show_status(executor)

    assert capsys.readouterr().out.splitlines()[-1] == line


def test_status_json_has_the_last_reconciliation_without_positions() -> None:
    reports = collect_status(ExecutorOnly(GetExecutorStatus=[a_status(differs())]))
    never = collect_status(ExecutorOnly(GetExecutorStatus=[a_status(None)]))

    assert reports["executor"]["reconciliation"] == summary(differs())
    assert never["executor"]["reconciliation"] is None
    assert "reconciliation" not in reports["gateway"]
