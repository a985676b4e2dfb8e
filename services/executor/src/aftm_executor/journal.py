"""The executor's SQLite journal: signals, trades with their orders, fills, positions, settings.

Whatever the executor sends is journaled first: a trade and its new order are committed in one
transaction before the request leaves, so a killed executor finds on restart exactly what it
had started: `sending`/`unknown` orders are asked about at the gateway under their client order
id, and every other decision is made again from the trades as stored. Those commits are durable
(synchronous=FULL: a power loss must not forget an order the broker may have); the rest commit
with NORMAL, which WAL keeps across a killed process and the next FULL commit makes durable too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aftm import quarantine
from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.signals import Signal
from aftm.sql import rows_in, transaction
from aftm.wal import checkpoint_in_background
from aftm.wire.codec import encode
from aftm.wire.protocol import TradingMode
from aftm_executor import pnl
from aftm_executor.journal_rows import (
    ADDED_ORDER_COLUMNS,
    ORDER_COLUMNS,
    ORDER_READ_COLUMNS,
    SAFE_SETTINGS,
    SCHEMA,
    TRADE_COLUMNS,
    order_values,
    trade_from_rows,
    trade_values,
    unreadable_rows,
)
from aftm_executor.market import MARKET_CLOSED_HOLD
from aftm_executor.positions import PositionBook
from aftm_executor.states import UNRESOLVED, WORKING, OrderState
from aftm_executor.trades import Leg, Order, Trade

_OPEN_STATES = ",".join(f"'{state.value}'" for state in sorted(UNRESOLVED | WORKING))
# Rows that can still add to an exposure: in flight or working, or reported filled beyond the
# fills seen. Written out in the partial index and the queries alike (SQLite only uses a
# partial index whose condition the query repeats).
OPEN_ORDERS = f"(state IN ({_OPEN_STATES}) OR reported_filled > fill_quantity)"


_PRUNE = (
    "DELETE FROM fills WHERE client_order_id IN (SELECT client_order_id FROM orders"
    " WHERE trade_id IN (SELECT trade_id FROM trades WHERE done = 1 AND updated_ns < ?))",
    "DELETE FROM orders WHERE trade_id IN"
    " (SELECT trade_id FROM trades WHERE done = 1 AND updated_ns < ?)",
    "DELETE FROM signals WHERE trade_id IN"
    " (SELECT trade_id FROM trades WHERE done = 1 AND updated_ns < ?)",
)


@dataclass(frozen=True, slots=True)
class Counts:
    received: int
    sent: int
    risk_rejected: int
    unresolved: int


@dataclass(frozen=True, slots=True)
class FillValue:
    """What an order's fills add up to: quantity and quantity x price."""

    quantity: int
    value: Decimal


class Journal:
    """One connection, owned by the service thread."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._checkpoints = checkpoint_in_background(self._db)  # off the loop: see aftm.wal
        self._db.executescript(SCHEMA.format(open_orders=OPEN_ORDERS))
        self._add_order_columns()
        self._db.executescript(quarantine.SCHEMA)
        self._quarantine_unreadable()
        self._book = PositionBook(self._load_positions())
        # Read on every decision; only this connection writes them.
        self._settings = dict(self._db.execute("SELECT key, value FROM settings").fetchall())

    def _add_order_columns(self) -> None:
        """Give a journal from before protected orders their columns (its orders: market)."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(orders)")}
        for name, definition in ADDED_ORDER_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE orders ADD COLUMN {name} {definition}")

    def close(self) -> None:
        self._checkpoints.stop()
        self._db.close()

    @property
    def quarantined(self) -> int:
        """Rows in the quarantine table: journal rows this executor could not read."""
        return self._quarantined

    def _quarantine_unreadable(self) -> None:
        """Move the rows that cannot be read back (journal_rows.unreadable_rows) to the
        quarantine table, so that they cannot stop the executor at every start."""
        found = unreadable_rows(self._db)
        if found:
            with self._transaction(durable=True):
                for bad in found:
                    quarantine.quarantine(self._db, bad.table, bad.row, bad.reason)
                    self._db.execute(
                        f"DELETE FROM {bad.table} WHERE rowid = ?",  # noqa: S608 - table names
                        (bad.rowid,),
                    )
                    safe = SAFE_SETTINGS.get(str(bad.row[0])) if bad.table == "settings" else None
                    if safe is not None:
                        self._db.execute("INSERT INTO settings VALUES (?, ?)", (bad.row[0], safe))
        self._quarantined = quarantine.count(self._db)

    @contextmanager
    def _transaction(self, *, durable: bool = False) -> Iterator[None]:
        if durable:
            self._db.execute("PRAGMA synchronous=FULL")
        try:
            with transaction(self._db):
                yield
        finally:
            if durable:
                self._db.execute("PRAGMA synchronous=NORMAL")

    # --- signals and trades -----------------------------------------------------------------

    def take_signal(
        self, signal: Signal, received_ns: int, trade: Trade, payload: bytes | None = None
    ) -> bool:
        """Journal a new signal with its trade as it now stands, in one commit; False (and
        nothing written) if the signal was journaled before."""
        with self._transaction(durable=_sends(trade)):
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO signals (signal_id, trade_id, payload, received_ns)"
                " VALUES (?,?,?,?)",
                (
                    signal.id,
                    signal.condition_id,
                    encode(signal) if payload is None else payload,
                    received_ns,
                ),
            )
            if cursor.rowcount != 1:
                return False
            self._write(trade)
        return True

    def save(self, trade: Trade, *, acked: tuple[str, int] | None = None) -> None:
        """Store the trade as it now stands (its orders included); durable when an order is on
        its way, so that nothing the broker may receive is forgotten. `acked`: (client order
        id, ns) of an accepting reply just read, recorded in the same commit (see `acked`)."""
        with self._transaction(durable=_sends(trade)):
            self._write(trade)
            if acked is not None:
                self._write_acked(*acked)

    def _write(self, trade: Trade) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO trades ({TRADE_COLUMNS}) VALUES"  # noqa: S608 - constants
            f" ({','.join('?' * len(TRADE_COLUMNS.split(',')))})",
            trade_values(trade),
        )
        for order in trade.orders:
            self._db.execute(
                f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES"  # noqa: S608 - constants
                f" ({','.join('?' * len(ORDER_COLUMNS.split(',')))})"
                " ON CONFLICT (client_order_id) DO UPDATE SET state = excluded.state,"
                " reason = excluded.reason, quantity = excluded.quantity,"
                " reported_filled = MAX(reported_filled, excluded.reported_filled),"
                " sent_ns = excluded.sent_ns, updated_ns = excluded.updated_ns",
                order_values(trade, order),
            )

    def trade(self, trade_id: str) -> Trade | None:
        row = self._db.execute(
            f"SELECT {TRADE_COLUMNS} FROM trades WHERE trade_id = ?",  # noqa: S608 - constants
            (trade_id,),
        ).fetchone()
        if row is None:
            return None
        orders = self._db.execute(
            f"SELECT {ORDER_READ_COLUMNS} FROM orders WHERE trade_id = ? ORDER BY rowid",  # noqa: S608
            (trade_id,),
        ).fetchall()
        return trade_from_rows(row, orders)

    def trade_of_order(self, client_order_id: str) -> Trade | None:
        row = self._db.execute(
            "SELECT trade_id FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return None if row is None else self.trade(str(row[0]))

    def live_trades(self) -> list[Trade]:
        """Every trade not yet done, oldest first."""
        rows = self._db.execute("SELECT trade_id FROM trades WHERE done = 0 ORDER BY opened_ns")
        return [trade for (trade_id,) in rows.fetchall() if (trade := self.trade(trade_id))]

    def live_accounts(self) -> set[str]:
        """The accounts of the trades not yet done (without reading the trades)."""
        rows = self._db.execute("SELECT DISTINCT account FROM trades WHERE done = 0")
        return {str(account) for (account,) in rows}

    def waiting_trades(self) -> list[Trade]:
        """Live trades that wait on something besides a report: a hold, a backoff, an entry."""
        rows = self._db.execute("SELECT trade_id FROM trades WHERE waiting = 1 ORDER BY opened_ns")
        return [trade for (trade_id,) in rows.fetchall() if (trade := self.trade(trade_id))]

    def unclosed_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM trades WHERE unclosed = 1").fetchone()[0])

    def held_exit_count(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM trades WHERE unclosed = 1 AND hold != ''")
        return int(row.fetchone()[0])

    def waiting_for_open_count(self) -> int:
        """Exits held only because the market is closed (market.py's reason): they go out at
        the next open by themselves, so they are not an alarm."""
        query = "SELECT COUNT(*) FROM trades WHERE unclosed = 1 AND hold LIKE ?"
        return int(self._db.execute(query, (f"{MARKET_CLOSED_HOLD}%",)).fetchone()[0])

    def recent_trades(
        self, limit: int, *, open_only: bool = False, before: tuple[int, str] | None = None
    ) -> list[Trade]:
        """At most `limit` trades, newest last: the newest of all, or those opened before
        `before` (opened_ns, trade_id), a page's cursor; the id orders trades opened at one ns.
        """
        where = ["done = 0"] if open_only else []
        values: list[object] = []
        if before is not None:
            where.append("(opened_ns < ? OR (opened_ns = ? AND trade_id < ?))")
            values += [before[0], before[0], before[1]]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.execute(
            f"SELECT trade_id FROM trades {clause}"  # noqa: S608 - constant text
            " ORDER BY opened_ns DESC, trade_id DESC LIMIT ?",
            (*values, limit),
        ).fetchall()
        found = [self.trade(trade_id) for (trade_id,) in reversed(rows)]
        return [trade for trade in found if trade is not None]

    def unresolved(self) -> list[tuple[str, Order]]:
        """(trade id, order) of every order sent without a known outcome, oldest first."""
        return self._orders_in(UNRESOLVED)

    def working(self) -> list[tuple[str, Order]]:
        """(trade id, order) of every order the broker accepted and has not finished, oldest
        first: reconciliation asks about them again, since their last report may be lost."""
        return self._orders_in(WORKING)

    def _orders_in(self, states: Iterable[OrderState]) -> list[tuple[str, Order]]:
        marks = ",".join("?" for _ in states)
        rows = self._db.execute(
            f"SELECT trade_id, client_order_id FROM orders WHERE state IN ({marks})"  # noqa: S608
            " ORDER BY rowid",
            [state.value for state in states],
        ).fetchall()
        found = []
        for trade_id, order_id in rows:
            trade = self.trade(trade_id)
            order = trade.order(order_id) if trade else None
            if order is not None:
                found.append((str(trade_id), order))
        return found

    def unknown_signals(self, signal_ids: Iterable[str]) -> set[str]:
        """Those of `signal_ids` never journaled."""
        wanted = set(signal_ids)
        query = "SELECT signal_id FROM signals WHERE signal_id IN ({marks})"
        return wanted - {row[0] for row in rows_in(self._db, query, wanted)}

    def acked(self, client_order_id: str, acked_ns: int) -> None:
        """When the reply accepting the order was read (tick-to-ack audits); the first one."""
        with self._transaction():
            self._write_acked(client_order_id, acked_ns)

    def _write_acked(self, client_order_id: str, acked_ns: int) -> None:
        self._db.execute(
            "UPDATE orders SET acked_ns = COALESCE(acked_ns, ?) WHERE client_order_id = ?",
            (acked_ns, client_order_id),
        )

    @property
    def changes(self) -> int:
        """Rows written through this journal so far: unchanged means nothing to recount."""
        return self._db.total_changes

    # --- fills and positions ----------------------------------------------------------------

    def record_fill(self, fill: OrderFilled, account: str) -> Position | None:
        """Fold a fill of one of our orders in; None when its fill id was seen before."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?)",
                (
                    fill.fill_id,
                    fill.client_order_id,
                    account,
                    fill.symbol,
                    fill.side.value,
                    fill.quantity,
                    str(fill.price),
                    fill.ts_ns,
                ),
            )
            if cursor.rowcount != 1:
                return None
            before = self._book.position(account, fill.symbol)
            position = self._book.apply(account, fill)
            realised = pnl.realised_twd(before, fill)
            if realised:
                key = _realised_key(account, pnl.trading_day(fill.ts_ns))
                total = Decimal(self.setting(key) or "0") + realised
                self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, str(total)))
                self._settings[key] = str(total)
            self._db.execute(
                "INSERT OR REPLACE INTO positions VALUES (?,?,?,?)",
                (account, fill.symbol, position.net_quantity, str(position.average_price)),
            )
            row = self._db.execute(
                "SELECT fill_value FROM orders WHERE client_order_id = ?", (fill.client_order_id,)
            ).fetchone()
            value = Decimal(str(row[0])) + fill.price * fill.quantity
            self._db.execute(
                "UPDATE orders SET fill_quantity = fill_quantity + ?, fill_value = ?"
                " WHERE client_order_id = ?",
                (fill.quantity, str(value), fill.client_order_id),
            )
        return position

    def known_fills(self, fill_ids: Iterable[str]) -> set[str]:
        """Those of `fill_ids` already folded in."""
        query = "SELECT fill_id FROM fills WHERE fill_id IN ({marks})"
        return {str(row[0]) for row in rows_in(self._db, query, set(fill_ids))}

    def reports_awaited(self) -> int:
        """Orders still working, or reported filled beyond the fills seen. The executor's
        orders are IOC: their final report and fills normally follow within a second; when
        they do not, they were lost, and reconciliation fetches them."""
        working = ",".join(f"'{state.value}'" for state in sorted(WORKING))
        row = self._db.execute(
            f"SELECT COUNT(*) FROM orders WHERE {OPEN_ORDERS}"  # noqa: S608 - constants
            f" AND (state IN ({working}) OR reported_filled > fill_quantity)"
        )
        return int(row.fetchone()[0])

    def unsettled(self) -> set[tuple[str, str]]:
        """(account, symbol) of every order in flight, working, or reported filled beyond its
        fills: there the book may lag the broker for a moment, and a difference is explained."""
        rows = self._db.execute(f"SELECT DISTINCT account, symbol FROM orders WHERE {OPEN_ORDERS}")  # noqa: S608
        return {(str(account), str(symbol)) for account, symbol in rows}

    def adopt(self, position: Position, now_ns: int, reason: str) -> Position | None:
        """Set the book's position to `position` (a person accepted the broker's figure); the
        change is kept in the adjustments table. Returns the position it replaced."""
        before = self._book.position(position.account, position.symbol)
        with self._transaction(durable=True):
            self._db.execute(
                "INSERT OR REPLACE INTO positions VALUES (?,?,?,?)",
                (
                    position.account,
                    position.symbol,
                    position.net_quantity,
                    str(position.average_price),
                ),
            )
            self._db.execute(
                "INSERT INTO adjustments VALUES (?,?,?,?,?,?,?)",
                (
                    now_ns,
                    position.account,
                    position.symbol,
                    before.net_quantity if before else 0,
                    position.net_quantity,
                    str(position.average_price),
                    reason,
                ),
            )
        self._book.set(position)
        return before

    def fill_values(self, client_order_ids: Iterable[str]) -> dict[str, FillValue]:
        query = (
            "SELECT client_order_id, fill_quantity, fill_value FROM orders"
            " WHERE client_order_id IN ({marks})"
        )
        return {
            str(order_id): FillValue(int(quantity), Decimal(str(value)))
            for order_id, quantity, value in rows_in(self._db, query, set(client_order_ids))
        }

    def fill_quantity(self, client_order_id: str) -> int:
        row = self._db.execute(
            "SELECT fill_quantity FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def positions(self) -> tuple[Position, ...]:
        return self._book.positions()

    def realised_twd(self, account: str, day: int) -> Decimal:
        """What the account's fills realised on Taipei day `day` (see pnl.trading_day)."""
        return Decimal(self.setting(_realised_key(account, day)) or "0")

    def exposures(self, account: str) -> dict[str, int]:
        """Per symbol: the account's net position plus what orders in flight or working could
        still add to it. A lot the gateway reported filled counts before its fill report
        arrives (the two travel separately), or a check right after a "filled" reply would
        undercount and let an order past the limit."""
        rows = self._db.execute(
            f"SELECT symbol, side, CASE WHEN state IN ({_OPEN_STATES})"  # noqa: S608 - constants
            " THEN quantity - fill_quantity ELSE reported_filled - fill_quantity END"
            f" FROM orders WHERE account = ? AND {OPEN_ORDERS}",
            (account,),
        )
        exposure = {
            p.symbol: p.net_quantity for p in self._book.positions() if p.account == account
        }
        for symbol, side, rest in rows:
            sign = 1 if side == "buy" else -1
            exposure[symbol] = exposure.get(symbol, 0) + sign * max(int(rest), 0)
        return exposure

    def entry_send_times(self, since_ns: int) -> list[int]:
        rows = self._db.execute(
            "SELECT sent_ns FROM orders WHERE leg = ? AND sent_ns > ?", (Leg.ENTRY.value, since_ns)
        )
        return [int(row[0]) for row in rows]

    def _load_positions(self) -> list[Position]:
        rows = self._db.execute(
            "SELECT account, symbol, net_quantity, average_price FROM positions"
        )
        return [Position(a, s, n, Decimal(p)) for a, s, n, p in rows]

    # --- retention --------------------------------------------------------------------------

    def prune(self, before_ns: int) -> int:
        """Forget done trades last changed before `before_ns` (their orders, signals and fills);
        positions stay. Returns how many trades went."""
        with self._transaction():
            for statement in _PRUNE:
                self._db.execute(statement, (before_ns,))
            cursor = self._db.execute(
                "DELETE FROM trades WHERE done = 1 AND updated_ns < ?", (before_ns,)
            )
        return cursor.rowcount

    # --- settings and counts ----------------------------------------------------------------

    def account(self) -> str:
        return self.setting("account") or ""

    def set_account(self, account: str) -> None:
        self.set_setting("account", account)

    def mode(self) -> TradingMode:
        value = self.setting("mode")
        return TradingMode(value) if value else TradingMode.ACTIVE

    def set_mode(self, mode: TradingMode) -> None:
        self.set_setting("mode", mode.value)

    def unresolved_count(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM orders WHERE state IN ('sending', 'unknown')"
        ).fetchone()
        return int(row[0])

    def counts(self) -> Counts:
        received = self._db.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
        sent, unresolved = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(state IN ('sending', 'unknown')), 0) FROM orders"
        ).fetchone()
        refused = self._db.execute("SELECT COUNT(*) FROM trades WHERE refused != ''").fetchone()[0]
        return Counts(received=received, sent=sent, risk_rejected=refused, unresolved=unresolved)

    def setting(self, key: str) -> str | None:
        return self._settings.get(key)

    def set_setting(self, key: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))
        self._settings[key] = value


def _realised_key(account: str, day: int) -> str:
    return f"realised_twd:{account}:{day}"


def _sends(trade: Trade) -> bool:
    """Whether the trade holds an order about to leave: its row must survive a power loss."""
    return any(order.state is OrderState.SENDING for order in trade.orders)
