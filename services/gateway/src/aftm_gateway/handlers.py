"""`RequestHandler`: one gateway request in, one reply out; errors become error codes.

INVALID names the refused field; NOT_LOGGED_IN asks for a login; REJECTED is the broker saying
no to the call itself; NOT_FOUND is an unknown order; UNAVAILABLE means the outcome is unknown
(the broker did not answer): ask again with QueryOrder, never with a new order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from loguru import logger

from aftm.domain import limits
from aftm.domain.limits import check_account, check_client_order_id, check_int, check_symbol
from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderStatus
from aftm.errors import InvalidInput
from aftm.wire import protocol as p
from aftm.wire.protocol import ErrorCode, Reply, Request
from aftm.wire.sockets import error, ok
from aftm_gateway.broker import Broker
from aftm_gateway.desk import OrderDesk, Placed
from aftm_gateway.errors import (
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    NotLoggedIn,
    OrderNotFound,
)
from aftm_gateway.fill_ledger import FillLedger
from aftm_gateway.market_session import SessionAt, result_of
from aftm_gateway.metrics import GatewayMetrics

HealthAt = Callable[[int], p.GatewayHealth]
MERGE_OVERLAP_NS = 60 * 1_000_000_000  # a clock step back, or fills stamped out of order
_CODES: tuple[tuple[type[Exception], ErrorCode], ...] = (
    (InvalidInput, ErrorCode.INVALID),
    (NotLoggedIn, ErrorCode.NOT_LOGGED_IN),  # before BrokerRejected, its base
    (BrokerRejected, ErrorCode.REJECTED),
    (OrderNotFound, ErrorCode.NOT_FOUND),
    (BrokerUnavailable, ErrorCode.UNAVAILABLE),
)

# Place requests that got no order snapshot, by metrics label.
_UNANSWERED: tuple[tuple[type[Exception], str], ...] = (
    (InvalidInput, "invalid"),
    (NotLoggedIn, "not_logged_in"),
    (BrokerUnavailable, "unavailable"),
)


class RequestHandler:
    def __init__(
        self,
        broker: Broker,
        desk: OrderDesk,
        fills: FillLedger,
        metrics: GatewayMetrics,
        health: HealthAt,
        market_session: SessionAt | None = None,
    ) -> None:
        self._broker = broker
        self._desk = desk
        self._fills = fills
        self._metrics = metrics
        self._health = health
        self._answered: list[Placed] = []  # orders answered, to settle and log after the reply
        self._handlers: dict[type, Callable[[Any, int], object]] = {
            p.Login: self._login,
            p.Logout: self._logout,
            PlaceOrder: self._place,
            p.CancelOrder: lambda body, now: self._desk.cancel(_id(body.client_order_id)),
            p.QueryOrder: lambda body, now: self._desk.query(_id(body.client_order_id)),
            p.ListOrders: self._list_orders,
            p.ListPositions: self._positions,
            p.ListFills: self._list_fills,
            p.ListAccounts: lambda body, now: p.AccountList(self._broker.accounts()),
            p.RegisterItem: self._register,
            p.UnregisterItem: self._unregister,
            p.ListFutures: lambda body, now: p.FutureList(self._broker.futures()),
            p.GetHealth: lambda body, now: self._health(now),
        }
        if market_session is not None:  # a real broker's (PFCF) is not modelled yet
            self._handlers[p.GetMarketSession] = lambda body, now: market_session(now)

    def answer(self, request: Request, now_ns: int) -> Reply:
        body = request.body
        handler = self._handlers.get(type(body))
        if handler is None:
            self._metrics.requests.labels(type="unsupported").inc()
            return error(request, ErrorCode.BAD_REQUEST, f"{type(body).__name__} is not served")
        self._metrics.requests.labels(type=type(body).__name__).inc()
        try:
            return ok(request, handler(body, now_ns))
        except (InvalidInput, BrokerError) as refused:
            code = next(code for kind, code in _CODES if isinstance(refused, kind))
            return error(request, code, str(refused))
        except Exception as bug:
            # Not a deliberate error: the outcome is unknown to the client, so UNAVAILABLE.
            logger.exception("request failed type={} error={}", type(body).__name__, bug)
            return error(request, ErrorCode.UNAVAILABLE, f"internal error: {bug}")

    def _place(self, order: PlaceOrder, now_ns: int) -> p.OrderSnapshot:
        try:
            placed = self._desk.place(order, now_ns)
        except (InvalidInput, NotLoggedIn, BrokerUnavailable) as refused:
            result = next(label for kind, label in _UNANSWERED if isinstance(refused, kind))
            self._metrics.orders.labels(result=result).inc()
            logger.warning(
                "order not answered client_order_id={} result={} error={}",
                order.client_order_id,
                result,
                refused,
            )
            raise
        result = placed.result
        if result == OrderStatus.REJECTED.value:
            result = result_of(placed.snapshot.reason) or result
        self._metrics.orders.labels(result=result).inc()
        # Journaled and logged once the reply is out (see `after_reply`).
        self._answered.append(placed)
        return placed.snapshot

    def after_reply(self) -> None:
        """Journal and log the orders answered since the last call; the loop calls it after
        sending (or dropping) the reply, before it reads the next request."""
        for placed in self._answered:
            snapshot = placed.snapshot
            try:
                self._desk.settle(placed)
            except sqlite3.Error as failure:
                # The reply is out and the entry stays open: it is answered by asking the broker.
                logger.exception(
                    "order answer not journaled client_order_id={} error={}",
                    snapshot.client_order_id,
                    failure,
                )
            logger.info(
                "order answered client_order_id={} broker_order_id={} status={} result={}"
                " reason={}",
                snapshot.client_order_id,
                snapshot.broker_order_id,
                snapshot.status.value,
                placed.result,
                snapshot.reason or "-",
            )
        self._answered.clear()

    def log_in(self, user: str, password: str) -> None:
        """Open the broker session, then settle journal entries left open by an earlier run."""
        limits.check_credential(user, "user", max_length=limits.MAX_USER_LENGTH)
        limits.check_credential(password, "password", max_length=limits.MAX_PASSWORD_LENGTH)
        try:
            self._broker.login(user, password)
        except BrokerRejected:
            logger.warning("login refused broker={} user={}", self._broker.name, user)
            raise
        logger.info("login succeeded broker={} user={}", self._broker.name, user)
        known, unknown = self._desk.reconcile()
        if known or unknown:
            logger.info("journal reconciled resolved={} still_unknown={}", known, unknown)

    def _login(self, body: p.Login, now_ns: int) -> p.GatewayHealth:
        self.log_in(body.user, body.password)
        return self._health(now_ns)

    def _logout(self, body: p.Logout, now_ns: int) -> p.GatewayHealth:
        self._broker.logout()
        logger.info("logout succeeded broker={}", self._broker.name)
        return self._health(now_ns)

    def _positions(self, body: p.ListPositions, now_ns: int) -> p.PositionList:
        accounts = (check_account(body.account),) if body.account else self._broker.accounts()
        return p.PositionList(
            tuple(position for account in accounts for position in self._broker.positions(account))
        )

    def _list_orders(self, body: p.ListOrders, now_ns: int) -> p.OrderList:
        """A page of the broker's order list: positions in it are the cursor, as the broker
        lists a session's orders oldest first and only adds to the list."""
        check_page(body.after, body.limit, p.MAX_ORDER_PAGE)
        listed = self._broker.orders()
        page = listed[body.after : body.after + body.limit]
        last = body.after + len(page)
        return p.OrderList(page, last, more=last < len(listed))

    def _list_fills(self, body: p.ListFills, now_ns: int) -> p.FillList:
        """A page of the fill ledger; once the client has caught up with the ledger, what the
        broker lists now is merged in first, so a fill nobody heard is found (fill_ledger.py)."""
        check_page(body.after, body.limit, p.MAX_FILL_PAGE)
        if self._broker.is_logged_in and self._fills.caught_up(body.after):
            # Re-reading the whole day's fills at every reconciliation stalled this loop for
            # tens of ms; fills stamped well before the newest one learned are in already.
            newest_ns = self._fills.newest_ts_ns()
            since_ns = max(0, newest_ns - MERGE_OVERLAP_NS) if newest_ns else 0
            learned = self._fills.merge(self._broker.fills(since_ns))
            if learned:
                logger.info("fill ledger merged new_fills={}", learned)
        fills, last = self._fills.after(body.after, body.limit)
        return p.FillList(tuple(fills), last, self._fills.identity)

    def _register(self, body: p.RegisterItem, now_ns: int) -> p.FutureList:
        self._broker.register(check_symbol(body.symbol))
        logger.info("item registered symbol={}", body.symbol)
        return p.FutureList(self._broker.futures())

    def _unregister(self, body: p.UnregisterItem, now_ns: int) -> p.FutureList:
        self._broker.unregister(check_symbol(body.symbol))
        logger.info("item unregistered symbol={}", body.symbol)
        return p.FutureList(self._broker.futures())


def check_page(after: int, limit: int, most: int) -> None:
    """InvalidInput naming the field for a cursor or page size a list request cannot have."""
    check_int(limit, "limit", minimum=1, maximum=most)
    check_int(after, "after", minimum=0)  # a cursor, as SQLite holds one


def _id(client_order_id: str) -> str:
    return check_client_order_id(client_order_id)
