"""The executor journal's tables, and trades to rows and back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from aftm.domain.types import Side
from aftm.quarantine import reason_unreadable as _why
from aftm.wire.protocol import TradingMode
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Order, Trade

# `{open_orders}` is the journal's condition for orders that can still add to an exposure.
SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (
    signal_id TEXT PRIMARY KEY,
    trade_id TEXT NOT NULL,
    payload BLOB NOT NULL,              -- the Signal, codec-encoded as received
    received_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_by_trade ON signals (trade_id);
CREATE TABLE IF NOT EXISTS trades (
    trade_id TEXT PRIMARY KEY,          -- the condition id, or manual:<order id>
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,                 -- the entry's side
    quantity INTEGER NOT NULL,
    entry_signal_id TEXT NOT NULL,
    exit_signal_id TEXT NOT NULL,
    entry_ts_ns INTEGER,                -- NULL while only the exit is known
    exit_wanted INTEGER NOT NULL,
    exit_kind TEXT NOT NULL,
    flatten INTEGER NOT NULL,
    refused TEXT NOT NULL,
    hold TEXT NOT NULL,
    problem TEXT NOT NULL,
    failures INTEGER NOT NULL,
    retry_at_ns INTEGER NOT NULL,
    cancel_sent_ns INTEGER NOT NULL,
    opened_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    done INTEGER NOT NULL,
    unclosed INTEGER NOT NULL,
    waiting INTEGER NOT NULL            -- decided again by the periodic sweep
);
CREATE INDEX IF NOT EXISTS trades_live ON trades (done, opened_ns);
CREATE INDEX IF NOT EXISTS trades_waiting ON trades (waiting) WHERE waiting = 1;
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    trade_id TEXT NOT NULL,
    signal_id TEXT NOT NULL,            -- the signal this attempt derives its id from
    leg TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    reported_filled INTEGER NOT NULL,   -- the largest filled quantity a report gave
    sent_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    fill_quantity INTEGER NOT NULL DEFAULT 0,   -- the sum of fills seen
    fill_value TEXT NOT NULL DEFAULT '0',       -- the sum of fill quantity x price
    acked_ns INTEGER,                   -- when the reply accepting it was read
    limit_price INTEGER,                -- a protected order's IOC limit; NULL: market
    protection_points INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS orders_by_trade ON orders (trade_id);
CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state);
CREATE INDEX IF NOT EXISTS orders_sent ON orders (leg, sent_ns);
CREATE INDEX IF NOT EXISTS orders_open ON orders (account, symbol) WHERE {open_orders};
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_by_order ON fills (client_order_id);
CREATE TABLE IF NOT EXISTS positions (
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    net_quantity INTEGER NOT NULL,
    average_price TEXT NOT NULL,
    PRIMARY KEY (account, symbol)
);
-- Positions set by a person to the broker's figures (`aftm reconcile --accept`): the audit trail
-- of every change to the book that no fill explains.
CREATE TABLE IF NOT EXISTS adjustments (
    ts_ns INTEGER NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    net_before INTEGER NOT NULL,
    net_after INTEGER NOT NULL,
    average_after TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

TRADE_COLUMNS = (
    "trade_id, account, symbol, side, quantity, entry_signal_id, exit_signal_id, entry_ts_ns,"
    " exit_wanted, exit_kind, flatten, refused, hold, problem, failures, retry_at_ns,"
    " cancel_sent_ns, opened_ns, updated_ns, done, unclosed, waiting"
)
ORDER_COLUMNS = (
    "client_order_id, trade_id, signal_id, leg, attempt, account, symbol, side, quantity, state,"
    " reason, reported_filled, sent_ns, updated_ns, limit_price, protection_points"
)
# Columns added to `orders` after its first release, with their definitions: a journal from
# before gets them at start (journal.Journal), market orders as they were.
ADDED_ORDER_COLUMNS = (
    ("limit_price", "INTEGER"),
    ("protection_points", "INTEGER NOT NULL DEFAULT 0"),
)
# What an order is read back with: `Order.filled` is the larger of the two lower bounds.
ORDER_READ_COLUMNS = ORDER_COLUMNS.replace("reported_filled", "MAX(reported_filled, fill_quantity)")


def trade_values(trade: Trade) -> tuple[object, ...]:
    return (
        trade.trade_id,
        trade.account,
        trade.symbol,
        trade.side.value,
        trade.quantity,
        trade.entry_signal_id,
        trade.exit_signal_id,
        trade.entry_ts_ns,
        int(trade.exit_wanted),
        trade.exit_kind,
        int(trade.flatten),
        trade.refused,
        trade.hold,
        trade.problem,
        trade.failures,
        trade.retry_at_ns,
        trade.cancel_sent_ns,
        trade.opened_ns,
        trade.updated_ns,
        int(trade.is_done),
        int(trade.is_unclosed),
        int(trade.is_waiting),
    )


def order_values(trade: Trade, order: Order) -> tuple[object, ...]:
    signal_id = trade.entry_signal_id if order.leg is Leg.ENTRY else trade.exit_signal_id
    return (
        order.client_order_id,
        trade.trade_id,
        signal_id,
        order.leg.value,
        order.attempt,
        trade.account,
        trade.symbol,
        order.side.value,
        order.quantity,
        order.state.value,
        order.reason,
        order.filled,
        order.sent_ns,
        trade.updated_ns,
        order.limit_price,
        order.protection_points,
    )


def trade_from_rows(row: Sequence[object], orders: Sequence[Sequence[object]]) -> Trade:
    (trade_id, account, symbol, side, quantity, entry_id, exit_id, entry_ts) = row[:8]
    (exit_wanted, exit_kind, flatten, refused, hold, problem, failures) = row[8:15]
    (retry_at, cancel_sent, opened, updated) = row[15:19]
    return Trade(
        trade_id=str(trade_id),
        account=str(account),
        symbol=str(symbol),
        side=Side(str(side)),
        quantity=_int(quantity),
        entry_signal_id=str(entry_id),
        exit_signal_id=str(exit_id),
        entry_ts_ns=None if entry_ts is None else _int(entry_ts),
        exit_wanted=bool(exit_wanted),
        exit_kind=str(exit_kind),
        flatten=bool(flatten),
        refused=str(refused),
        hold=str(hold),
        problem=str(problem),
        failures=_int(failures),
        retry_at_ns=_int(retry_at),
        cancel_sent_ns=_int(cancel_sent),
        opened_ns=_int(opened),
        updated_ns=_int(updated),
        orders=tuple(_order(order) for order in orders),
    )


def _order(row: Sequence[object]) -> Order:
    order_id, _trade, _signal, leg, attempt, _account, _symbol, side, quantity, state = row[:10]
    reason, reported, sent_ns, _updated, limit, points = row[10:16]
    return Order(
        client_order_id=str(order_id),
        leg=Leg(str(leg)),
        attempt=_int(attempt),
        side=Side(str(side)),
        quantity=_int(quantity),
        state=OrderState(str(state)),
        filled=_int(reported),
        reason=str(reason),
        sent_ns=_int(sent_ns),
        limit_price=None if limit is None else _strict_int(limit),
        protection_points=_int(points),
    )


def _int(value: object) -> int:
    return int(str(value))  # a REAL (SQLite's take on a value beyond 64 bits) raises


# --- rows that cannot be read back ----------------------------------------------------------------

# Settings read as something else than text, and how.
_SETTING_READERS: tuple[tuple[str, Callable[[str], object]], ...] = (
    ("mode", TradingMode),
    ("resync_after", int),
    ("realised_twd:", lambda text: _finite(Decimal(text))),
)
# What stands in for a setting that could not be read: HALTED, since a person may have halted
# trading and a damaged row must not turn that into ACTIVE. Absent keys fall back as usual.
SAFE_SETTINGS = {"mode": TradingMode.HALTED.value}


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A row to quarantine: its table, rowid, values, and why it cannot be read."""

    table: str
    rowid: int
    row: tuple[object, ...]
    reason: str


def unreadable_rows(db: sqlite3.Connection) -> list[Unreadable]:
    """Every journal row the executor could not read back, in the tables it reads at start and
    on every decision. A trade goes whole, with its orders, when any of its rows is unreadable:
    a trade missing an order would misstate what may still fill."""
    found: list[Unreadable] = []
    broken: dict[str, str] = {}  # trade id: why
    trades = db.execute(f"SELECT rowid, {TRADE_COLUMNS} FROM trades").fetchall()  # noqa: S608
    for _, *row in trades:
        if why := _why(_read_trade, row):
            broken[str(row[0])] = why
    orders = db.execute(
        f"SELECT rowid, {ORDER_COLUMNS}, fill_quantity, fill_value FROM orders"  # noqa: S608
    ).fetchall()
    for _, *row in orders:
        if (why := _why(_read_order, row)) and str(row[1]) not in broken:
            broken[str(row[1])] = f"order {row[0]!r}: {why}"
    for rowid, *row in trades:
        if str(row[0]) in broken:
            found.append(Unreadable("trades", rowid, tuple(row), broken[str(row[0])]))
    for rowid, *row in orders:
        if str(row[1]) in broken:
            why = f"its trade: {broken[str(row[1])]}"
            found.append(Unreadable("orders", rowid, tuple(row), why))
    for rowid, *row in db.execute("SELECT rowid, * FROM positions").fetchall():
        if why := _why(_read_position, row):
            found.append(Unreadable("positions", rowid, tuple(row), why))
    for rowid, *row in db.execute("SELECT rowid, key, value FROM settings").fetchall():
        if why := _why(_read_setting, row):
            found.append(Unreadable("settings", rowid, tuple(row), f"{row[0]}: {why}"))
    return found


def _read_trade(row: Sequence[object]) -> object:
    return trade_from_rows(row, ())


def _read_order(row: Sequence[object]) -> object:
    """ORDER_COLUMNS, then fill_quantity and fill_value."""
    return _order(row), _int(row[16]), _finite(Decimal(str(row[17])))


def _read_position(row: Sequence[object]) -> object:
    """account, symbol, net_quantity, average_price."""
    return _strict_int(row[2]), _finite(Decimal(str(row[3])))


def _read_setting(row: Sequence[object]) -> object:
    key, value = str(row[0]), str(row[1])
    return [read(value) for prefix, read in _SETTING_READERS if key.startswith(prefix)]


def _strict_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    return value
