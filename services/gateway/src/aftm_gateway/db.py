"""SQLite as the gateway uses it: WAL, explicit short transactions, synchronous per store.

WAL with synchronous=NORMAL keeps every committed transaction when the process is killed; only
a power cut can lose the last ones. That suits state a restart can rebuild or that nobody
else holds. A record whose loss would let the gateway repeat something the outside world
already saw (the order journal's `begin`: the broker may have the order) needs FULL, which
syncs the log at every commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

from aftm.domain.orders import OrderFilled
from aftm.domain.types import Side

Synchronous = Literal["NORMAL", "FULL"]


def connect(path: Path, schema: str, *, synchronous: Synchronous = "NORMAL") -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One owner at a time (the service loop), but it may be built on another thread than the
    # one that runs the loop, hence check_same_thread=False.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA busy_timeout=5000")
    connection.executescript(schema)
    return connection


def enum_values(*kinds: type[StrEnum]) -> str:
    """The values of these enums as an SQL list: `side NOT IN (...)` finds text none knows."""
    return ", ".join(f"'{member.value}'" for kind in kinds for member in kind)


def not_decimal(column: str) -> str:
    """An SQL condition true for every text of `column` that Decimal may refuse (and for some
    it takes): a superset, to find rows worth reading one by one."""
    return (
        f"({column} NOT GLOB '[0-9]*' OR {column} GLOB '*[^0-9.]*' OR {column} GLOB '*.*.*'"
        f" OR typeof({column}) != 'text')"
    )


# Fill rows (FILL_COLUMNS) that fill_from_row may refuse.
SUSPECT_FILL = (
    f"side NOT IN ({enum_values(Side)}) OR typeof(quantity) != 'integer'"
    f" OR typeof(ts_ns) != 'integer' OR {not_decimal('price')}"
)


def integer(value: object) -> int:
    """An INTEGER column's value, checked (SQLite would hand back whatever was stored)."""
    if not isinstance(value, int):
        raise TypeError(f"expected an integer column, got {value!r}")
    return value


# A fill as the gateway's stores hold it (the sim exchange's fills, the fill ledger): these
# columns, in this order.
FILL_COLUMNS = "client_order_id, broker_order_id, fill_id, symbol, side, quantity, price, ts_ns"


def fill_row(fill: OrderFilled) -> tuple[str, str, str, str, str, int, str, int]:
    return (
        fill.client_order_id,
        fill.broker_order_id,
        fill.fill_id,
        fill.symbol,
        fill.side.value,
        fill.quantity,
        str(fill.price),
        fill.ts_ns,
    )


def fill_from_row(row: Sequence[object]) -> OrderFilled:
    """The fill stored as FILL_COLUMNS (the row's first eight values)."""
    note, broker_id, fill_id, symbol, side, quantity, price, ts_ns = row[:8]
    return OrderFilled(
        client_order_id=str(note),
        broker_order_id=str(broker_id),
        fill_id=str(fill_id),
        symbol=str(symbol),
        side=Side(str(side)),
        quantity=integer(quantity),
        price=Decimal(str(price)),
        ts_ns=integer(ts_ns),
    )
