"""The services' journals as the chaos soak reads them: read-only, after (or while) they run.

The strategy store's signals (what it emitted) and the executor journal's signals, trades,
orders, fills and positions; the tables are those of aftm_strategy.store and
aftm_executor.journal_rows.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aftm.domain.signals import Signal, SignalKind
from aftm.wire.codec import decode


@dataclass(frozen=True)
class Emitted:
    id: str
    condition_id: str
    kind: SignalKind


@dataclass(frozen=True)
class JournalOrder:
    client_order_id: str
    trade_id: str
    signal_id: str
    leg: str
    state: str
    reason: str
    filled: int  # the larger of what reports said and what fills added up to


@dataclass(frozen=True)
class JournalTrade:
    trade_id: str
    refused: str
    hold: str
    done: bool
    updated_ns: int  # wall clock: for a refused trade, when it was refused


@dataclass
class ExecutorRecord:
    signals: set[str] = field(default_factory=set)
    trades: dict[str, JournalTrade] = field(default_factory=dict)
    orders: dict[str, JournalOrder] = field(default_factory=dict)
    fills: dict[str, int] = field(default_factory=dict)  # applied fill lots per client order id
    positions: dict[str, dict[str, int]] = field(default_factory=dict)  # zero rows left out

    @functools.cached_property
    def entry_filled(self) -> dict[str, int]:
        """Per trade, what its entry orders filled."""
        filled: dict[str, int] = defaultdict(int)
        for order in self.orders.values():
            if order.leg == "entry":
                filled[order.trade_id] += order.filled
        return dict(filled)


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        yield db


def read_emitted(store: Path) -> list[Emitted]:
    """Every signal the strategy store holds, in emission order."""
    if not store.exists():
        return []
    with _read_only(store) as db:
        rows = db.execute("SELECT frame FROM signals ORDER BY position").fetchall()
    signals = [decode(frame) for (frame,) in rows]
    return [Emitted(s.id, s.condition_id, s.kind) for s in signals if isinstance(s, Signal)]


def read_executor(journal: Path) -> ExecutorRecord:
    record = ExecutorRecord()
    if not journal.exists():
        return record
    with _read_only(journal) as db:
        record.signals = {str(row[0]) for row in db.execute("SELECT signal_id FROM signals")}
        for trade_id, refused, hold, done, updated_ns in db.execute(
            "SELECT trade_id, refused, hold, done, updated_ns FROM trades"
        ):
            record.trades[trade_id] = JournalTrade(
                trade_id, refused, hold, bool(done), int(updated_ns)
            )
        for order_id, trade_id, signal, leg, state, reason, filled in db.execute(
            "SELECT client_order_id, trade_id, signal_id, leg, state, reason,"
            " MAX(reported_filled, fill_quantity) FROM orders"
        ):
            record.orders[order_id] = JournalOrder(
                order_id, trade_id, signal, leg, state, reason, int(filled)
            )
        record.fills = {
            str(order_id): int(lots)
            for order_id, lots in db.execute(
                "SELECT client_order_id, SUM(quantity) FROM fills GROUP BY client_order_id"
            )
        }
        positions: dict[str, dict[str, int]] = defaultdict(dict)
        for account, symbol, net in db.execute(
            "SELECT account, symbol, net_quantity FROM positions WHERE net_quantity != 0"
        ):
            positions[account][symbol] = int(net)
        record.positions = dict(positions)
    return record


def executor_backlog(journal: Path) -> tuple[int, int]:
    """(trades not done, orders without a known outcome) in the executor's journal; (-1, -1)
    when it cannot be read just now."""
    try:
        with _read_only(journal) as db:
            live = db.execute("SELECT COUNT(*) FROM trades WHERE done = 0").fetchone()[0]
            unresolved = db.execute(
                "SELECT COUNT(*) FROM orders WHERE state IN ('sending', 'unknown')"
            ).fetchone()[0]
    except sqlite3.Error:
        return -1, -1
    return int(live), int(unresolved)
