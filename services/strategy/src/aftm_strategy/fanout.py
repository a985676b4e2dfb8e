"""Every signal to every executor: one PUSH socket per executor, each with its own backlog.

Each executor trades the signals on its own account, so each must receive all of them. A
single PUSH socket connected to several executors would deal signals out round-robin, one to
each, so there is one socket per executor endpoint. Each has its own backlog in memory too:
while one executor is stopped (its socket's high-water mark reached) the others still receive
every signal at once. A backlog is only a shortcut: the store holds every signal, and an
executor that restarts resyncs from it (ListSignalIds / GetSignals).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

import zmq
from loguru import logger

from aftm.domain.signals import Signal
from aftm_strategy.telemetry import StrategyMetrics

Socket = zmq.Socket[bytes]


class _Outlet:
    def __init__(self, socket: Socket, label: str) -> None:
        self.socket = socket
        self.label = label  # the endpoint, for log lines
        # Committed, not yet accepted by this socket: each signal with its stored frame.
        self.backlog: deque[tuple[Signal, bytes]] = deque()


class SignalFanout:
    """Used by the service loop's thread only, like the sockets it holds."""

    def __init__(
        self, sockets: Sequence[Socket], metrics: StrategyMetrics, labels: Sequence[str] = ()
    ) -> None:
        names = list(labels) or [str(number) for number in range(1, len(sockets) + 1)]
        self._outlets = [_Outlet(socket, name) for socket, name in zip(sockets, names, strict=True)]
        self._metrics = metrics

    @property
    def sockets(self) -> list[Socket]:
        return [outlet.socket for outlet in self._outlets]

    def pending(self) -> int:
        """The longest backlog: signals committed that some executor has not been handed."""
        return max((len(outlet.backlog) for outlet in self._outlets), default=0)

    def is_waiting(self, socket: Socket) -> bool:
        """Whether `socket` has a backlog, so the loop should wait for room on it (POLLOUT);
        polling for room on a socket with nothing to send would spin."""
        return any(outlet.backlog for outlet in self._outlets if outlet.socket is socket)

    def emit(self, signals: Sequence[Signal], frames: Sequence[bytes]) -> None:
        """Hand each signal's stored frame to every socket, or queue it behind that socket's
        backlog, so each executor sees emission order."""
        for signal, frame in zip(signals, frames, strict=True):
            for outlet in self._outlets:
                if outlet.backlog or not self._push(outlet.socket, signal, frame):
                    outlet.backlog.append((signal, frame))
                    self._metrics.deferred.inc()
                    logger.warning(
                        "signal push deferred id={} executor={} pending={}",
                        signal.id,
                        outlet.label,
                        len(outlet.backlog),
                    )
        self._metrics.pending.set(self.pending())

    def flush(self, socket: Socket) -> None:
        """Push what `socket` has room for now (the loop saw POLLOUT on it)."""
        for outlet in self._outlets:
            if outlet.socket is socket:
                while outlet.backlog and self._push(socket, *outlet.backlog[0]):
                    outlet.backlog.popleft()
        self._metrics.pending.set(self.pending())

    def _push(self, socket: Socket, signal: Signal, frame: bytes) -> bool:
        """Hand `frame` to `socket` without blocking; False when it has no room."""
        try:
            socket.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        self._metrics.latency.observe(max(0, time.time_ns() - signal.ts_ns) / 1e9)
        return True
