"""Handlers for the vendor's events: they run on the DLL's own threads and only translate and queue.

A handler copies the event's fields out as text, turns them into plain values (translate.py)
and puts `(kind, value)` on `Inbox.queue`, which only the gateway loop reads. It takes no lock
the loop may hold and touches no socket. It never raises back into .NET: whatever it cannot
read is counted in `errors`, logged (the first few, then every 1000th) and dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from queue import SimpleQueue
from typing import Any

from loguru import logger

from aftm_gateway.pfcf import translate

LOGGED_ERRORS = 10  # then one log line per ERROR_LOG_EVERY
ERROR_LOG_EVERY = 1000


class Kind(Enum):
    LOGIN = "login"  # value: str (the status message)
    ERROR = "error"  # value: str
    CONNECTION = "connection"  # value: (library name, is up)
    TICK = "tick"  # value: Tick
    REPLY = "reply"  # value: translate.Reply
    MATCH = "match"  # value: translate.Match
    QUERY_REPLY = "query_reply"  # value: (count, recordno, Reply | None)
    QUERY_MATCH = "query_match"  # value: (count, recordno, Match | None)
    POSITION = "position"  # value: translate.PositionRecord
    POSITION_ERROR = "position_error"  # value: str


Item = tuple[Kind, object]


class Inbox:
    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.queue: SimpleQueue[Item] = SimpleQueue()
        self.errors = 0
        self._errors_lock = threading.Lock()
        self._clock = clock

    def on_login_status(self, message: Any) -> None:
        self._guard("PFCloginStatus", lambda: (Kind.LOGIN, _text(message)))

    def on_error_data(self, message: Any) -> None:
        self._guard("PFCErrorData", lambda: (Kind.ERROR, _text(message)))

    def connection(self, library: str, up: bool) -> Callable[[], None]:
        """The handler of one library's OnConnected (up) or OnDisconnected event."""
        return lambda: self._guard(library, lambda: (Kind.CONNECTION, (library, up)))

    def on_tick(self, *fields: Any) -> None:
        self._guard(
            "OnTickDataTrade",
            lambda: (Kind.TICK, translate.tick_from([_text(f) for f in fields], self._clock())),
        )

    def on_reply(self, record: Any) -> None:
        self._guard("OnReply", lambda: (Kind.REPLY, _reply(record)))

    def on_match(self, record: Any) -> None:
        self._guard("OnMatch", lambda: (Kind.MATCH, _match(record)))

    def on_query_reply(self, count: Any, recordno: Any, record: Any) -> None:
        self._guard(
            "OnQueryReply",
            lambda: (Kind.QUERY_REPLY, _numbered(count, recordno, record, _reply)),
        )

    def on_query_match(self, count: Any, recordno: Any, record: Any) -> None:
        self._guard(
            "OnQueryMatch",
            lambda: (Kind.QUERY_MATCH, _numbered(count, recordno, record, _match)),
        )

    def on_position(self, *fields: Any) -> None:
        self._guard(
            "OnPositionData",
            lambda: (Kind.POSITION, translate.position_from([_text(f) for f in fields])),
        )

    def on_position_error(self, code: Any, message: Any) -> None:
        self._guard(
            "OnPositionError",
            lambda: (Kind.POSITION_ERROR, f"{_text(message)} (code {_text(code)})"),
        )

    def _guard(self, event: str, read: Callable[[], Item]) -> None:
        try:
            self.queue.put(read())
        except BaseException as failure:  # nothing may propagate into .NET
            self._count(event, failure)

    def _count(self, event: str, failure: BaseException) -> None:
        try:
            with self._errors_lock:
                self.errors += 1
                seen = self.errors
            if seen <= LOGGED_ERRORS or seen % ERROR_LOG_EVERY == 0:
                logger.warning(
                    "broker callback dropped event={} errors_total={} error={!r}",
                    event,
                    seen,
                    failure,
                )
        except BaseException:  # noqa: S110 - not even logging may raise into .NET
            pass


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {name: _text(getattr(record, name)) for name in names}


def _reply(record: Any) -> translate.Reply:
    return translate.reply_from(_fields(record, translate.REPLY_FIELDS))


def _match(record: Any) -> translate.Match:
    return translate.match_from(_fields(record, translate.MATCH_FIELDS))


def _numbered(
    count: Any, recordno: Any, record: Any, read: Callable[[Any], object]
) -> tuple[int, int, object]:
    total = int(_text(count) or "0")
    number = int(_text(recordno) or "0")
    return total, number, None if record is None or total == 0 else read(record)
