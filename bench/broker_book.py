"""The broker's own record of a run, read from its state after the services stopped.

Two brokers keep it in different places: the simulated exchange in its SQLite store (the
gateway's AFTM_GATEWAY_SIM_STATE_PATH), the PFCF test double in its append-only state file.
Both become one `BrokerBook`: every broker order under its NOTE (the client order id), every
fill, and the net position per account and symbol. This is the witness the chaos soak judges
the services by: nothing here comes from a service's claim about itself.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import dotnet

WORKING = frozenset({"pending", "accepted", "partially_filled"})  # may still fill
_SIGN = {"buy": 1, "sell": -1}


@dataclass(frozen=True)
class BrokerOrder:
    broker_order_id: str
    client_order_id: str  # the NOTE
    account: str
    symbol: str
    side: str  # buy | sell
    quantity: int
    status: str  # the simulated exchange's words: accepted, filled, cancelled, rejected

    @property
    def is_working(self) -> bool:
        return self.status in WORKING


@dataclass(frozen=True)
class BrokerFill:
    broker_order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: str
    quantity: int


@dataclass
class BrokerBook:
    orders: list[BrokerOrder] = field(default_factory=list)
    fills: list[BrokerFill] = field(default_factory=list)
    # account -> symbol -> net lots, zero rows left out
    positions: dict[str, dict[str, int]] = field(default_factory=dict)

    def filled_by_note(self) -> dict[str, int]:
        filled: dict[str, int] = defaultdict(int)
        for fill in self.fills:
            filled[fill.client_order_id] += fill.quantity
        return dict(filled)


def read_sim(path: Path) -> BrokerBook:
    """The simulated exchange's store (read-only; the gateway should be stopped)."""
    if not path.exists():
        return BrokerBook()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        orders = [
            BrokerOrder(str(b), str(n), str(a), str(s), str(side), int(q), str(status))
            for b, n, a, s, side, q, status in db.execute(
                "SELECT broker_order_id, client_order_id, account, symbol, side, quantity, status"
                " FROM orders ORDER BY rowid"
            )
        ]
        accounts = {order.broker_order_id: order.account for order in orders}
        fills = [
            BrokerFill(str(b), str(n), accounts.get(str(b), ""), str(s), str(side), int(q))
            for b, n, s, side, q in db.execute(
                "SELECT broker_order_id, client_order_id, symbol, side, quantity FROM fills"
                " ORDER BY rowid"
            )
        ]
        rows = db.execute(
            "SELECT account, symbol, net_quantity FROM positions WHERE net_quantity != 0"
        ).fetchall()
    positions: dict[str, dict[str, int]] = defaultdict(dict)
    for account, symbol, net in rows:
        positions[str(account)][str(symbol)] = int(net)
    return BrokerBook(orders, fills, dict(positions))


def read_double(path: Path) -> BrokerBook:
    """The PFCF double's state file: its orders (latest state each) and fills; positions are
    the fills' sum, as the double itself computes them when it loads the file."""
    orders = [
        BrokerOrder(
            o.broker_order_id, o.client_order_id, o.account, o.symbol, o.side, o.quantity, o.status
        )
        for o in dotnet.read_orders(path)
    ]
    by_number = {order.broker_order_id: order for order in orders}
    fills = [
        BrokerFill(
            fill.broker_order_id,
            order.client_order_id,
            order.account,
            order.symbol,
            order.side,
            fill.quantity,
        )
        for fill in dotnet.read_fills(path)
        if (order := by_number.get(fill.broker_order_id)) is not None
    ]
    return BrokerBook(orders, fills, net_positions(fills))


def net_positions(fills: Iterable[BrokerFill]) -> dict[str, dict[str, int]]:
    net: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fill in fills:
        net[fill.account][fill.symbol] += _SIGN[fill.side] * fill.quantity
    return {
        account: {symbol: lots for symbol, lots in symbols.items() if lots}
        for account, symbols in net.items()
        if any(symbols.values())
    }
