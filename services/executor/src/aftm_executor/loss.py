"""The daily loss limit: realised plus marked-to-market P&L of the selected account, checked
once a second; at the limit the executor switches to REDUCING (exits only) with an alarm.

Prices come from the gateway's futures list (each future's last traded price) rather than from
subscribing to ticks: one question a second costs the loop far less than every tick of every
held symbol, and a second is fine-grained enough for a daily limit.
"""

from __future__ import annotations

import time
from decimal import Decimal

from loguru import logger

from aftm.wire.protocol import FutureList, ListFutures, TradingMode
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm_executor import pnl
from aftm_executor.journal import Journal
from aftm_executor.metrics import ExecutorMetrics

PRICES_TIMEOUT_MS = 300


class DailyLoss:
    def __init__(
        self,
        journal: Journal,
        gateway: ReliableClient,
        metrics: ExecutorMetrics,
        limit_twd: float,
    ) -> None:
        self._journal = journal
        self._gateway = gateway
        self._metrics = metrics
        self._limit_twd = limit_twd

    def check(self) -> Decimal | None:
        """Today's P&L of the selected account (None when prices could not be had), switching
        to REDUCING when it is at or beyond the limit."""
        account = self._journal.account()
        if not account:
            return None
        held = [p for p in self._journal.positions() if p.account == account and p.net_quantity]
        prices = self._prices() if held else {}
        if prices is None:
            return None
        today = pnl.trading_day(time.time_ns())
        day_pnl = self._journal.realised_twd(account, today) + pnl.unrealised_twd(held, prices)
        self._metrics.daily_pnl.set(float(day_pnl))
        breached = pnl.is_loss_breached(day_pnl, self._limit_twd)
        self._metrics.daily_loss_breached.set(int(breached))
        if breached and self._journal.mode() is TradingMode.ACTIVE:
            self._journal.set_mode(TradingMode.REDUCING)
            logger.error(
                "daily loss limit reached account={} pnl_twd={} limit_twd={}: trading mode set"
                " to reducing (exits only) until a person resumes",
                account,
                day_pnl,
                self._limit_twd,
            )
        return day_pnl

    def _prices(self) -> dict[str, int] | None:
        try:
            reply = self._gateway.request(ListFutures(), timeout_ms=PRICES_TIMEOUT_MS)
        except RequestTimedOut:
            return None
        if not reply.ok or not isinstance(reply.body, FutureList):
            return None
        return {f.symbol: f.last_price for f in reply.body.futures if f.last_price > 0}
