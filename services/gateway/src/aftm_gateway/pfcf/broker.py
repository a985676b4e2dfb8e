"""`PfcfBroker`: the Broker port over the vendor's PFCF .NET API, loaded through pythonnet.

Calls go from the gateway loop into the DLL; the DLL answers with events on its own threads,
which callbacks.py turns into queued values. A synchronous method (login, place, cancel, the
queries) calls, then drains that queue until its answer is in, or raises BrokerUnavailable
after `timeout_ms`; whatever else arrives meanwhile (ticks, other orders' reports) is kept for
the next `poll`. Only the loop's thread uses this object.

- Orders carry the client order id in NOTE; live reports are keyed back by NOTE (reports.py).
- `find_order` and `orders` ask the broker (QueryReply + QueryMatch): reconciliation meets the
  broker's truth, not this process's memory. The broker lists an order only once it has
  acknowledged it, later than `Order` returns, so "not listed" is definitive only from a
  complete query begun `not_found_grace_ms` after the order was sent; before that it is
  OrderInDoubt. A query listing two broker orders under one NOTE is queued as a DuplicateOrder.
- Positions are the broker's, aggregated from one OnPositionData callback per record.
- Health: `is_logged_in` is the login session *and* the quote and trade connections being up,
  as their connection events report; subscriptions are renewed when the quote link returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from queue import Empty
from typing import Any

from loguru import logger

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.errors import InvalidInput
from aftm.wire.protocol import Future, OrderSnapshot
from aftm_gateway.broker import BrokerEvent, unsent
from aftm_gateway.errors import (
    BrokerRejected,
    BrokerUnavailable,
    NotLoggedIn,
    OrderInDoubt,
    OrderNotFound,
)
from aftm_gateway.pfcf import translate
from aftm_gateway.pfcf.callbacks import Inbox, Kind
from aftm_gateway.pfcf.loader import Vendor
from aftm_gateway.pfcf.quotes import Quotes
from aftm_gateway.pfcf.reports import (
    FINAL,
    TrackedOrder,
    is_answered,
    is_surely_absent,
    latest_updates,
)
from aftm_gateway.pfcf.session import Session, call
from aftm_gateway.pfcf.tracker import OrderTracker

HORIZON_NS = 1_000_000  # with nothing queued, the loop looks again within 1 ms
MAX_BATCH = 10_000  # queued items per poll, so a burst of ticks still lets the loop serve requests


@dataclass(frozen=True, slots=True)
class PfcfConfig:
    server: str  # PFCLogin's address argument
    timeout_ms: int = 5000
    login_timeout_ms: int = 15_000
    # How long after sending an order an order query must begin for its "not listed" to prove
    # the order never reached the broker (AFTM_GATEWAY_PFCF_NOT_FOUND_GRACE_MS).
    not_found_grace_ms: int = 30_000


class PfcfBroker:
    def __init__(
        self,
        api: Any,
        vendor: Vendor,
        config: PfcfConfig,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._api = api
        self._vendor = vendor
        self._config = config
        self._clock = clock
        self._inbox = Inbox(clock)
        self._session = Session(api, self._inbox)
        self._tracker = OrderTracker()
        self._ready: list[BrokerEvent] = []
        self._updates = False  # `_ready` holds an OrderUpdated (see `poll`)
        self._quotes = Quotes(api, self._session)
        self._takers: dict[Kind, Callable[[Any], None]] = {
            Kind.TICK: self._take_tick,
            Kind.REPLY: lambda reply: self._queue(self._tracker.on_reply(reply, self._clock())),
            Kind.MATCH: lambda match: self._queue(self._tracker.on_match(match, self._clock())),
        }
        self._session.subscribe()

    @property
    def name(self) -> str:
        return "pfcf"

    @property
    def is_logged_in(self) -> bool:
        return self._session.is_up

    @property
    def callback_errors(self) -> int:
        """Vendor events that could not be read (dropped, logged)."""
        return self._inbox.errors

    @property
    def duplicate_matches(self) -> int:
        return self._tracker.duplicates

    def login(self, user: str, password: str) -> None:
        self._session.start_login()
        call("login", self._api.PFCLogin, user, password, self._config.server)
        self._await(self._session.has_login_answer, self._config.login_timeout_ms, "login")
        refusal = self._session.finish_login()
        if refusal is not None:
            raise BrokerRejected(f"login refused: {refusal}")
        self._quotes.start_session()

    def logout(self) -> None:
        if self._session.logged_in:
            self._session.end()
            call("logout", self._api.PFCLogout)

    def accounts(self) -> tuple[str, ...]:
        self._require_session()
        return self._session.accounts

    def futures(self) -> tuple[Future, ...]:
        return self._quotes.futures()

    def register(self, symbol: str) -> None:
        self._quotes.register(symbol)

    def unregister(self, symbol: str) -> None:
        self._quotes.unregister(symbol)

    def place(self, order: PlaceOrder) -> OrderSnapshot:
        if not self.is_logged_in:
            reason = "not logged in" if not self._session.logged_in else "broker connection down"
            return unsent(order, reason, self._clock())
        note = order.client_order_id
        request = self._vendor.order_object(translate.order_fields(order))
        self._tracker.expect(order, self._clock())
        result = call("order", self._api.DTradeLib.Order, request)
        refusal = _refusal(result)
        if refusal is not None:
            self._tracker.forget(note)
            return unsent(order, refusal, self._clock())
        self._await(
            lambda: is_answered(self._tracker.get(note), order),
            self._config.timeout_ms,
            f"order {note}",
        )
        return _snapshot(self._tracker.get(note))

    def cancel(self, client_order_id: str, *, sent_ns: int | None) -> OrderSnapshot:
        self._require_session()
        found = self._find(client_order_id, sent_ns)
        if found is None:
            raise OrderNotFound(f"no order with client order id {client_order_id!r}")
        if found.status in FINAL:
            return _snapshot(found)
        self._tracker.adopt(found)
        request = self._vendor.replace_object(
            translate.cancel_fields(found.account, found.broker_order_id, client_order_id)
        )
        refusal = _refusal(call("cancel", self._api.DTradeLib.Replace, request))
        if refusal is not None:
            again = self._find(client_order_id, sent_ns)  # finished meanwhile?
            if again is not None and again.status in FINAL:
                return _snapshot(again)
            raise BrokerRejected(f"cancel refused: {refusal}")
        self._await(
            lambda: _is_final(self._tracker.get(client_order_id)),
            self._config.timeout_ms,
            f"cancel {client_order_id}",
        )
        return _snapshot(self._tracker.get(client_order_id))

    def find_order(self, client_order_id: str, *, sent_ns: int | None) -> OrderSnapshot | None:
        self._require_session()
        found = self._find(client_order_id, sent_ns)
        return None if found is None else found.snapshot()

    def orders(self) -> tuple[OrderSnapshot, ...]:
        self._require_session()
        return tuple(_snapshot(order) for order in self._book())

    def fills(self, since_ns: int = 0) -> tuple[OrderFilled, ...]:
        """The day's matches of every account, from a complete query (the broker's record);
        all of them whatever `since_ns`: a match carries no time of its own to filter on."""
        self._require_session()
        return tuple(
            translate.fill_of(match, order.ts_ns) for order in self._book() for match in order.fills
        )

    def positions(self, account: str) -> tuple[Position, ...]:
        if account not in self.accounts():
            raise InvalidInput("account", f"{account!r} is not an account of this session")
        query = self._session.ask_positions(account)
        call("position query", self._api.DAccountLib.GetPosition, account, "")
        self._await(query.is_done, self._config.timeout_ms, "position query")
        if query.error:
            raise BrokerRejected(f"position query refused: {query.error}")
        return translate.positions_of(query.records)

    def poll(self, now_ns: int) -> list[BrokerEvent]:
        for _ in range(MAX_BATCH):
            try:
                self._take(self._inbox.queue.get_nowait())
            except Empty:
                break
        events, self._ready = self._ready, []
        if self._updates:
            self._updates = False
            events = latest_updates(events)
        return events

    def next_event_ns(self) -> int | None:
        if self._ready or not self._inbox.queue.empty():
            return 0
        return self._clock() + HORIZON_NS

    def close(self) -> None:
        try:
            if self._session.logged_in:
                self._session.end()
                self._api.PFCLogout()
        except Exception as failure:
            logger.warning("broker logout at close failed error={}", failure)
        self._session.unsubscribe()

    # --- waiting for the DLL ----------------------------------------------------------------

    def _await(self, done: Callable[[], bool], timeout_ms: int, what: str) -> None:
        deadline = time.monotonic() + timeout_ms / 1000
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerUnavailable(f"pfcf did not answer ({what}) within {timeout_ms} ms")
            try:
                self._take(self._inbox.queue.get(timeout=remaining))
            except Empty:
                continue

    def _take(self, item: tuple[Kind, object]) -> None:
        kind, value = item
        taker = self._takers.get(kind)
        if taker is not None:
            taker(value)
        elif self._session.take(kind, value) and self._session.quote_up:
            self._quotes.subscribe_all()  # the quote link came back without its subscriptions

    def _take_tick(self, tick: Tick) -> None:
        if self._quotes.take(tick):
            self._ready.append(tick)

    def _queue(self, events: list[Any]) -> None:
        if events:
            self._ready.extend(events)
            self._updates = True

    # --- queries ----------------------------------------------------------------------------

    def _find(self, client_order_id: str, sent_ns: int | None) -> TrackedOrder | None:
        """The order under this NOTE, None if surely never placed, else OrderInDoubt."""
        tracked = self._tracker.get(client_order_id)
        if tracked is not None and tracked.status in FINAL:
            return tracked  # a final status never changes: no need to ask
        began_ns = self._clock()
        listed = next((order for order in self._book() if order.note == client_order_id), None)
        if listed is not None:
            return listed
        if tracked is not None and tracked.broker_order_id:
            return tracked  # acknowledged by a live report, not listed yet: it exists
        grace_ns = self._config.not_found_grace_ms * 1_000_000
        if is_surely_absent(sent_ns, query_began_ns=began_ns, grace_ns=grace_ns):
            return None
        raise OrderInDoubt(
            f"pfcf does not list {client_order_id!r} yet; sent at {sent_ns} ns, it may still"
            f" be acknowledged (definitive {self._config.not_found_grace_ms} ms after sending)"
        )

    def _book(self) -> list[TrackedOrder]:
        """Every order of the session's accounts, from a complete reply and match query."""
        book: list[TrackedOrder] = []
        for account in self._session.accounts:
            replies = self._session.ask_replies(account)
            call("reply query", self._api.DTradeLib.QueryReply, account)
            self._await(replies.is_done, self._config.timeout_ms, "reply query")
            matches = self._session.ask_matches(account)
            call("match query", self._api.DTradeLib.QueryMatch, account)
            self._await(matches.is_done, self._config.timeout_ms, "match query")
            book.extend(self._session.book(replies, matches, self._clock()))
        self._queue(self._tracker.check_book(book))  # delivered by the next `poll`
        return book

    def _require_session(self) -> None:
        if not self._session.logged_in:
            raise NotLoggedIn("not logged in to the broker")


def _refusal(result: Any) -> str | None:
    return translate.send_refusal(
        bool(result.ISSEND), str(result.ERRORCODE or ""), str(result.ERRORMSG or "")
    )


def _is_final(tracked: TrackedOrder | None) -> bool:
    return tracked is not None and tracked.status in FINAL


def _snapshot(tracked: TrackedOrder | None) -> OrderSnapshot:
    snapshot = None if tracked is None else tracked.snapshot()
    if snapshot is None:  # answered orders are always known in full
        raise BrokerUnavailable("pfcf answered without the order's details")
    return snapshot
