"""The simulated exchange's own state, in its own SQLite file (AFTM_GATEWAY_SIM_STATE_PATH).

It plays the broker's back office, apart from the gateway's journal: orders (several may share a
NOTE, as at a real broker: deduplicating is the gateway's job), fills, positions, last prices and
the order id counter. A gateway killed at any moment meets the same broker state after restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path

from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.sql import transaction
from aftm.wal import checkpoint_in_background
from aftm_gateway.db import FILL_COLUMNS, connect, fill_from_row, fill_row, integer
from aftm_gateway.simulated.matching import BookOrder

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    broker_order_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,  -- the NOTE field
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    limit_price INTEGER,
    time_in_force TEXT NOT NULL,
    status TEXT NOT NULL,
    filled_quantity INTEGER NOT NULL,
    average_price TEXT,
    reason TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_note ON orders (client_order_id);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (symbol, status);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    broker_order_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    net_quantity INTEGER NOT NULL,
    average_price TEXT NOT NULL,
    PRIMARY KEY (account, symbol)
);
CREATE TABLE IF NOT EXISTS prices (symbol TEXT PRIMARY KEY, price INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_ORDER_COLUMNS = (
    "broker_order_id, client_order_id, account, symbol, side, quantity, order_type, limit_price,"
    " time_in_force, status, filled_quantity, average_price, reason, ts_ns"
)
_SELECT_ORDERS = f"SELECT {_ORDER_COLUMNS} FROM orders"  # noqa: S608 - constant text


class ExchangeStore:
    def __init__(self, path: Path) -> None:
        # NORMAL, not FULL: this store plays the broker's own book, not a record of an order on
        # its way to one. What a power cut takes from it the "broker" never had; the gateway's
        # journal (FULL) still has the order begun, finds it absent and places it once.
        self._db = connect(path, SCHEMA)
        self._checkpoints = checkpoint_in_background(self._db)  # off the loop: see aftm.wal

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Use as `with store.transaction():`; every write below must happen inside one."""
        return transaction(self._db)

    def close(self) -> None:
        self._checkpoints.stop()
        self._db.close()

    def next_number(self, name: str) -> int:
        row = self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1)"
            " ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def save_order(self, order: BookOrder) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO orders ({_ORDER_COLUMNS})"  # noqa: S608 - constant text
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.broker_order_id,
                order.client_order_id,
                order.account,
                order.symbol,
                order.side.value,
                order.quantity,
                order.order_type.value,
                order.limit_price,
                order.time_in_force.value,
                order.status.value,
                order.filled_quantity,
                None if order.average_price is None else str(order.average_price),
                order.reason,
                order.ts_ns,
            ),
        )

    def order_by_note(self, client_order_id: str) -> BookOrder | None:
        """The first order with this NOTE (a real broker may hold several; the first counts)."""
        row = self._db.execute(
            f"{_SELECT_ORDERS} WHERE client_order_id = ? ORDER BY rowid LIMIT 1",
            (client_order_id,),
        ).fetchone()
        return None if row is None else _book_order(row)

    def orders(self, accounts: Iterable[str]) -> list[BookOrder]:
        wanted = set(accounts)
        rows = self._db.execute(f"{_SELECT_ORDERS} ORDER BY rowid").fetchall()
        return [order for order in map(_book_order, rows) if order.account in wanted]

    def resting(self, symbol: str) -> list[BookOrder]:
        rows = self._db.execute(
            f"{_SELECT_ORDERS} WHERE symbol = ? AND status = ? ORDER BY rowid",
            (symbol, OrderStatus.ACCEPTED.value),
        ).fetchall()
        return [_book_order(row) for row in rows]

    def resting_symbols(self) -> set[str]:
        """Symbols with at least one resting order: the only ones a tick must be matched on."""
        rows = self._db.execute(
            "SELECT DISTINCT symbol FROM orders WHERE status = ?", (OrderStatus.ACCEPTED.value,)
        ).fetchall()
        return {str(row[0]) for row in rows}

    def save_fill(self, fill: OrderFilled) -> None:
        self._db.execute(
            f"INSERT INTO fills ({FILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            fill_row(fill),
        )

    def fills(self, accounts: Iterable[str], since_ns: int) -> list[OrderFilled]:
        """The fills of these accounts' orders at or after `since_ns`, oldest first."""
        wanted = set(accounts)
        columns = ", ".join(f"f.{name}" for name in FILL_COLUMNS.split(", "))
        rows = self._db.execute(
            f"SELECT {columns}, o.account FROM fills f"  # noqa: S608 - constants
            " JOIN orders o ON o.broker_order_id = f.broker_order_id"
            " WHERE f.ts_ns >= ? ORDER BY f.rowid",
            (since_ns,),
        ).fetchall()
        return [fill_from_row(row) for row in rows if row[8] in wanted]

    def position(self, account: str, symbol: str) -> Position | None:
        row = self._db.execute(
            "SELECT net_quantity, average_price FROM positions WHERE account = ? AND symbol = ?",
            (account, symbol),
        ).fetchone()
        if row is None:
            return None
        return Position(account, symbol, int(row[0]), Decimal(row[1]))

    def save_position(self, position: Position) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO positions (account, symbol, net_quantity, average_price)"
            " VALUES (?, ?, ?, ?)",
            (position.account, position.symbol, position.net_quantity, str(position.average_price)),
        )

    def positions(self, account: str) -> list[Position]:
        rows = self._db.execute(
            "SELECT symbol, net_quantity, average_price FROM positions"
            " WHERE account = ? AND net_quantity != 0 ORDER BY symbol",
            (account,),
        ).fetchall()
        return [Position(account, str(row[0]), int(row[1]), Decimal(row[2])) for row in rows]

    def last_prices(self) -> dict[str, int]:
        rows = self._db.execute("SELECT symbol, price FROM prices").fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def save_prices(self, prices: Mapping[str, int]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO prices (symbol, price) VALUES (?, ?)", prices.items()
        )


def _book_order(row: tuple[object, ...]) -> BookOrder:
    (broker_id, note, account, symbol, side, quantity, order_type, limit, tif, status) = row[:10]
    filled, average, reason, ts_ns = row[10:]
    return BookOrder(
        broker_order_id=str(broker_id),
        client_order_id=str(note),
        account=str(account),
        symbol=str(symbol),
        side=Side(str(side)),
        quantity=integer(quantity),
        order_type=OrderType(str(order_type)),
        limit_price=None if limit is None else integer(limit),
        time_in_force=TimeInForce(str(tif)),
        status=OrderStatus(str(status)),
        filled_quantity=integer(filled),
        average_price=None if average is None else Decimal(str(average)),
        reason=str(reason),
        ts_ns=integer(ts_ns),
    )
