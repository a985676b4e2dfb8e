"""The last traded price of each symbol, as the gateway knows it: what protected orders are
priced from. Asked (ListFutures) at most once a second, when an order needs one."""

from __future__ import annotations

import time

from aftm.wire.protocol import FutureList, ListFutures
from aftm.wire.reliable import ReliableClient, RequestTimedOut

PRICES_TIMEOUT_MS = 300
REFRESH_S = 1.0
# A price older than this is no basis for a limit: the order waits (an exit) or is refused.
MAX_AGE_S = 10.0


class LastPrices:
    def __init__(self, gateway: ReliableClient) -> None:
        self._gateway = gateway
        self._prices: dict[str, int] = {}
        self._asked = -REFRESH_S  # monotonic seconds
        self._answered = -MAX_AGE_S - 1

    def get(self, symbol: str) -> int | None:
        now = time.monotonic()
        if now - self._asked >= REFRESH_S:
            self._asked = now
            self._refresh(now)
        if now - self._answered > MAX_AGE_S:
            return None
        return self._prices.get(symbol)

    def _refresh(self, now: float) -> None:
        try:
            reply = self._gateway.request(ListFutures(), timeout_ms=PRICES_TIMEOUT_MS)
        except RequestTimedOut:
            return
        if reply.ok and isinstance(reply.body, FutureList):
            self._prices = {f.symbol: f.last_price for f in reply.body.futures if f.last_price > 0}
            self._answered = now
