"""Every page of a list the services answer in pages (orders, conditions, trades).

No list reply may exceed the frame cap, so the services page them; the console asks page after
page until a reply says none follow, and shows what it gathered as one list. A reply whose
cursor does not move ends the loop too, so a misbehaving service cannot keep it asking.
"""

from __future__ import annotations

from aftm.domain.conditions import Condition
from aftm.wire.protocol import (
    MAX_CONDITION_PAGE,
    MAX_ORDER_PAGE,
    MAX_TRADE_PAGE,
    ConditionList,
    ListConditions,
    ListOrders,
    ListTrades,
    OrderList,
    OrderSnapshot,
    TradeList,
    TradeView,
)
from aftm_console.services import Service, Services

# Page sizes asked for; module values so that a test can make a short history span pages.
ORDER_PAGE = MAX_ORDER_PAGE
CONDITION_PAGE = MAX_CONDITION_PAGE
TRADE_PAGE = MAX_TRADE_PAGE


def every_order(
    services: Services, *, retries: int = 1, timeout_ms: int | None = None
) -> tuple[OrderSnapshot, ...]:
    """The gateway's whole order list, oldest first. A read: safe to ask again."""
    orders: list[OrderSnapshot] = []
    after = 0
    while True:
        request = ListOrders(after=after, limit=ORDER_PAGE)
        page = services.ask(
            Service.GATEWAY, request, OrderList, retries=retries, timeout_ms=timeout_ms
        )
        orders.extend(page.orders)
        if not page.more or page.last <= after:
            return tuple(orders)
        after = page.last


def every_condition(
    services: Services,
    *,
    retries: int = 1,
    timeout_ms: int | None = None,
    endpoint: str | None = None,
) -> ConditionList:
    """Every condition of one strategy (`endpoint`, or the only one) in creation order, in
    one ConditionList with the quarantine count."""
    conditions: list[Condition] = []
    after = 0
    while True:
        request = ListConditions(after=after, limit=CONDITION_PAGE)
        page = services.ask(
            Service.STRATEGY,
            request,
            ConditionList,
            retries=retries,
            timeout_ms=timeout_ms,
            endpoint=endpoint,
        )
        conditions.extend(page.conditions)
        if not page.more or page.last <= after:
            return ConditionList(tuple(conditions), page.last, False, page.quarantined)
        after = page.last


def newest_trades(
    services: Services,
    *,
    open_only: bool = False,
    limit: int,
    retries: int = 1,
    endpoint: str | None = None,
) -> TradeList:
    """One executor's (`endpoint`, or the chosen one) newest `limit` trades, newest last,
    gathered from the newest page back."""
    trades: list[TradeView] = []
    before: tuple[int, str] = (0, "")
    page = TradeList(())
    while len(trades) < limit:
        request = ListTrades(open_only, min(limit - len(trades), TRADE_PAGE), *before)
        page = services.ask(
            Service.EXECUTOR, request, TradeList, retries=retries, endpoint=endpoint
        )
        trades[:0] = page.trades  # each page is older than the ones before it
        cursor = (page.oldest_ns, page.oldest_id)
        if not page.more or not page.trades or cursor == before:
            break
        before = cursor
    return TradeList(tuple(trades), page.oldest_ns, page.oldest_id, page.more)
