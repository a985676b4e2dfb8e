"""Manual orders, trading modes and flatten: what the console asks the executor and how it
reports each answer, against a fake that holds the requests it was asked."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from typing import TypeVar

import pytest

from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm.wire.protocol import (
    ErrorCode,
    ExecutorStatus,
    Flatten,
    ListTrades,
    ManualOrder,
    SetTradingMode,
    TradeList,
    TradingMode,
)
from aftm_console import cli, menu
from aftm_console.commands import brakes, orders
from aftm_console.errors import (
    EXIT_DOWN,
    EXIT_REFUSED,
    ConsoleError,
    OrderOutcomeUnknown,
    OutcomeUnknown,
    ServiceDown,
    ServiceRefused,
)
from aftm_console.parsing import UsageError
from aftm_console.services import Service, Services
from aftm_console.settings import ConsoleSettings
from tests.unit.test_console_trades import a_trade

T = TypeVar("T")
ENDPOINT = "tcp://127.0.0.1:9"


class FakeExecutor(Services):
    """Answers by request type; the last answer listed for a type repeats. An exception listed
    is raised instead, as Services.ask raises ServiceDown or ServiceRefused."""

    def __init__(self, **answers: list[object]) -> None:
        self.settings = ConsoleSettings(executor_connect=ENDPOINT, timeout_ms=200)
        self._chosen = {}  # as Services.__init__ sets it, without opening a ZeroMQ context
        self.answers = answers
        self.asked: list[tuple[object, int]] = []  # (request, retries)

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
        assert service is Service.EXECUTOR
        self.asked.append((body, retries))
        queue = self.answers[type(body).__name__]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        assert isinstance(reply, answer)
        return reply

    def close(self) -> None:
        pass

    def requests(self) -> list[object]:
        return [body for body, _ in self.asked]


def a_status(mode: TradingMode) -> ExecutorStatus:
    return ExecutorStatus("SIM-0001", mode, True, 0, 0, 0, ())


def down() -> ServiceDown:
    return ServiceDown("executor", ENDPOINT, 200)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders, "FOLLOW_INTERVAL_S", 0.0)


# --- parsing ---------------------------------------------------------------------------------


def test_order_parses_its_options() -> None:
    args = cli.build_parser().parse_args(
        ["order", "--symbol", " TXFL6 ", "--side", "sell", "--quantity", "3", "--account", "A"]
    )

    assert (args.symbol, args.side, args.quantity, args.account) == ("TXFL6", "sell", 3, "A")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--quantity", "0"), "must be at least 1, got 0"),
        (("--quantity", "-3"), "must be at least 1, got -3"),
        (("--quantity", "two"), "'two' is not a whole number"),
        (("--symbol", ""), "--symbol: must not be empty"),
        (("--symbol", "  "), "--symbol: must not be empty"),
        (("--symbol", "TX FL6"), "'TX FL6' is not a symbol"),
        (("--side", "hold"), "invalid choice: 'hold'"),
    ],
)
def test_bad_order_input_exits_2_before_any_service_is_asked(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    message: str,
) -> None:
    asked = record_every_request(monkeypatch)
    options = {"--symbol": "TXFL6", "--side": "buy", "--quantity": "1"} | dict([change])

    code = cli.main(["order", *(text for pair in options.items() for text in pair)])

    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("aftm: error: ")
    assert message in error
    assert asked == []


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (["halt"], TradingMode.HALTED),
        (["resume"], TradingMode.ACTIVE),
        (["mode", "reducing"], TradingMode.REDUCING),
        (["mode", "halted"], TradingMode.HALTED),
        (["mode", "active"], TradingMode.ACTIVE),
    ],
)
def test_mode_commands_set_their_mode(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], mode: TradingMode
) -> None:
    executor = FakeExecutor(SetTradingMode=[a_status(mode)])
    monkeypatch.setattr("aftm_console.commands.common.Services", lambda settings: executor)

    assert cli.main(argv) == 0

    assert executor.asked == [(SetTradingMode(mode), 1)]  # the same mode twice: safe to repeat


def test_mode_refuses_an_unknown_mode() -> None:
    with pytest.raises(UsageError, match="invalid choice: 'stop'"):
        cli.build_parser().parse_args(["mode", "stop"])


def test_flatten_parses_symbol_and_yes() -> None:
    everything = cli.build_parser().parse_args(["flatten"])
    one = cli.build_parser().parse_args(["flatten", "--symbol", "MXFL6", "--yes"])

    assert (everything.symbol, everything.yes) == (None, False)  # None: every symbol
    assert (one.symbol, one.yes) == ("MXFL6", True)


def test_flatten_without_a_terminal_or_yes_exits_2_and_asks_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = record_every_request(monkeypatch)
    monkeypatch.setattr(brakes, "is_interactive", lambda: False)

    assert cli.main(["flatten"]) == 2

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "no terminal to confirm on: pass --yes" in error
    assert asked == []


# --- manual orders ---------------------------------------------------------------------------


def test_a_manual_order_goes_to_the_executor_under_one_retried_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    executor = FakeExecutor(ManualOrder=[a_trade()])

    trade = orders.send_market_order(executor, " TXFL6 ", Side.BUY, 2, "")

    assert trade == a_trade()
    [(order, retries)] = executor.asked
    assert isinstance(order, ManualOrder)
    assert retries == 1  # deduplicated by order_id, so a time-out may be asked again
    assert re.fullmatch(r"M[0-9a-f]{15}", order.order_id)
    assert (order.symbol, order.side, order.quantity, order.account) == ("TXFL6", Side.BUY, 2, "")
    out = capsys.readouterr().out
    assert f"sending order {order.order_id}: market buy 2 TXFL6" in out
    assert "trade M0123456789abcde open: buy 2 TXFL6 on SIM-0001, entry filled 2 @ 23008" in out


def test_each_manual_order_gets_its_own_id() -> None:
    executor = FakeExecutor(ManualOrder=[a_trade()])

    orders.send_market_order(executor, "TXFL6", Side.BUY, 1)
    orders.send_market_order(executor, "TXFL6", Side.BUY, 1)

    ids = [o.order_id for o in executor.requests() if isinstance(o, ManualOrder)]
    assert len(set(ids)) == 2


def test_a_working_entry_is_followed_until_it_settles(capsys: pytest.CaptureFixture[str]) -> None:
    entering = a_trade(state="entering", entry_filled=0, entry_price=None)
    executor = FakeExecutor(
        ManualOrder=[entering],
        ListTrades=[TradeList((entering,)), TradeList((a_trade(trade_id="other"), a_trade()))],
    )

    trade = orders.send_market_order(executor, "TXFL6", Side.BUY, 2)

    assert trade == a_trade()
    assert executor.requests()[1:] == [ListTrades(limit=orders.FOLLOW_LIMIT)] * 2
    assert "still working" not in capsys.readouterr().out


def test_an_entry_still_working_after_the_timeout_says_how_to_follow_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    entering = a_trade(state="entering", entry_filled=0, entry_price=None)
    executor = FakeExecutor(ManualOrder=[entering], ListTrades=[TradeList((entering,))])

    assert orders.send_market_order(executor, "TXFL6", Side.BUY, 2) == entering

    assert "follow it with: aftm trades --open" in capsys.readouterr().out


def test_a_trade_that_filled_nothing_is_a_refusal_with_its_reason() -> None:
    rejected = a_trade(state="done", entry_filled=0, entry_price=None, reason="no margin")
    executor = FakeExecutor(ManualOrder=[rejected])

    with pytest.raises(ConsoleError, match="filled nothing: no margin") as failed:
        orders.send_market_order(executor, "TXFL6", Side.BUY, 2)

    assert failed.value.exit_code == EXIT_REFUSED


def test_an_entry_refused_downstream_names_its_orders_reason() -> None:
    entry = a_trade().orders[0]
    refused_entry = replace(entry, filled_quantity=0, average_price=None, reason="not listed")
    rejected = a_trade(state="done", entry_filled=0, entry_price=None, orders=(refused_entry,))
    executor = FakeExecutor(ManualOrder=[rejected])

    with pytest.raises(ConsoleError, match="filled nothing: not listed"):
        orders.send_market_order(executor, "ZZFL6", Side.BUY, 1)


def test_a_risk_refusal_passes_through_with_its_reason() -> None:
    refusal = ServiceRefused("executor", "max lots per order is 5", ErrorCode.REJECTED)
    executor = FakeExecutor(ManualOrder=[refusal])

    with pytest.raises(ServiceRefused, match="max lots per order is 5") as failed:
        orders.send_market_order(executor, "TXFL6", Side.BUY, 6)

    assert failed.value.exit_code == EXIT_REFUSED


@pytest.mark.parametrize(
    ("symbol", "quantity", "account", "field"),
    [
        ("TXFL6", 11, "", "quantity"),  # over TAIFEX's 10 lots for a market order
        ("TXFL6", 2**63, "", "quantity"),
        ("ZZF6", 1, "", "symbol"),
        ("TXFL6", 1, "ACC 1", "account"),
    ],
)
def test_an_order_out_of_range_is_refused_before_any_request(
    symbol: str, quantity: int, account: str, field: str
) -> None:
    executor = FakeExecutor()

    with pytest.raises(InvalidInput) as refused:
        orders.send_market_order(executor, symbol, Side.BUY, quantity, account)

    assert refused.value.field == field
    assert executor.asked == []


@pytest.mark.parametrize(
    ("failure", "why"),
    [
        (down(), f"the executor at {ENDPOINT} did not answer (asked twice, 200 ms each)"),
        (
            ServiceRefused("executor", "gateway did not answer", ErrorCode.UNAVAILABLE),
            "the executor could not learn it: gateway did not answer",
        ),
    ],
)
def test_an_unknown_outcome_names_the_order_and_how_to_check(failure: Exception, why: str) -> None:
    executor = FakeExecutor(ManualOrder=[failure])

    with pytest.raises(OrderOutcomeUnknown) as unknown:
        orders.send_market_order(executor, "TXFL6", Side.SELL, 1)

    order_id = unknown.value.client_order_id
    assert unknown.value.exit_code == EXIT_DOWN
    assert str(unknown.value) == (
        f"{why}, so the outcome of order {order_id} is unknown; check it with: "
        f"aftm trades (do not send it again as a new order)"
    )


@pytest.mark.parametrize(("symbol", "quantity"), [("", 1), ("  ", 1), ("TXFL6", 0)])
def test_the_menu_path_checks_input_before_asking(symbol: str, quantity: int) -> None:
    executor = FakeExecutor()

    with pytest.raises(InvalidInput):
        orders.send_market_order(executor, symbol, Side.BUY, quantity)

    assert executor.asked == []


# --- brakes ----------------------------------------------------------------------------------


def test_halt_prints_the_mode_the_executor_reports(capsys: pytest.CaptureFixture[str]) -> None:
    executor = FakeExecutor(SetTradingMode=[a_status(TradingMode.HALTED)])

    brakes.set_mode(executor, TradingMode.HALTED)

    assert capsys.readouterr().out.startswith("the executor's trading mode is now halted (")


def test_flatten_is_asked_once_and_lists_the_trades_it_closes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    closing = a_trade(state="closing")
    executor = FakeExecutor(Flatten=[TradeList((closing,))])

    assert brakes.flatten(executor, "TXFL6").trades == (closing,)

    assert executor.asked == [(Flatten("TXFL6"), 0)]  # never repeated blind: it cancels orders
    out = capsys.readouterr().out
    assert out.startswith("closing TXFL6 positions at market: 1 trade(s)\n")
    assert "M0123456789abcde" in out


def test_flatten_with_nothing_open_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    brakes.flatten(FakeExecutor(Flatten=[TradeList(())]))

    assert capsys.readouterr().out == "nothing to close: no open trade holds every position\n"


@pytest.mark.parametrize(
    "failure",
    [down(), ServiceRefused("executor", "gateway did not answer", ErrorCode.UNAVAILABLE)],
)
def test_a_flatten_without_a_definite_answer_says_to_check(failure: Exception) -> None:
    with pytest.raises(OutcomeUnknown, match="check it with: aftm trades --open") as unknown:
        brakes.flatten(FakeExecutor(Flatten=[failure]), "MXFL6")

    assert unknown.value.exit_code == EXIT_DOWN
    assert "whether the executor is closing MXFL6 positions is unknown" in str(unknown.value)


@pytest.mark.parametrize(("answer", "confirmed"), [("y\n", True), ("YES\n", True), ("n\n", False)])
def test_flatten_on_a_terminal_asks_first(
    monkeypatch: pytest.MonkeyPatch, answer: str, *, confirmed: bool
) -> None:
    monkeypatch.setattr(brakes, "is_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))

    if confirmed:
        brakes.confirm_flatten("TXFL6")
    else:
        with pytest.raises(ConsoleError, match="not confirmed: nothing was sent"):
            brakes.confirm_flatten("TXFL6")


def test_flatten_on_a_terminal_closed_before_an_answer_is_not_confirmed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(brakes, "is_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    with pytest.raises(ConsoleError, match="not confirmed"):
        brakes.confirm_flatten("")


# --- the menu --------------------------------------------------------------------------------


def test_the_menu_sends_its_market_order_halts_flattens_and_resumes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = FakeExecutor(
        ManualOrder=[a_trade()],
        SetTradingMode=[a_status(TradingMode.HALTED), a_status(TradingMode.ACTIVE)],
        Flatten=[TradeList((a_trade(state="closing"),))],
        ListTrades=[TradeList((a_trade(),))],
    )
    answers = "6\nTXFL6\nbuy\n2\n\n11\n13\nTXFL6\ny\n12\n9\n0\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))

    assert menu.run_menu(executor, lambda: 0) == 0

    requests = executor.requests()
    assert [type(r) for r in requests] == [
        ManualOrder,
        SetTradingMode,
        Flatten,
        SetTradingMode,
        ListTrades,
    ]
    assert requests[1:4] == [
        SetTradingMode(TradingMode.HALTED),
        Flatten("TXFL6"),
        SetTradingMode(TradingMode.ACTIVE),
    ]
    out = capsys.readouterr().out
    assert "6 send market order" in out
    assert "trade M0123456789abcde open" in out


def test_the_menu_flatten_answered_no_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = FakeExecutor()
    monkeypatch.setattr("sys.stdin", io.StringIO("13\n\nn\n0\n"))

    assert menu.run_menu(executor, lambda: 0) == 0

    assert executor.asked == []
    assert "cancelled" in capsys.readouterr().out


# --- helpers ---------------------------------------------------------------------------------


def record_every_request(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every request any real Services would send, recorded instead of sent."""
    asked: list[object] = []

    def ask(self: Services, service: Service, body: object, *args: object, **kw: object) -> None:
        asked.append(body)
        raise down()

    monkeypatch.setattr(Services, "ask", ask)
    return asked


@pytest.fixture(autouse=True)
def _no_aftm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's settings as this file sets them, whatever a developer exported."""
    for name in ("AFTM_CONSOLE_EXECUTOR_CONNECT", "AFTM_CONSOLE_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
