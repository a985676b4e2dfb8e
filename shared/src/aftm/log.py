"""Logging with loguru: one event per line, past tense plus key=value; JSON lines on request.

Log lines repeat values that came from outside (ids, a broker's reason, a refused frame's
text), so every message is made safe before any sink sees it: control characters are escaped,
so a value cannot start a forged line or move a terminal's cursor, and the message is cut at
MAX_MESSAGE_CHARS, so a huge value cannot flood the log. The whole formatted message is treated
rather than each interpolated value: loguru hands a patcher the message already formatted, and
the bound is what matters to a reader (one event, one readable line). A traceback is loguru's
own text, outside the message, and stays multi-line.

Warnings and errors are also throttled per call site (`Throttle`): a peer that sends a malformed
frame a thousand times a second would otherwise write one warning each, hundreds of megabytes
an hour. Every such frame is still counted in the service's metrics; the log keeps the first
lines of each burst and says how many it held back.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

HUMAN_FORMAT = "{time:HH:mm:ss.SSS} {level:<7} {extra[service]} {message}"
# Longer than any legitimate event line (the longest carry a few ids and a reason), short
# enough that a hostile value costs one screen line, not the disk.
MAX_MESSAGE_CHARS = 2000
# C0 and C1 controls and DEL; the Unicode line and paragraph separators, which some viewers
# break lines at; and the bidirectional overrides and isolates, which can make a line display
# differently from what it holds.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_message(message: str) -> str:
    """`message` with control characters escaped, cut at MAX_MESSAGE_CHARS ("…(N more)")."""
    escaped = _UNSAFE.sub(_escape, message)
    if len(escaped) <= MAX_MESSAGE_CHARS:
        return escaped
    return f"{escaped[:MAX_MESSAGE_CHARS]}…({len(escaped) - MAX_MESSAGE_CHARS} more)"


def _make_safe(record: Record) -> None:
    record["message"] = safe_message(record["message"])


WARNING_LEVEL = 30  # loguru's WARNING; below it nothing is throttled (INFO is the audit trail)
LINES_PER_WINDOW = 20
WINDOW_S = 10.0


@dataclass(slots=True)
class _Window:
    start: float
    passed: int = 1
    held: int = 0


class Throttle:
    """A sink filter: at most `lines` warnings or errors per call site (module and line) per
    `window_s`. The first line of a new window says how many the last one held back."""

    def __init__(
        self,
        lines: int = LINES_PER_WINDOW,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lines, self._window_s, self._clock = lines, window_s, clock
        self._windows: dict[tuple[str | None, int], _Window] = {}  # bounded: one per call site
        self._lock = threading.Lock()  # the ZAP thread logs too

    def __call__(self, record: Record) -> bool:
        if record["level"].no < WARNING_LEVEL:
            return True
        key = (record["name"], record["line"])
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window.start >= self._window_s:
                self._windows[key] = _Window(now)
                if window is not None and window.held:
                    record["message"] += (
                        f" ({window.held} more like this held back in {self._window_s:.0f} s)"
                    )
                return True
            if window.passed < self._lines:
                window.passed += 1
                return True
            window.held += 1
            return False


def configure(service: str, *, level: str = "INFO", json_lines: bool = False) -> None:
    logger.remove()
    logger.configure(extra={"service": service}, patcher=_make_safe)
    throttle = Throttle()
    if json_lines:
        logger.add(sys.stderr, level=level, serialize=True, filter=throttle)
    else:
        logger.add(sys.stderr, level=level, format=HUMAN_FORMAT, filter=throttle)
