"""The running phase of `aftm run`: ticks from the gateway, the view, the demo, the children.

One thread owns the SUB socket and the request clients; each turn waits on SUB (blocking poll)
at most until the next refresh, so ticks are read as they come and the children are looked at
several times a second.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import zmq

from aftm.domain.market import Tick
from aftm.errors import AftmError, DecodeError
from aftm.security.roles import Role
from aftm.wire.codec import decode
from aftm.wire.protocol import (
    SESSION_TOPIC,
    TICK_TOPIC,
    ExecutorStatus,
    GetExecutorStatus,
    GetMarketSession,
    MarketSession,
)
from aftm.wire.sockets import make_socket
from aftm_console.commands.conditions import add_condition
from aftm_console.paging import every_condition, every_order
from aftm_console.render import say, warn
from aftm_console.run.children import Child
from aftm_console.run.view import Picture, screen, summary
from aftm_console.services import Service, Services

T = TypeVar("T")
EXIT_CHILD_DIED = 1
REFRESH_S = 1.0
SUMMARY_EVERY_S = 5.0  # without a terminal: one line this often
VIEW_TIMEOUT_MS = 1000  # a slow service costs the view one refresh, not the loop
DEMO_SYMBOL = "TXFL6"
DEMO_PATIENCE_S = 30.0


def demo_fields(last_price: int) -> dict[str, object]:
    """A buy that triggers at once (trigger above the market), trails the market down and
    enters on the first 3-point bounce: a trade within seconds on the random-walk market."""
    return {
        "symbol": DEMO_SYMBOL,
        "action": "buy",
        "trigger_price": last_price + 5,
        "turning_point": 3,
        "is_following": True,
        "take_profit_point": 20,
        "stop_loss_point": 20,
        "quantity": 1,
    }


@dataclass(frozen=True, slots=True)
class LiveOptions:
    view: bool
    demo: bool
    state_dir: Path


class LiveLoop:
    def __init__(
        self,
        services: Services,
        children: list[Child],
        options: LiveOptions,
        stop: threading.Event,
    ) -> None:
        self._services = services
        self._children = children
        self._options = options
        self._stop = stop
        self._prices: dict[str, int] = {}
        self._market: MarketSession | None = None  # published on change and every 10 s
        self._notes: list[str] = []
        self._demo_pending = options.demo
        self._started = time.monotonic()
        self._next_summary = 0.0
        self._is_terminal = sys.stdout.isatty()

    def run(self) -> int:
        """0 once `stop` is set; EXIT_CHILD_DIED as soon as a child has died."""
        ticks = make_socket(
            self._services.context,
            zmq.SUB,
            connect=self._services.settings.gateway_pub_connect,
            subscribe=(TICK_TOPIC, SESSION_TOPIC),
            setup=self._services.setup(Role.GATEWAY),
        )
        try:
            return self._loop(ticks)
        finally:
            ticks.close()

    def _loop(self, ticks: zmq.Socket[bytes]) -> int:
        next_refresh = time.monotonic()
        while not self._stop.is_set():
            wait_ms = max(0, round((next_refresh - time.monotonic()) * 1000))
            if ticks.poll(wait_ms):
                self._read(ticks)
            if self._stop.is_set():
                break
            dead = next((child for child in self._children if not child.is_running), None)
            if dead is not None:
                warn(
                    f"the {dead.name} stopped unexpectedly (exit code {dead.exit_code}); "
                    f"last lines of {dead.log_path}:\n{dead.log_tail()}"
                )
                return EXIT_CHILD_DIED
            if self._demo_pending:
                self._demo()
            if time.monotonic() >= next_refresh:
                self._refresh()
                next_refresh = time.monotonic() + REFRESH_S
        return 0

    def _read(self, ticks: zmq.Socket[bytes]) -> None:
        """Everything waiting now (poll with no wait), so a burst never lags the view."""
        while True:
            frames = ticks.recv_multipart()
            try:
                message = decode(frames[-1])
            except DecodeError:
                message = None  # not for the view to judge; the services count bad frames
            if isinstance(message, Tick):
                self._prices[message.symbol] = message.price
            elif isinstance(message, MarketSession):
                self._market = message
            if not ticks.poll(0):
                return

    def _demo(self) -> None:
        price = self._prices.get(DEMO_SYMBOL)
        if price is None:
            if time.monotonic() - self._started > DEMO_PATIENCE_S:
                warn(f"demo: no {DEMO_SYMBOL} tick after {DEMO_PATIENCE_S:.0f} s; no demo")
                self._demo_pending = False
            return
        self._demo_pending = False
        say(f"demo: {DEMO_SYMBOL} last traded at {price}; adding a buy that trades within seconds")
        try:
            condition = add_condition(self._services, demo_fields(price))
        except AftmError as failed:
            warn(f"demo: the condition was not added: {failed}")
            self._notes.append(f"demo: the condition was not added: {failed}")
            return
        self._notes.append(
            f"demo: condition {condition.id} added at {DEMO_SYMBOL} {price}: buy 1, trigger "
            f"{condition.trigger_price}, trailing, enters on a 3-point bounce, "
            f"take profit/stop loss 20 points"
        )

    def _refresh(self) -> None:
        if not self._options.view:
            return
        now = time.monotonic()
        if not self._is_terminal and now < self._next_summary:
            return
        picture = self._picture()
        if self._is_terminal:
            sys.stdout.write(screen(picture))
            sys.stdout.flush()
        else:
            say(summary(picture))
            self._next_summary = now + SUMMARY_EVERY_S

    def _picture(self) -> Picture:
        conditions = self._gather(
            lambda: every_condition(self._services, retries=0, timeout_ms=VIEW_TIMEOUT_MS)
        )
        orders = self._gather(
            lambda: every_order(self._services, retries=0, timeout_ms=VIEW_TIMEOUT_MS)
        )
        return Picture(
            time=time.strftime("%H:%M:%S"),
            prices=dict(self._prices),
            conditions=None if conditions is None else conditions.conditions,
            orders=orders,
            executor=self._gather(
                lambda: self._services.ask(
                    Service.EXECUTOR,
                    GetExecutorStatus(),
                    ExecutorStatus,
                    timeout_ms=VIEW_TIMEOUT_MS,
                )
            ),
            state_dir=self._options.state_dir,
            notes=tuple(self._notes),
            market=self._market or self._gather(self._ask_market),
        )

    def _ask_market(self) -> MarketSession:
        """Until the first publication arrives (up to 10 s), the gateway is asked."""
        return self._services.ask(
            Service.GATEWAY, GetMarketSession(), MarketSession, timeout_ms=VIEW_TIMEOUT_MS
        )

    def _gather(self, ask: Callable[[], T]) -> T | None:
        try:
            return ask()
        except AftmError:
            return None  # shown as "no answer"; a dead process is caught by the child check
