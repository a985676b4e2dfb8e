"""The real `aftm` command against a scripted executor control socket: what the console sends
when an answer is lost or refused, and what it tells the user.

The script drops, refuses or answers each request as a test says, and keeps every request it
received, so a test can see that a lost manual order is asked again under the same order id
and that a flatten is never repeated blind.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import zmq

from aftm.wire.protocol import (
    ErrorCode,
    ExecutorStatus,
    Flatten,
    ManualOrder,
    Reply,
    Request,
    SetTradingMode,
    TradeList,
    TradeView,
    TradingMode,
)
from aftm.wire.sockets import bound_endpoint, error, make_socket, ok, read_request, reply_frames
from tests.integration.test_console import aftm, assert_one_line_error
from tests.support.processes import endpoint

pytestmark = pytest.mark.slow
Context = zmq.Context[zmq.Socket[bytes]]
TIMEOUT_MS = 500
POLL_MS = 50
# What the script does with the n-th request (0-based): None drops it, else the reply to send.
Script = Callable[[int, Request], Reply | None]


class ScriptedExecutor:
    """The executor's control ROUTER, served by one thread that owns the socket."""

    def __init__(self, context: Context, script: Script) -> None:
        self._socket = make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:0")
        self.endpoint = bound_endpoint(self._socket)
        self._script = script
        self.requests: list[object] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._socket.poll(POLL_MS):
                continue
            identity, request = read_request(self._socket.recv_multipart())
            reply = self._script(len(self.requests), request)
            self.requests.append(request.body)
            if reply is not None:
                self._socket.send_multipart(reply_frames(identity, reply))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@pytest.fixture
def context() -> Iterator[Context]:
    context: Context = zmq.Context()
    yield context
    context.term()


@pytest.fixture
def serve(context: Context) -> Iterator[Callable[[Script], ScriptedExecutor]]:
    started: list[ScriptedExecutor] = []

    def start(script: Script) -> ScriptedExecutor:
        started.append(ScriptedExecutor(context, script))
        return started[-1]

    yield start
    for executor in started:
        executor.close()


def console(executor: ScriptedExecutor) -> dict[str, str]:
    """Only the executor answers; the other services are nowhere (and must not be needed)."""
    return {
        "AFTM_CONSOLE_GATEWAY_CONNECT": endpoint(),
        "AFTM_CONSOLE_STRATEGY_CONNECT": endpoint(),
        "AFTM_CONSOLE_EXECUTOR_CONNECT": executor.endpoint,
        "AFTM_CONSOLE_TIMEOUT_MS": str(TIMEOUT_MS),
    }


def trade_for(order: ManualOrder) -> TradeView:
    return TradeView(
        trade_id=order.order_id,
        account=order.account or "SIM-0001",
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        state="open",
        reason="",
        entry_filled=order.quantity,
        exit_filled=0,
        entry_price=Decimal("23008"),
        exit_price=None,
        realised_points=Decimal("0"),
        realised_twd=Decimal("0"),
        opened_ns=1,
        updated_ns=1,
        orders=(),
    )


def dropping(first: int) -> Script:
    """Drop the first `first` requests, then answer each as the executor would."""

    def script(n: int, request: Request) -> Reply | None:
        if n < first:
            return None
        body = request.body
        if isinstance(body, ManualOrder):
            return ok(request, trade_for(body))
        if isinstance(body, SetTradingMode):
            return ok(request, ExecutorStatus("SIM-0001", body.mode, True, 0, 0, 0, ()))
        if isinstance(body, Flatten):
            return ok(request, TradeList(()))
        return error(request, ErrorCode.BAD_REQUEST, "not scripted")

    return script


def refusing(code: ErrorCode, reason: str) -> Script:
    return lambda n, request: error(request, code, reason)


ORDER = ("order", "--symbol", "TXFL6", "--side", "buy", "--quantity", "2")


def test_a_lost_order_reply_is_asked_again_under_the_same_order_id(
    serve: Callable[[Script], ScriptedExecutor],
) -> None:
    executor = serve(dropping(1))

    result = aftm(console(executor), *ORDER, "--account", "SIM-0001")

    assert result.returncode == 0, result.stderr
    first, again = executor.requests
    assert isinstance(first, ManualOrder)
    assert again == first  # the same order id: the executor places it once
    assert re.fullmatch(r"M[0-9a-f]{15}", first.order_id)
    assert (first.symbol, first.side, first.quantity, first.account) == (
        "TXFL6", "buy", 2, "SIM-0001",
    )  # fmt: skip
    assert f"sending order {first.order_id}" in result.stdout
    assert f"trade {first.order_id} open: buy 2 TXFL6 on SIM-0001" in result.stdout


def test_an_order_never_answered_names_its_id_and_how_to_check(
    serve: Callable[[Script], ScriptedExecutor],
) -> None:
    executor = serve(dropping(99))

    line = assert_one_line_error(aftm(console(executor), *ORDER), 3)

    first, again = executor.requests  # asked twice, under one id, and no more
    assert isinstance(first, ManualOrder)
    assert again == first
    assert f"so the outcome of order {first.order_id} is unknown" in line
    assert "check it with: aftm trades" in line


def test_an_order_whose_outcome_the_executor_does_not_know_exits_3(
    serve: Callable[[Script], ScriptedExecutor],
) -> None:
    executor = serve(refusing(ErrorCode.UNAVAILABLE, "gateway did not answer"))

    line = assert_one_line_error(aftm(console(executor), *ORDER), 3)

    (order,) = executor.requests
    assert isinstance(order, ManualOrder)
    assert (
        "could not learn it: gateway did not answer (unavailable), so the outcome of order "
        f"{order.order_id} is unknown" in line
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (ErrorCode.REJECTED, "max lots per order is 1"),
        (ErrorCode.INVALID, "unknown symbol 'TXFL6'"),
    ],
)
def test_a_refused_order_exits_1_with_the_reason(
    serve: Callable[[Script], ScriptedExecutor], code: ErrorCode, reason: str
) -> None:
    executor = serve(refusing(code, reason))

    line = assert_one_line_error(aftm(console(executor), *ORDER), 1)

    assert line == f"aftm: executor refused: {reason} ({code})"
    assert len(executor.requests) == 1


def test_a_flatten_is_never_repeated_blind(serve: Callable[[Script], ScriptedExecutor]) -> None:
    executor = serve(dropping(99))

    line = assert_one_line_error(aftm(console(executor), "flatten", "--yes"), 3)

    assert executor.requests == [Flatten("")]
    assert "whether the executor is closing every position is unknown" in line
    assert "aftm trades --open" in line


def test_a_flatten_of_one_symbol_asks_for_that_symbol(
    serve: Callable[[Script], ScriptedExecutor],
) -> None:
    executor = serve(dropping(0))

    result = aftm(console(executor), "flatten", "--symbol", "MXFL6", "--yes")

    assert result.returncode == 0, result.stderr
    assert executor.requests == [Flatten("MXFL6")]
    assert "nothing to close" in result.stdout


def test_a_lost_halt_reply_is_asked_again(serve: Callable[[Script], ScriptedExecutor]) -> None:
    executor = serve(dropping(1))

    result = aftm(console(executor), "halt")

    assert result.returncode == 0, result.stderr
    assert executor.requests == [SetTradingMode(TradingMode.HALTED)] * 2
    assert "the executor's trading mode is now halted" in result.stdout
