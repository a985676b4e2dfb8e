"""The console's page loops against a scripted service: what they ask, when they stop.

The real services are paged in tests/integration/test_paging.py; here a service that keeps
saying `more` without moving its cursor must not keep the console asking for ever.
"""

from __future__ import annotations

from typing import TypeVar

from aftm.wire.protocol import ListOrders, ListTrades, OrderList, TradeList
from aftm_console import paging
from aftm_console.services import Service, Services
from aftm_console.settings import ConsoleSettings
from tests.builders import a_trade_view

T = TypeVar("T")


class ScriptedService(Services):
    """Answers each request with the next reply of its script; records what was asked."""

    def __init__(self, *replies: object) -> None:
        self.settings = ConsoleSettings(timeout_ms=200)
        self.replies = list(replies)
        self.asked: list[object] = []

    def ask(
        self,
        service: Service,
        body: object,
        answer: type[T],
        *,
        retries: int = 0,
        timeout_ms: int | None = None,
        endpoint: str | None = None,
    ) -> T:
        self.asked.append(body)
        reply = self.replies.pop(0)
        assert isinstance(reply, answer)
        return reply


def test_a_cursor_that_does_not_move_ends_the_loop() -> None:
    stuck = OrderList((), last=0, more=True)
    service = ScriptedService(stuck, stuck, stuck)

    assert paging.every_order(service) == ()
    assert service.asked == [ListOrders(after=0, limit=paging.ORDER_PAGE)]


def test_trades_are_gathered_newest_last_and_stop_at_the_limit() -> None:
    newest = TradeList((a_trade_view(trade_id="t3"),), 30, "t3", more=True)
    older = TradeList((a_trade_view(trade_id="t2"),), 20, "t2", more=True)
    service = ScriptedService(newest, older)

    gathered = paging.newest_trades(service, limit=2)

    assert [t.trade_id for t in gathered.trades] == ["t2", "t3"]
    assert gathered.more
    assert service.asked == [
        ListTrades(limit=2),
        ListTrades(limit=1, before_ns=30, before_id="t3"),
    ]
