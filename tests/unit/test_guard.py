"""The per-message guard: a failure is counted every time, logged once per socket and kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from aftm.guard import MessageGuard
from aftm.wire.protocol import ErrorCode, ListConditions, Reply, Request


@pytest.fixture
def lines() -> Iterator[list[str]]:
    captured: list[str] = []
    sink = logger.add(captured.append, format="{message}", level="ERROR")
    yield captured
    logger.remove(sink)


def test_a_failure_is_swallowed_counted_and_logged_once_per_socket_and_kind(
    lines: list[str],
) -> None:
    counted: list[str] = []
    guard = MessageGuard(counted.append)

    for socket, failure in [
        ("control", KeyError("a")),
        ("control", KeyError("b")),
        ("control", ValueError("c")),
        ("signals", KeyError("d")),
    ]:
        with guard.handling(socket):
            raise failure

    assert counted == ["control", "control", "control", "signals"]
    assert guard.failures == 4
    assert [line.split(" error=")[0] for line in lines] == [
        "message dropped after a failure socket=control",
        "message dropped after a failure socket=control",
        "message dropped after a failure socket=signals",
    ]
    assert "KeyError" in lines[0]
    assert "ValueError" in lines[1]


def test_a_stop_passes_through() -> None:
    guard = MessageGuard()
    with pytest.raises(KeyboardInterrupt), guard.handling("control"):
        raise KeyboardInterrupt
    assert guard.failures == 0


def test_a_failing_answer_becomes_unavailable_and_a_broken_counter_changes_nothing() -> None:
    def broken_counter(socket: str) -> None:
        raise RuntimeError("metrics down")

    def answer(request: Request) -> Reply:
        raise ZeroDivisionError

    reply = MessageGuard(broken_counter).reply("control", Request("r1", ListConditions()), answer)

    assert (reply.request_id, reply.ok, reply.error_code) == ("r1", False, ErrorCode.UNAVAILABLE)
    assert "ZeroDivisionError" in (reply.error or "")
