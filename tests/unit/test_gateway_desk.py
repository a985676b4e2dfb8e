"""The desk against an asynchronous broker: a "not found" is not proof until the broker says so.

`LateBroker` is a small stateful fake of a broker like PFCF: an order it was sent is listed only
once acknowledged, and it calls its own "not found" definitive only a grace period after the
order could have been sent (`sent_ns`). The tests count what it was sent and what it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.errors import InvalidInput
from aftm.wire.protocol import Future, OrderSnapshot
from aftm_gateway.broker import BrokerEvent
from aftm_gateway.desk import DUPLICATE, OrderDesk, check_request
from aftm_gateway.errors import BrokerUnavailable, OrderInDoubt, OrderNotFound
from aftm_gateway.journal import Journal

ACCOUNT = "ACC-1"
GRACE_NS = 30_000


def an_order(client_order_id: str = "A1") -> PlaceOrder:
    return PlaceOrder(
        client_order_id=client_order_id,
        account=ACCOUNT,
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        time_in_force=TimeInForce.IOC,
    )


class LateBroker:
    """Takes orders without answering in time; lists them only once `acknowledge` is called."""

    def __init__(self) -> None:
        self.now_ns = 0
        self.sent: list[str] = []  # every order that left for the broker, by client order id
        self.in_flight: list[PlaceOrder] = []
        self.book: list[OrderSnapshot] = []
        self.answers = False  # True: place answers at once (the broker is quick again)

    @property
    def name(self) -> str:
        return "late"

    @property
    def is_logged_in(self) -> bool:
        return True

    def login(self, user: str, password: str) -> None: ...

    def logout(self) -> None: ...

    def accounts(self) -> tuple[str, ...]:
        return (ACCOUNT,)

    def futures(self) -> tuple[Future, ...]:
        return (Future("TXFL6", "TX", 200, 23_000, registered=True),)

    def register(self, symbol: str) -> None: ...

    def unregister(self, symbol: str) -> None: ...

    def place(self, order: PlaceOrder) -> OrderSnapshot:
        self.sent.append(order.client_order_id)
        self.in_flight.append(order)
        if not self.answers:
            raise BrokerUnavailable("late did not answer in time")
        self.acknowledge()
        return self.book[-1]

    def acknowledge(self) -> None:
        for order in self.in_flight:
            self.book.append(_filled(order, len(self.book) + 1, self.now_ns))
        self.in_flight.clear()

    def cancel(self, client_order_id: str, *, sent_ns: int | None = None) -> OrderSnapshot:
        raise NotImplementedError

    def find_order(
        self, client_order_id: str, *, sent_ns: int | None = None
    ) -> OrderSnapshot | None:
        listed = [order for order in self.book if order.client_order_id == client_order_id]
        if listed:
            return listed[0]
        if sent_ns is not None and self.now_ns - sent_ns < GRACE_NS:
            raise OrderInDoubt(f"{client_order_id} not listed yet; it may still be")
        return None

    def orders(self) -> tuple[OrderSnapshot, ...]:
        return tuple(self.book)

    def positions(self, account: str) -> tuple[Position, ...]:
        return ()

    def fills(self, since_ns: int = 0) -> tuple[OrderFilled, ...]:
        return ()

    def poll(self, now_ns: int) -> list[BrokerEvent]:
        return []

    def next_event_ns(self) -> int | None:
        return None

    def close(self) -> None: ...


def _filled(order: PlaceOrder, number: int, now_ns: int) -> OrderSnapshot:
    return OrderSnapshot(
        client_order_id=order.client_order_id,
        broker_order_id=f"L{number}",
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        filled_quantity=order.quantity,
        average_price=Decimal(23_000),
        status=OrderStatus.FILLED,
        reason="",
        ts_ns=now_ns,
    )


@pytest.fixture
def broker() -> LateBroker:
    return LateBroker()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite")
    yield opened
    opened.close()


def test_a_late_order_is_neither_placed_again_nor_called_missing_within_the_grace(
    broker: LateBroker, journal: Journal
) -> None:
    desk = OrderDesk(broker, journal)
    with pytest.raises(BrokerUnavailable):
        desk.place(an_order(), now_ns=100)  # sent; the broker does not answer in time

    broker.now_ns = 100 + GRACE_NS - 1
    with pytest.raises(BrokerUnavailable):
        desk.place(an_order(), now_ns=broker.now_ns)
    with pytest.raises(BrokerUnavailable):
        desk.query("A1")
    reconciled = desk.reconcile()
    broker.acknowledge()
    found = desk.query("A1")
    again = desk.place(an_order(), now_ns=broker.now_ns)

    assert broker.sent == ["A1"]
    assert reconciled == (0, 1)
    assert found == broker.book[0]
    assert (again.snapshot, again.result) == (found, DUPLICATE)
    assert [order.client_order_id for order in broker.book] == ["A1"]


def test_an_open_entry_is_placed_exactly_once_after_a_definitive_not_found(
    broker: LateBroker, journal: Journal
) -> None:
    # The gateway journaled A1 and died before it called the broker.
    journal.begin(an_order(), now_ns=100)
    broker.answers = True
    desk = OrderDesk(broker, journal)

    broker.now_ns = 100 + GRACE_NS - 1
    with pytest.raises(BrokerUnavailable):
        desk.place(an_order(), now_ns=broker.now_ns)
    broker.now_ns = 100 + GRACE_NS
    with pytest.raises(OrderNotFound):
        desk.query("A1")  # definitively never placed: the executor may send it again
    placed = desk.place(an_order(), now_ns=broker.now_ns)
    desk.settle(placed)
    repeated = desk.place(an_order(), now_ns=broker.now_ns)

    assert broker.sent == ["A1"]
    assert placed.snapshot.status is OrderStatus.FILLED
    assert (repeated.snapshot, repeated.result) == (placed.snapshot, DUPLICATE)


def test_an_id_the_gateway_never_journaled_is_not_found(
    broker: LateBroker, journal: Journal
) -> None:
    with pytest.raises(OrderNotFound):
        OrderDesk(broker, journal).query("never-sent")
    assert broker.sent == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_order_id": "A" * 300}, "client_order_id"),
        ({"client_order_id": "A 1"}, "client_order_id"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"account": "ACC\n1"}, "account"),
        ({"symbol": "TXF"}, "symbol"),
        ({"quantity": 2**63}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 11}, "quantity"),  # over TAIFEX's 10 lots for a market order
        ({"order_type": OrderType.LIMIT, "quantity": 101, "price": Decimal(23_000)}, "quantity"),
        ({"order_type": OrderType.LIMIT}, "price"),
        ({"order_type": OrderType.LIMIT, "price": Decimal("23000.5")}, "price"),
        ({"order_type": OrderType.LIMIT, "price": Decimal(2**64)}, "price"),
        ({"price": Decimal(23_000)}, "price"),  # a market order takes none
        ({"ts_ns": 2**63}, "ts_ns"),
    ],
)
def test_an_order_out_of_range_is_refused_before_the_journal_or_the_broker(
    broker: LateBroker, journal: Journal, change: dict[str, object], field: str
) -> None:
    order = replace(an_order(), **change)  # type: ignore[arg-type]

    with pytest.raises(InvalidInput) as refused:
        OrderDesk(broker, journal).place(order, now_ns=100)

    assert refused.value.field == field
    assert journal.lookup(order.client_order_id) is None
    assert broker.sent == []


def test_the_largest_orders_taifex_allows_pass() -> None:
    check_request(replace(an_order(), quantity=10))
    check_request(
        replace(an_order(), order_type=OrderType.LIMIT, quantity=100, price=Decimal("23000.0"))
    )


def test_an_id_placed_for_one_account_is_refused_for_another_not_answered_with_its_result(
    broker: LateBroker, journal: Journal
) -> None:
    """One gateway serves an executor per account: an id is one account's order, and a second
    account asking under it must hear so, not take the first one's order as its own."""
    broker.answers = True
    desk = OrderDesk(broker, journal)
    desk.settle(desk.place(an_order(), now_ns=1))

    with pytest.raises(InvalidInput) as refused:
        desk.place(replace(an_order(), account="ACC-2"), now_ns=2)

    assert refused.value.field == "client_order_id"
    assert broker.sent == ["A1"]
    assert [order.account for order in broker.book] == [ACCOUNT]
