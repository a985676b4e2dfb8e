"""No one message stops a service: an exception while handling it is counted, logged once per
socket and kind of failure, and the loop goes on with the next message.

Handlers already answer the errors they expect (refusals, timeouts); what reaches the guard is
a bug or a case nobody foresaw. Dropping that one message loses nothing the broker holds: the
journal and reconciliation own correctness, and a service that died here would drop every
message behind it and crash again on the same frame after a restart.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import TracebackType

from loguru import logger

from aftm.wire.protocol import ErrorCode, Reply, Request
from aftm.wire.sockets import error

OnFailure = Callable[[str], None]  # the socket's name: e.g. a metric's inc
MAX_LOGGED = 200  # distinct (socket, failure) pairs logged in full; every failure is counted


class MessageGuard:
    """`with guard.handling("control"): ...` swallows and records an exception from the block.

    KeyboardInterrupt, SystemExit and other BaseExceptions pass through: they stop a service
    on purpose.
    """

    def __init__(self, on_failure: OnFailure | None = None) -> None:
        self._on_failure = on_failure
        self._logged: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.failures = 0

    def handling(self, socket: str) -> _Handling:
        return _Handling(self, socket)

    def reply(self, socket: str, request: Request, answer: Callable[[Request], Reply]) -> Reply:
        """`answer(request)`, or, when it fails, the failure recorded and an UNAVAILABLE reply:
        the client hears that the outcome is unknown instead of waiting out its timeout."""
        try:
            return answer(request)
        except Exception as failure:
            self.record(socket, failure)
            message = f"internal error ({type(failure).__name__}); the outcome is unknown"
            return error(request, ErrorCode.UNAVAILABLE, message)

    def record(self, socket: str, failure: Exception) -> None:
        self.failures += 1
        if self._on_failure is not None:
            with contextlib.suppress(Exception):  # a broken metric must not undo the guard
                self._on_failure(socket)
        key = (socket, type(failure).__name__)
        with self._lock:
            first = key not in self._logged and len(self._logged) < MAX_LOGGED
            if first:
                self._logged.add(key)
        if first:
            logger.opt(exception=failure).error(
                "message dropped after a failure socket={} error={}: {}",
                socket,
                type(failure).__name__,
                failure,
            )


class _Handling:
    def __init__(self, guard: MessageGuard, socket: str) -> None:
        self._guard = guard
        self._socket = socket

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if isinstance(value, Exception):
            self._guard.record(self._socket, value)
            return True
        return False
