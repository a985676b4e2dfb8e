"""`OrderDesk`: places, cancels and looks up orders so that the broker never sees an id twice.

The rule for a client order id, whatever happened before:
- never seen: check it, begin the journal entry (committed), call the broker once, complete the
  entry with the broker's answer once that answer is on its way to the client (`settle`);
- seen with a different request: refused, the id is taken;
- completed: the stored (latest) snapshot is the answer, the broker is not called;
- begun but not completed (the gateway died in the call, or the broker did not answer): the
  broker is asked with `find_order`; only if it definitively never saw the id is the order
  placed. While the broker cannot tell yet (OrderInDoubt: an asynchronous broker may still
  acknowledge it), the request is answered UNAVAILABLE and nothing is sent.
An id the gateway never journaled was never placed by it: a query for it is NOT_FOUND unless
the broker has an order under that NOTE anyway (placed before the journal was lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from aftm.domain import limits
from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderType
from aftm.errors import InvalidInput
from aftm.wire.protocol import OrderSnapshot
from aftm_gateway.broker import Broker
from aftm_gateway.errors import NotLoggedIn, OrderInDoubt, OrderNotFound
from aftm_gateway.journal import Journal, JournalEntry, is_same_request

DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Placed:
    snapshot: OrderSnapshot
    result: str  # the new order's status, or "duplicate" when the broker was not called
    journaled: bool = True  # False: the answer is still to be written to the journal (`settle`)


def check_request(order: PlaceOrder) -> None:
    """Refuse a request no broker could take, naming the field (InvalidInput).

    The limits are the shared ones (aftm.domain.limits), checked before the journal sees the
    id, so a refused request never leaves an open entry behind.
    """
    limits.check_client_order_id(order.client_order_id)
    limits.check_account(order.account)
    limits.check_symbol(order.symbol)
    limits.check_quantity(order.quantity, order_type=order.order_type)
    if order.order_type is OrderType.MARKET and order.price is not None:
        raise InvalidInput("price", "a market order takes no price")
    if order.order_type is OrderType.LIMIT:
        if order.price is None:
            raise InvalidInput("price", "a limit order needs a price in whole points")
        limits.check_price(order.price)
    limits.check_int(order.ts_ns, "ts_ns")  # 0 is allowed: the sender did not stamp it


class OrderDesk:
    def __init__(self, broker: Broker, journal: Journal) -> None:
        self._broker = broker
        self._journal = journal
        self._listed: tuple[frozenset[str], frozenset[str]] | None = None  # see _listing

    def place(self, order: PlaceOrder, now_ns: int) -> Placed:
        """The broker's answer for `order.client_order_id`, placing it at most once ever.

        Raises InvalidInput, NotLoggedIn, or BrokerUnavailable (the entry then stays open;
        OrderInDoubt, one of them, when the broker may still acknowledge an earlier send).
        """
        check_request(order)
        entry = self._journal.lookup(order.client_order_id)
        if entry is not None:
            if not is_same_request(entry.request, order):
                raise InvalidInput(
                    "client_order_id",
                    f"{order.client_order_id!r} was already used for a different order",
                )
            if entry.snapshot is not None:
                return Placed(entry.snapshot, DUPLICATE)
            self._require_session()
            found = self._broker.find_order(order.client_order_id, sent_ns=entry.begun_ns)
            if found is not None:
                self._journal.complete(found)
                return Placed(found, DUPLICATE)
            # Begun, yet the broker definitively never saw it: this call is the first to reach it.
        else:
            self._require_session()
            self._check_listed(order)
            self._journal.begin(order, now_ns)
        snapshot = self._broker.place(order)
        return Placed(snapshot, snapshot.status.value, journaled=False)

    def settle(self, placed: Placed) -> None:
        """Journal the broker's answer to a `place`; called once the reply is out.

        Writing it after the reply takes a commit off every order's round trip, and is as safe
        as before: until it is written the entry is open, and an open entry is answered by
        asking the broker, which by then has the order (a gateway killed in between included).
        """
        if not placed.journaled:
            self._journal.complete(placed.snapshot)

    def query(self, client_order_id: str) -> OrderSnapshot:
        """The journal's word, else the broker's.

        OrderNotFound if neither knows the id (definitively: the executor may then send it);
        OrderInDoubt while the broker may still acknowledge an order the journal has begun.
        """
        entry = self._journal.lookup(client_order_id)
        if entry is not None and entry.snapshot is not None:
            return entry.snapshot
        self._require_session()
        found = self._broker.find_order(client_order_id, sent_ns=_sent_ns(entry))
        if found is None:
            raise OrderNotFound(f"no order with client order id {client_order_id!r}")
        if entry is not None:
            self._journal.complete(found)
        return found

    def cancel(self, client_order_id: str) -> OrderSnapshot:
        self._require_session()
        entry = self._journal.lookup(client_order_id)
        snapshot = self._broker.cancel(client_order_id, sent_ns=_sent_ns(entry))
        self._journal.update(snapshot)
        return snapshot

    def reconcile(self) -> tuple[int, int]:
        """Ask the broker about every open entry: (how many it knew, how many stay unknown).

        Called after each login: a new session may list other accounts, so they are asked anew.
        """
        self._require_session()
        self._listed = None
        known = unknown = 0
        for entry in self._journal.open_entries():
            try:
                found = self._broker.find_order(
                    entry.request.client_order_id, sent_ns=entry.begun_ns
                )
            except OrderInDoubt:
                found = None  # asked again by the executor's next query, or the next login
            if found is None:
                unknown += 1
            else:
                self._journal.complete(found)
                known += 1
        return known, unknown

    def _require_session(self) -> None:
        if not self._broker.is_logged_in:
            raise NotLoggedIn("not logged in to the broker; log in first")

    def _check_listed(self, order: PlaceOrder) -> None:
        symbols, accounts = self._listing()
        if order.symbol not in symbols or order.account not in accounts:
            symbols, accounts = self._listing(refresh=True)  # listed since we last asked?
        if order.symbol not in symbols:
            listed = ", ".join(sorted(symbols))
            raise InvalidInput("symbol", f"{order.symbol!r} is not listed ({listed})")
        if order.account not in accounts:
            listed = ", ".join(sorted(accounts))
            raise InvalidInput("account", f"{order.account!r} is not one of {listed}")

    def _listing(self, *, refresh: bool = False) -> tuple[frozenset[str], frozenset[str]]:
        """The session's symbols and accounts, asked of the broker once per session (and on a
        miss), not on every order: a real broker's lists are calls into its API."""
        if refresh or self._listed is None:
            symbols = frozenset(future.symbol for future in self._broker.futures())
            self._listed = symbols, frozenset(self._broker.accounts())
        return self._listed


def _sent_ns(entry: JournalEntry | None) -> int | None:
    """When the gateway may have sent the entry's order; None: it never journaled the id."""
    return None if entry is None else entry.begun_ns
