"""Log lines through the real loguru sinks `configure` installs: one event, one safe line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from loguru import logger

from aftm.log import MAX_MESSAGE_CHARS, Throttle, configure, safe_message

FORGED = "c1\n12:00:00.000 INFO    executor order placed id=forged\r\x1b[2J\x85\u2028\u202e"


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    yield
    logger.remove()
    logger.configure(patcher=lambda record: None)


def logged(capsys: pytest.CaptureFixture[str], *, json_lines: bool, value: object) -> str:
    configure("test", json_lines=json_lines)
    logger.info("condition refused id={} reason=test", value)
    return capsys.readouterr().err


@pytest.mark.parametrize("json_lines", [False, True])
def test_control_characters_cannot_forge_a_line(
    capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    out = logged(capsys, json_lines=json_lines, value=FORGED)

    assert out.count("\n") == 1  # the event's own line end, nothing else
    line = json.loads(out)["record"]["message"] if json_lines else out
    for unsafe in ("\r", "\x1b", "\x85", "\u2028", "\u202e"):
        assert unsafe not in line
    assert "c1\\n12:00:00.000 INFO" in line
    assert "\\r\\x1b[2J\\x85\\u2028\\u202e reason=test" in line


@pytest.mark.parametrize("json_lines", [False, True])
def test_a_long_value_is_cut_with_what_was_left_out(
    capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    out = logged(capsys, json_lines=json_lines, value="x" * 100_000)

    message = json.loads(out)["record"]["message"] if json_lines else out.split(" ", 3)[3]
    full = len("condition refused id= reason=test") + 100_000
    assert message.rstrip("\n").endswith(f"…({full - MAX_MESSAGE_CHARS} more)")
    assert len(out) < MAX_MESSAGE_CHARS * 3  # JSON holds it twice: in "text" and "record"


def test_a_traceback_stays_multi_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure("test")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("request failed error={}", "bad\nvalue")
    out = capsys.readouterr().err

    assert "request failed error=bad\\nvalue" in out
    assert "Traceback" in out
    assert out.count("\n") > 3


def test_plain_text_is_left_alone() -> None:
    text = "order answered client_order_id=A1 reason=價格超出範圍 path=C:\\var"
    assert safe_message(text) == text


def test_a_burst_of_warnings_from_one_place_is_held_back_and_then_counted() -> None:
    now = [0.0]
    throttle = Throttle(lines=3, window_s=10.0, clock=lambda: now[0])
    lines: list[str] = []
    logger.remove()
    logger.add(lambda message: lines.append(message.record["message"]), filter=throttle)

    def drop(n: int) -> None:
        logger.warning("frame dropped n={}", n)  # one call site

    for n in range(100):
        drop(n)
        logger.info("order sent n={}", n)  # INFO is never held back
    logger.error("another place")  # a call site of its own
    now[0] = 10.0
    drop(100)

    warnings = [line for line in lines if line.startswith("frame dropped")]
    assert warnings == [
        "frame dropped n=0",
        "frame dropped n=1",
        "frame dropped n=2",
        "frame dropped n=100 (97 more like this held back in 10 s)",
    ]
    assert sum(line.startswith("order sent") for line in lines) == 100
    assert "another place" in lines
