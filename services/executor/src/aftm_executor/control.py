"""Control requests from the console: account, trading mode, manual orders, flatten, trades,
reconciliation with the broker.

Choices are journaled, so a restarted executor keeps trading the way it was told to. A manual
order is a trade of its own, decided by the same trade model as a signal's (same risk checks,
journaled, in the book); flatten closes every live trade through that same lifecycle.

An executor whose account is fixed by its settings (AFTM_EXECUTOR_ACCOUNT_FIXED: one executor
per account, as a desk's stack runs them) refuses to select another account and refuses manual
orders for another: that account has an executor of its own, whose book would not know them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from aftm.domain import limits
from aftm.domain.types import OrderType
from aftm.errors import InvalidInput
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    MAX_TRADE_PAGE,
    MAX_TRADE_PAGE_BYTES,
    AccountList,
    ErrorCode,
    ExecutorStatus,
    Flatten,
    GetExecutorStatus,
    GetReconciliation,
    ListAccounts,
    ListTrades,
    ManualOrder,
    Reconcile,
    Reply,
    Request,
    SelectAccount,
    SetTradingMode,
    TradeList,
    TradeView,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import error, ok
from aftm_executor import trades
from aftm_executor.desk import OrderDesk
from aftm_executor.journal import Journal
from aftm_executor.reconciler import Reconciler
from aftm_executor.trades import Phase, Trade
from aftm_executor.views import trade_view

FIXED_BY = "AFTM_EXECUTOR_ACCOUNT_FIXED"


class Control:
    def __init__(
        self,
        journal: Journal,
        gateway: ReliableClient,
        desk: OrderDesk,
        status: Callable[[], ExecutorStatus],
        reconciler: Reconciler,
        fixed_account: str = "",  # empty: the console may select any account the broker has
    ) -> None:
        self._fixed_account = fixed_account
        self._journal = journal
        self._gateway = gateway
        self._desk = desk
        self._status = status
        self._reconciler = reconciler

    def answer(self, request: Request) -> Reply:
        body = request.body
        if isinstance(body, SelectAccount):
            return self._select_account(request, body.account.strip())
        if isinstance(body, SetTradingMode):
            self._journal.set_mode(body.mode)
            logger.warning("trading mode set mode={}", body.mode)
            self._desk.sweep()  # exits held by HALTED go out now, and entries see the mode
            return ok(request, self._status())
        if isinstance(body, ManualOrder):
            return self._manual(request, body)
        if isinstance(body, Flatten):
            symbol = body.symbol.strip()
            try:
                if symbol:  # none: every symbol
                    limits.check_symbol(symbol)
            except InvalidInput as invalid:
                return error(request, ErrorCode.INVALID, str(invalid))
            closing = self._desk.flatten(symbol)
            return ok(request, TradeList(tuple(self._view(trade) for trade in closing)))
        if isinstance(body, ListTrades):
            return self._list_trades(request, body)
        if isinstance(body, GetExecutorStatus):
            return ok(request, self._status())
        if isinstance(body, Reconcile):
            if body.accept:
                logger.warning("reconciliation with the broker's figures accepted by a person")
            return ok(request, self._reconciler.run(accept=body.accept))
        if isinstance(body, GetReconciliation):
            return ok(request, self._reconciler.last)
        name = type(body).__name__
        return error(request, ErrorCode.BAD_REQUEST, f"{name} is not an executor request")

    def _list_trades(self, request: Request, query: ListTrades) -> Reply:
        """A page of trades, newest last, going back from the request's cursor; it stops at
        MAX_TRADE_PAGE_BYTES of encoded views too, as a trade's orders have no fixed count."""
        try:
            limits.check_int(query.limit, "limit", minimum=1, maximum=MAX_TRADE_PAGE)
            # `before_id` is not held to the id limits: a trade stored before them must stay
            # reachable, and the value only ever goes to SQLite as a parameter.
            limits.check_int(query.before_ns, "before_ns", minimum=0)
        except InvalidInput as invalid:
            return error(request, ErrorCode.INVALID, str(invalid))
        before = (query.before_ns, query.before_id) if query.before_id else None  # "": newest
        # One more than asked tells whether older trades follow.
        found = self._journal.recent_trades(
            query.limit + 1, open_only=query.open_only, before=before
        )
        more = len(found) > query.limit
        views: list[TradeView] = []
        size = 0
        for trade in reversed(found[-query.limit :]):  # newest first, until the budget is spent
            view = self._view(trade)
            size += len(encode(view))
            if views and size > MAX_TRADE_PAGE_BYTES:
                more = True
                break
            views.append(view)
        views.reverse()
        oldest = views[0] if views else None
        return ok(
            request,
            TradeList(
                tuple(views),
                oldest.opened_ns if oldest else query.before_ns,
                oldest.trade_id if oldest else query.before_id,
                more,
            ),
        )

    def _select_account(self, request: Request, account: str) -> Reply:
        """Only an account the gateway's broker session knows may receive orders."""
        try:
            limits.check_account(account)
        except InvalidInput as invalid:
            return error(request, ErrorCode.INVALID, str(invalid))
        if self._fixed_account:
            if account == self._fixed_account:
                return ok(request, self._status())  # what it trades already
            return error(request, ErrorCode.REJECTED, self._fixed(account, "select"))
        try:
            # Listing accounts changes nothing at the gateway, so it is safe to ask twice.
            reply = self._gateway.request(ListAccounts(), retries=1)
        except RequestTimedOut as timed_out:
            return error(request, ErrorCode.UNAVAILABLE, f"gateway did not answer: {timed_out}")
        if not reply.ok:
            code = reply.error_code or ErrorCode.UNAVAILABLE
            return error(request, code, f"gateway refused to list accounts: {reply.error}")
        if not isinstance(reply.body, AccountList):
            return error(request, ErrorCode.UNAVAILABLE, "gateway sent no account list")
        if account not in reply.body.accounts:
            known = ", ".join(reply.body.accounts) or "none"
            message = f"unknown account {account!r} (known: {known})"
            return error(request, ErrorCode.INVALID, message)
        self._journal.set_account(account)
        logger.info("account selected account={}", account)
        return ok(request, self._status())

    def _manual(self, request: Request, body: ManualOrder) -> Reply:
        try:
            check_manual(body)
        except InvalidInput as invalid:
            return error(request, ErrorCode.INVALID, str(invalid))
        account = body.account.strip() or self._journal.account()
        if not account:
            return error(request, ErrorCode.INVALID, "no account given and none selected")
        if self._fixed_account and account != self._fixed_account:
            return error(request, ErrorCode.REJECTED, self._fixed(account, "order for"))
        trade = trades.manual(
            body.order_id,
            account,
            body.symbol.strip(),
            body.side,
            body.quantity,
            time.time_ns(),
        )
        stored = self._desk.manual(trade)
        logger.info(
            "manual order taken trade_id={} symbol={} side={} quantity={} state={}",
            stored.trade_id,
            stored.symbol,
            stored.side,
            stored.quantity,
            stored.phase,
        )
        if stored.refused and stored.phase is Phase.DONE and not stored.orders:
            return error(request, ErrorCode.REJECTED, stored.refused)
        return ok(request, self._view(stored))

    def _fixed(self, account: str, what: str) -> str:
        logger.warning("account refused account={} fixed={}", account, self._fixed_account)
        return (
            f"cannot {what} account {account!r}: this executor trades only"
            f" {self._fixed_account!r} ({FIXED_BY} is true); use that account's executor"
        )

    def _view(self, trade: Trade) -> TradeView:
        fills = self._journal.fill_values(order.client_order_id for order in trade.orders)
        return trade_view(trade, fills)


def check_manual(body: ManualOrder) -> None:
    """InvalidInput, naming the field, for a manual order that cannot be taken as given."""
    limits.check_manual_order_id(body.order_id)
    limits.check_symbol(body.symbol.strip())
    limits.check_side(body.side)
    limits.check_quantity(body.quantity, order_type=OrderType.MARKET)  # it goes out at market
    if body.account.strip():
        limits.check_account(body.account.strip())
