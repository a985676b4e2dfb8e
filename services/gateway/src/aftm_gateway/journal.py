"""The gateway's order journal: one row per client order id, in its own SQLite file.

An entry is begun (and committed) before the broker is called and completed with the broker's
answer, then kept current from the broker's order events. An entry that was begun but never
completed is an order whose fate is unknown (the gateway died in the call, or the broker did not
answer): it is resolved by asking the broker, never by placing again.

The journal is the gateway's record that it placed a client order id, and "at most once" holds
for ever, so rows are never pruned: an id forgotten here could be placed a second time. (A row
is a few hundred bytes; a million orders are a few hundred MB.)

A row that cannot be read back (text no enum knows, a count beyond 64 bits) is moved to the
quarantine table when the journal opens, or every login would fail on it. Its client order id
stays known there, and `begin` refuses it: a quarantined id is never placed again.

Durability: `begin` commits with synchronous=FULL (see db.py), so the row that says an order is
on its way to the broker reaches the disk before the broker is called: a power cut cannot make
the gateway forget an order the broker already has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aftm import quarantine
from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OpenClose, OrderStatus, OrderType, Side, TimeInForce
from aftm.errors import InvalidInput
from aftm.sql import transaction
from aftm.wal import checkpoint_in_background
from aftm.wire.protocol import OrderSnapshot
from aftm_gateway.db import connect, enum_values, integer, not_decimal

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    price TEXT,
    time_in_force TEXT NOT NULL,
    open_close TEXT NOT NULL,
    request_ts_ns INTEGER NOT NULL,
    begun_ns INTEGER NOT NULL,
    -- NULL status: begun, not completed; the broker must be asked what became of the order.
    status TEXT,
    broker_order_id TEXT,
    filled_quantity INTEGER,
    average_price TEXT,
    reason TEXT,
    updated_ns INTEGER
);
"""
FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.CANCELLED},
)
_REQUEST = (
    "client_order_id, account, symbol, side, quantity, order_type, price, time_in_force,"
    " open_close, request_ts_ns"
)
_SNAPSHOT = "status, broker_order_id, filled_quantity, average_price, reason, updated_ns"
_SELECT = f"SELECT {_REQUEST}, begun_ns, {_SNAPSHOT} FROM orders"  # noqa: S608 - constant text
_OPEN = " AND status IS NULL"  # begun, not completed
# Rows `_entry` may refuse (a superset; `_entry` decides): see aftm.quarantine.
_SUSPECT = (
    f"side NOT IN ({enum_values(Side)}) OR order_type NOT IN ({enum_values(OrderType)})"
    f" OR time_in_force NOT IN ({enum_values(TimeInForce)})"
    f" OR open_close NOT IN ({enum_values(OpenClose)})"
    " OR typeof(quantity) != 'integer' OR typeof(request_ts_ns) != 'integer'"
    f" OR typeof(begun_ns) != 'integer' OR (price IS NOT NULL AND {not_decimal('price')})"
    f" OR (status IS NOT NULL AND (status NOT IN ({enum_values(OrderStatus)})"
    " OR typeof(filled_quantity) != 'integer' OR typeof(updated_ns) != 'integer'"
    f" OR (average_price IS NOT NULL AND {not_decimal('average_price')})))"
)
_UPDATE = (
    "UPDATE orders SET status = ?, broker_order_id = ?, filled_quantity = ?, average_price = ?,"
    " reason = ?, updated_ns = ?"
)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    request: PlaceOrder
    begun_ns: int  # when the entry was begun: the order may have been sent from then on
    snapshot: OrderSnapshot | None  # None: the broker's answer was never recorded

    @property
    def is_open(self) -> bool:
        return self.snapshot is None


def is_same_request(first: PlaceOrder, second: PlaceOrder) -> bool:
    """Whether two requests ask for the same order; the client's timestamp may differ."""
    return first.client_order_id == second.client_order_id and (
        (first.account, first.symbol, first.side, first.quantity, first.order_type)
        == (second.account, second.symbol, second.side, second.quantity, second.order_type)
        and (first.price, first.time_in_force, first.open_close)
        == (second.price, second.time_in_force, second.open_close)
    )


class Journal:
    def __init__(self, path: Path) -> None:
        self._db = connect(path, SCHEMA + quarantine.SCHEMA, synchronous="FULL")
        quarantine.move_unreadable(self._db, "orders", _SUSPECT, _entry, key_column=0)
        self.quarantined = quarantine.count(self._db)
        rows = self._db.execute("SELECT record_key FROM quarantine WHERE source = 'orders'")
        self._quarantined_ids = {str(key) for (key,) in rows}
        self._checkpoints = checkpoint_in_background(self._db)  # off the loop: see aftm.wal

    def close(self) -> None:
        self._checkpoints.stop()
        self._db.close()

    def lookup(self, client_order_id: str) -> JournalEntry | None:
        row = self._db.execute(f"{_SELECT} WHERE client_order_id = ?", (client_order_id,))
        found = row.fetchone()
        return None if found is None else _entry(found)

    def open_entries(self) -> list[JournalEntry]:
        """Begun, not completed, oldest first."""
        rows = self._db.execute(f"{_SELECT} WHERE status IS NULL ORDER BY begun_ns").fetchall()
        return [_entry(row) for row in rows]

    def begin(self, order: PlaceOrder, now_ns: int) -> None:
        """Record the request before the broker sees it (committed and synced to disk when this
        returns). InvalidInput for an id whose row was quarantined: it may have been placed."""
        if order.client_order_id in self._quarantined_ids:
            raise InvalidInput(
                "client_order_id",
                f"{order.client_order_id!r} is quarantined (its journal row could not be read,"
                " so it may have been placed): use a new id",
            )
        with transaction(self._db):
            self._db.execute(
                f"INSERT INTO orders ({_REQUEST}, begun_ns)"  # noqa: S608 - constant text
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.client_order_id,
                    order.account,
                    order.symbol,
                    order.side.value,
                    order.quantity,
                    order.order_type.value,
                    None if order.price is None else str(order.price),
                    order.time_in_force.value,
                    order.open_close.value,
                    order.ts_ns,
                    now_ns,
                ),
            )

    def complete(self, snapshot: OrderSnapshot) -> None:
        """Record the broker's answer to a begun entry (KeyError if it was never begun)."""
        # An open entry takes any answer, so the usual case needs no lookup first.
        if not self._write(snapshot, _OPEN) and not self.update(snapshot):
            raise KeyError(f"client order id {snapshot.client_order_id!r} was never begun")

    def update(self, snapshot: OrderSnapshot) -> bool:
        """Store the broker's latest word on a journaled order; False if the id is not here.

        Completes an open entry. A finished order (filled, rejected, cancelled) never goes back
        to a live status, so a late, stale report cannot undo a fill.
        """
        entry = self.lookup(snapshot.client_order_id)
        if entry is None:
            return False
        stored = entry.snapshot
        is_finished = stored is not None and stored.status in FINAL_STATUSES
        if is_finished and (snapshot.status not in FINAL_STATUSES or stored == snapshot):
            return True
        self._write(snapshot)
        return True

    def _write(self, snapshot: OrderSnapshot, condition: str = "") -> bool:
        """Store `snapshot` on its entry (`condition` narrows which); False if none matched."""
        with transaction(self._db):
            cursor = self._db.execute(
                f"{_UPDATE} WHERE client_order_id = ?{condition}",
                (
                    snapshot.status.value,
                    snapshot.broker_order_id,
                    snapshot.filled_quantity,
                    None if snapshot.average_price is None else str(snapshot.average_price),
                    snapshot.reason,
                    snapshot.ts_ns,
                    snapshot.client_order_id,
                ),
            )
        return cursor.rowcount > 0


def _entry(row: Sequence[object]) -> JournalEntry:
    note, account, symbol, side, quantity, order_type, price, tif, open_close, ts_ns = row[:10]
    begun_ns = integer(row[10])
    status, broker_id, filled, average, reason, updated_ns = row[11:]
    request = PlaceOrder(
        client_order_id=str(note),
        account=str(account),
        symbol=str(symbol),
        side=Side(str(side)),
        quantity=integer(quantity),
        order_type=OrderType(str(order_type)),
        price=None if price is None else Decimal(str(price)),
        time_in_force=TimeInForce(str(tif)),
        open_close=OpenClose(str(open_close)),
        ts_ns=integer(ts_ns),
    )
    if status is None:
        return JournalEntry(request, begun_ns, None)
    snapshot = OrderSnapshot(
        client_order_id=request.client_order_id,
        broker_order_id=str(broker_id),
        account=request.account,
        symbol=request.symbol,
        side=request.side,
        quantity=request.quantity,
        filled_quantity=integer(filled),
        average_price=None if average is None else Decimal(str(average)),
        status=OrderStatus(str(status)),
        reason=str(reason),
        ts_ns=integer(updated_ns),
    )
    return JournalEntry(request, begun_ns, snapshot)
