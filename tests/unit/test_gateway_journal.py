"""The gateway's order journal and the desk that makes placing an order idempotent.

The desk runs against the real SimBroker on a SQLite file, and the tests count what the
simulated exchange holds: one client order id must never become two broker orders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.errors import InvalidInput
from aftm.wire.protocol import GatewayHealth, OrderSnapshot, Request
from aftm_gateway.desk import DUPLICATE, OrderDesk, check_request
from aftm_gateway.errors import BrokerUnavailable, NotLoggedIn, OrderNotFound
from aftm_gateway.fill_ledger import FillLedger
from aftm_gateway.handlers import RequestHandler
from aftm_gateway.journal import Journal, JournalEntry, is_same_request
from aftm_gateway.metrics import GatewayMetrics
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.sim import SimBroker
from aftm_gateway.simulated.venue import VenueConfig


def an_order(
    *,
    client_order_id: str = "A1",
    account: str = "SIM-0001",
    symbol: str = "TXFL6",
    quantity: int = 1,
    order_type: OrderType = OrderType.MARKET,
    price: Decimal | None = None,
    ts_ns: int = 0,
) -> PlaceOrder:
    return PlaceOrder(
        client_order_id=client_order_id,
        account=account,
        symbol=symbol,
        side=Side.BUY,
        quantity=quantity,
        order_type=order_type,
        price=price,
        time_in_force=TimeInForce.IOC,
        ts_ns=ts_ns,
    )


def a_snapshot(
    status: OrderStatus, *, client_order_id: str = "A1", ts_ns: int = 1
) -> OrderSnapshot:
    filled = status is OrderStatus.FILLED
    return OrderSnapshot(
        client_order_id=client_order_id,
        broker_order_id="S00000001",
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        filled_quantity=1 if filled else 0,
        average_price=Decimal(23_000) if filled else None,
        status=status,
        reason="",
        ts_ns=ts_ns,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite")
    yield opened
    opened.close()


# --- the journal ---------------------------------------------------------------------------


def test_an_entry_is_open_until_completed_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    order = an_order(order_type=OrderType.LIMIT, price=Decimal(23_001), ts_ns=5)

    journal.begin(order, now_ns=10)
    begun = journal.lookup("A1")
    journal.close()
    reopened = Journal(path)

    assert begun is not None
    assert begun.is_open
    assert begun.request == order
    assert reopened.open_entries() == [JournalEntry(order, 10, None)]
    reopened.complete(a_snapshot(OrderStatus.FILLED))
    entry = reopened.lookup("A1")
    assert entry is not None
    assert entry.snapshot == a_snapshot(OrderStatus.FILLED)
    assert reopened.open_entries() == []
    assert reopened.lookup("A2") is None


def test_a_finished_order_is_not_undone_by_a_stale_report(journal: Journal) -> None:
    journal.begin(an_order(), now_ns=1)
    journal.complete(a_snapshot(OrderStatus.FILLED, ts_ns=5))

    journal.update(a_snapshot(OrderStatus.ACCEPTED, ts_ns=3))

    entry = journal.lookup("A1")
    assert entry is not None
    assert entry.snapshot == a_snapshot(OrderStatus.FILLED, ts_ns=5)


def test_updates_of_orders_the_gateway_never_placed_are_ignored(journal: Journal) -> None:
    assert not journal.update(a_snapshot(OrderStatus.FILLED, client_order_id="elsewhere"))
    with pytest.raises(KeyError):
        journal.complete(a_snapshot(OrderStatus.FILLED, client_order_id="elsewhere"))


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (an_order(ts_ns=99), True),  # a resend may carry a new timestamp
        (an_order(quantity=2), False),
        (an_order(symbol="MXFL6"), False),
        (an_order(account="SIM-0002"), False),
        (an_order(order_type=OrderType.LIMIT, price=Decimal(1)), False),
    ],
)
def test_what_counts_as_the_same_request(other: PlaceOrder, same: bool) -> None:
    assert is_same_request(an_order(), other) is same


# --- the desk ------------------------------------------------------------------------------


class Venue:
    """A logged-in SimBroker, its journal, and a look at the simulated exchange's orders."""

    def __init__(self, tmp_path: Path, *, reply_delay_ms: int = 0) -> None:
        config = VenueConfig(
            ("TXFL6", "MXFL6"),
            ("SIM-0001",),
            "sim",
            SecretStr("pw"),
            reply_delay_ms=reply_delay_ms,
            reply_timeout_ms=20,
        )
        self.broker = SimBroker(
            ExchangeStore(tmp_path / "sim.sqlite"), config, ticks_per_s=1, seed=1
        )
        self.broker.login("sim", "pw")
        self.journal = Journal(tmp_path / "journal.sqlite")
        self.desk = OrderDesk(self.broker, self.journal)

    def close(self) -> None:
        self.broker.close()
        self.journal.close()

    def orders_at_exchange(self, client_order_id: str = "A1") -> int:
        return sum(order.client_order_id == client_order_id for order in self.broker.orders())


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[Venue]:
    opened = Venue(tmp_path)
    yield opened
    opened.close()


def test_a_new_order_is_placed_once_and_a_repeat_gets_the_stored_answer(venue: Venue) -> None:
    placed = venue.desk.place(an_order(), now_ns=1)
    venue.desk.settle(placed)
    repeated = venue.desk.place(an_order(ts_ns=2), now_ns=2)

    assert placed.result == "filled"
    assert repeated == replace(placed, result=DUPLICATE, journaled=True)
    assert venue.journal.lookup("A1") == JournalEntry(an_order(), 1, placed.snapshot)
    assert venue.orders_at_exchange() == 1


def test_a_repeat_before_the_answer_is_journaled_asks_the_broker_and_places_nothing(
    venue: Venue,
) -> None:
    # The answer is journaled after the reply is sent; a gateway killed in between restarts
    # with the entry open.
    placed = venue.desk.place(an_order(), now_ns=1)
    entry = venue.journal.lookup("A1")
    repeated = venue.desk.place(an_order(ts_ns=2), now_ns=2)

    assert entry is not None
    assert entry.is_open
    assert repeated == replace(placed, result=DUPLICATE, journaled=True)
    assert venue.orders_at_exchange() == 1


def test_a_reused_id_with_different_content_is_refused(venue: Venue) -> None:
    venue.desk.place(an_order(), now_ns=1)

    with pytest.raises(InvalidInput, match=r"client_order_id.*different order"):
        venue.desk.place(an_order(quantity=2), now_ns=2)
    assert venue.orders_at_exchange() == 1


def test_an_answer_the_journal_fails_to_store_after_the_reply_stays_open_and_places_nothing(
    venue: Venue, tmp_path: Path
) -> None:
    handler = RequestHandler(
        venue.broker,
        venue.desk,
        FillLedger(tmp_path / "fills.sqlite"),
        GatewayMetrics(CollectorRegistry()),
        lambda now: GatewayHealth("sim", True, now, now),
    )
    reply = handler.answer(Request("r1", an_order()), now_ns=1)
    assert reply.ok  # the client has its answer; the journal write comes after
    venue.journal.close()  # the write-up now fails with sqlite3.ProgrammingError

    handler.after_reply()  # logged, not raised: the loop goes on

    reopened = Journal(tmp_path / "journal.sqlite")
    try:
        entry = reopened.lookup("A1")
        assert entry is not None
        assert entry.is_open
        repeated = OrderDesk(venue.broker, reopened).place(an_order(ts_ns=2), now_ns=2)
        assert (repeated.snapshot, repeated.result) == (reply.body, DUPLICATE)
        assert venue.orders_at_exchange() == 1
    finally:
        reopened.close()
        venue.journal = reopened  # closed; the fixture's close() must not fail on it


def test_an_open_entry_the_broker_knows_is_resolved_not_placed(venue: Venue) -> None:
    # The gateway died after the broker took the order and before the answer was journaled.
    venue.journal.begin(an_order(), now_ns=1)
    at_broker = venue.broker.place(an_order())

    resolved = venue.desk.place(an_order(), now_ns=2)

    assert resolved.snapshot == at_broker
    assert resolved.result == DUPLICATE
    assert venue.orders_at_exchange() == 1


def test_an_open_entry_the_broker_never_saw_is_placed_once(venue: Venue) -> None:
    # The gateway died after journaling and before calling the broker.
    venue.journal.begin(an_order(), now_ns=1)

    placed = venue.desk.place(an_order(), now_ns=2)

    assert placed.snapshot.status is OrderStatus.FILLED
    assert venue.orders_at_exchange() == 1


def test_a_broker_timeout_leaves_the_entry_open_until_the_broker_is_asked(tmp_path: Path) -> None:
    venue = Venue(tmp_path, reply_delay_ms=50)  # past the 20 ms broker timeout

    with pytest.raises(BrokerUnavailable):
        venue.desk.place(an_order(), now_ns=1)
    entry = venue.journal.lookup("A1")
    answer = venue.desk.place(an_order(), now_ns=2)  # would time out again if placed again

    assert entry is not None
    assert entry.is_open
    assert answer.snapshot.status is OrderStatus.FILLED
    assert venue.orders_at_exchange() == 1
    venue.close()


def test_no_session_no_order_and_nothing_journaled(venue: Venue) -> None:
    venue.broker.logout()

    with pytest.raises(NotLoggedIn):
        venue.desk.place(an_order(), now_ns=1)
    assert venue.journal.lookup("A1") is None


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (an_order(client_order_id=""), "client_order_id"),
        (an_order(client_order_id="A" * 21), "client_order_id"),
        (an_order(client_order_id="A 1"), "client_order_id"),
        (an_order(account=" "), "account"),
        (an_order(quantity=0), "quantity"),
        (an_order(price=Decimal(23_000)), "price"),  # a market order with a price
        (an_order(order_type=OrderType.LIMIT), "price"),
        (an_order(order_type=OrderType.LIMIT, price=Decimal("23000.5")), "price"),
    ],
)
def test_requests_no_broker_could_take_name_the_field(order: PlaceOrder, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_request(order)

    assert refused.value.field == field


@pytest.mark.parametrize(
    ("order", "field"),
    [(an_order(symbol="TMFL6"), "symbol"), (an_order(account="SIM-9999"), "account")],
)
def test_unlisted_symbols_and_accounts_are_invalid(
    venue: Venue, order: PlaceOrder, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        venue.desk.place(order, now_ns=1)

    assert refused.value.field == field
    assert venue.journal.lookup("A1") is None


def test_query_asks_the_journal_then_the_broker(venue: Venue) -> None:
    placed = venue.desk.place(an_order(), now_ns=1).snapshot
    elsewhere = venue.broker.place(an_order(client_order_id="B1"))

    assert venue.desk.query("A1") == placed
    assert venue.desk.query("B1") == elsewhere
    with pytest.raises(OrderNotFound):
        venue.desk.query("C1")


def test_reconcile_settles_what_the_broker_knows(venue: Venue) -> None:
    venue.journal.begin(an_order(), now_ns=1)
    venue.broker.place(an_order())
    venue.journal.begin(an_order(client_order_id="A2"), now_ns=1)

    assert venue.desk.reconcile() == (1, 1)
    assert [entry.request.client_order_id for entry in venue.journal.open_entries()] == ["A2"]


def test_the_journal_syncs_every_commit_to_disk(journal: Journal) -> None:
    # synchronous=FULL (2): a begun entry survives a power cut, not only a killed process.
    assert journal._db.execute("PRAGMA synchronous").fetchone() == (2,)
