"""The market's session on the gateway's PUB socket and in its metrics.

`SessionPublisher` reads the broker's MarketSession every SESSION_CHECK_S and publishes it on
SESSION_TOPIC when any product's phase changed, and at least every SESSION_REPEAT_S so that a
late subscriber learns it. It also keeps `aftm_gateway_market_session{product,phase}` (1 for the
current phase, 0 for the others).

Refusals by market rules are named by the start of their reason (MARKET_CLOSED, PRE_OPEN) or a
phrase in it (PRICE_LIMIT); `result_of` turns them into the orders counter's result label.
"""

from __future__ import annotations

from collections.abc import Callable

import zmq
from prometheus_client import Gauge

from aftm.wire.codec import encode
from aftm.wire.protocol import SESSION_TOPIC, MarketSession

NS_PER_S = 1_000_000_000
SESSION_CHECK_S = 0.25  # a phase change is published within this
SESSION_REPEAT_S = 10.0
PHASES = ("pre_open", "regular", "after_hours", "closed")  # aftm.market.sessions.Phase
TRADING_PHASES = frozenset({"regular", "after_hours"})
MARKET_CLOSED = "market closed"
PRE_OPEN = "market in pre-open"
PRICE_LIMIT = "beyond the daily price limit"

SessionAt = Callable[[int], MarketSession]


def result_of(reason: str) -> str | None:
    """The orders counter's result for a refusal by market rules, None for any other reason.

    A pre-open refusal counts as market_closed: the market does not trade such an order yet.
    """
    if reason.startswith((MARKET_CLOSED, PRE_OPEN)):
        return "market_closed"
    if PRICE_LIMIT in reason:
        return "price_limit"
    return None


class SessionPublisher:
    def __init__(self, session_at: SessionAt, pub: zmq.Socket[bytes], gauge: Gauge) -> None:
        self._session_at = session_at
        self._pub = pub
        self._gauge = gauge
        self._phases: tuple[tuple[str, str], ...] = ()
        self._check_due_ns = 0
        self._repeat_due_ns = 0

    @property
    def is_market_quiet(self) -> bool:
        """True once a session was read and no product trades in it: no ticks are due."""
        return bool(self._phases) and all(phase not in TRADING_PHASES for _, phase in self._phases)

    def publish_if_due(self, now_ns: int) -> None:
        if now_ns < self._check_due_ns:
            return
        self._check_due_ns = now_ns + round(SESSION_CHECK_S * NS_PER_S)
        session = self._session_at(now_ns)
        phases = tuple((product.product, product.phase) for product in session.products)
        if phases == self._phases and now_ns < self._repeat_due_ns:
            return
        if phases != self._phases:
            self._phases = phases
            for product, phase in phases:
                for each in PHASES:
                    self._gauge.labels(product=product, phase=each).set(int(each == phase))
        self._pub.send_multipart([SESSION_TOPIC, encode(session)])
        self._repeat_due_ns = now_ns + round(SESSION_REPEAT_S * NS_PER_S)
