"""The port every broker adapter implements: `SimBroker`, `ReplayBroker` and, later, the PFCF DLL.

The shape suits a vendor DLL whose callbacks arrive on its own threads: an adapter only
translates and queues what happened, and the gateway loop collects it with `poll`, so one thread
owns the sockets. Calls are synchronous; one that gets no answer in time raises
`BrokerUnavailable` (see errors.py for what each error asks of the caller).

Every order carries the client order id in the broker's NOTE field. That is how the gateway
recognises an order after any restart: `find_order` looks the NOTE up at the broker. Its "not
found" (None) must be definitive: the gateway then places the order, so an adapter whose broker
may still acknowledge an order it does not list yet raises OrderInDoubt instead. The sim and
replay brokers record an order before `place` returns, so their "not found" is always final;
PFCF's is final only from a complete order query begun a grace period after the order was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus
from aftm.wire.protocol import Future, OrderSnapshot, OrderUpdated


@dataclass(frozen=True, slots=True)
class DuplicateOrder:
    """The broker holds more than one order under one NOTE: a client order id placed twice.

    Raised (as an event) for every report of the extra order and when a query lists it; the
    gateway alarms and halts nothing itself: the executor stops entries on the health field.
    """

    client_order_id: str
    broker_order_ids: tuple[str, ...]  # every one seen under the NOTE, the first one first
    source: str  # what showed it: "order" or "fill" (a live report of the extra order), "query"


BrokerEvent = Tick | OrderUpdated | OrderFilled | DuplicateOrder
FILL_HISTORY_NS = 24 * 3600 * 1_000_000_000  # a trading day and its night session


class Broker(Protocol):
    @property
    def name(self) -> str:
        """Short adapter name for logs, health and metrics: "sim", "replay", "pfcf"."""
        ...

    @property
    def is_logged_in(self) -> bool: ...

    def login(self, user: str, password: str) -> None:
        """Open the session; BrokerRejected on bad credentials (the old session, if any, stays)."""
        ...

    def logout(self) -> None:
        """Close the session; no ticks are delivered until the next login."""
        ...

    def accounts(self) -> tuple[str, ...]:
        """The accounts this session may trade; NotLoggedIn without a session."""
        ...

    def futures(self) -> tuple[Future, ...]:
        """The tradable futures, with last price and whether each is registered."""
        ...

    def register(self, symbol: str) -> None:
        """Deliver ticks of `symbol` (while logged in); InvalidInput for an unknown symbol.

        Registrations outlive a logout; an adapter re-subscribes them on the next login.
        """
        ...

    def unregister(self, symbol: str) -> None:
        """Stop delivering ticks of `symbol`; InvalidInput for an unknown symbol."""
        ...

    def place(self, order: PlaceOrder) -> OrderSnapshot:
        """Send one order, its client order id in the NOTE field; return the broker's answer.

        The answer is a snapshot: accepted, filled, cancelled (an IOC/FOK that could not fill)
        or rejected with a reason. BrokerUnavailable when the broker does not answer in time:
        the order may or may not exist, so never call `place` again for the same id before
        `find_order` says the broker has not seen it.
        """
        ...

    def cancel(self, client_order_id: str, *, sent_ns: int | None) -> OrderSnapshot:
        """Cancel a resting order; a finished order comes back unchanged.

        OrderNotFound if the broker definitively has none, OrderInDoubt if it may still get
        one (`sent_ns` as for `find_order`).
        """
        ...

    def find_order(self, client_order_id: str, *, sent_ns: int | None) -> OrderSnapshot | None:
        """The order whose NOTE is `client_order_id`; None only if the broker never saw one and
        never will.

        `sent_ns`: when the gateway may have sent the order (its journal's `begun_ns`), None
        if it never did. OrderInDoubt when the broker does not list it but, being asynchronous,
        may still acknowledge an order sent then; BrokerUnavailable when it does not answer.
        """
        ...

    def orders(self) -> tuple[OrderSnapshot, ...]:
        """Every order of the session's accounts, oldest first."""
        ...

    def positions(self, account: str) -> tuple[Position, ...]:
        """Open positions of `account`; InvalidInput for an account this session does not have."""
        ...

    def fills(self, since_ns: int = 0) -> tuple[OrderFilled, ...]:
        """The fills of the session's accounts as the broker lists them now, oldest first: the
        trading day's (the simulated exchange's: those of the last FILL_HISTORY_NS). Asked by
        reconciliation, so it meets the broker's record, not what this process heard.

        `since_ns`: only fills stamped at or after it are needed. An adapter may return more
        (PFCF returns the day's: its fill stamps are not the broker's), never fewer."""
        ...

    def poll(self, now_ns: int) -> list[BrokerEvent]:
        """Everything that happened since the last poll, oldest first: ticks of registered
        symbols (while logged in; `seq` 0, the gateway numbers them), order updates and fills."""
        ...

    def next_event_ns(self) -> int | None:
        """When `poll` next has something (epoch ns, possibly in the past), None if unknown.

        The loop waits on its sockets at most until then; an adapter fed by callbacks answers
        a short horizon so queued callbacks are collected promptly.
        """
        ...

    def close(self) -> None:
        """Release the adapter's resources (files, the DLL); the object is unusable afterwards."""
        ...


def unsent(order: PlaceOrder, reason: str, now_ns: int) -> OrderSnapshot:
    """The answer to an order that never reached the exchange: rejected, nothing recorded there."""
    return OrderSnapshot(
        client_order_id=order.client_order_id,
        broker_order_id="",
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        filled_quantity=0,
        average_price=None,
        status=OrderStatus.REJECTED,
        reason=reason,
        ts_ns=now_ns,
    )
