"""What `aftm run` shows while it runs (pure): a full screen for a terminal, one line otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aftm.domain.conditions import Condition
from aftm.wire.protocol import ExecutorStatus, MarketSession, OrderSnapshot, ProductSession
from aftm_console.render import ORDER_HEADERS, order_row, printable, table

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen
MAX_CONDITIONS = 10
MAX_ORDERS = 8
TAIPEI = ZoneInfo("Asia/Taipei")
NS_PER_S = 1_000_000_000
ALWAYS_OPEN = "always open (simulated; AFTM_GATEWAY_SIM_CALENDAR=taifex follows TAIFEX's sessions)"
TRADING_PHASES = ("regular", "after_hours")


@dataclass(frozen=True, slots=True)
class Picture:
    """Everything on screen; None where a service did not answer this time."""

    time: str
    prices: Mapping[str, int]
    conditions: tuple[Condition, ...] | None
    orders: tuple[OrderSnapshot, ...] | None
    executor: ExecutorStatus | None
    state_dir: Path
    notes: tuple[str, ...] = ()  # what happened that a redraw must not wipe (the demo)
    market: MarketSession | None = None  # the gateway's last word on the sessions


def screen(picture: Picture) -> str:
    lines = [f"AFTM all-in-one (simulated exchange)   {picture.time}", ""]
    lines.append("prices     " + (_prices(picture.prices) or "waiting for the first tick"))
    lines.append("executor   " + _executor(picture.executor))
    lines.append("market     " + market_line(picture.market))
    lines += ["", _conditions_table(picture.conditions), "", _orders_table(picture.orders), ""]
    lines += [*picture.notes, *([""] if picture.notes else [])]
    lines.append(f"logs and state in {picture.state_dir}/   Ctrl-C stops everything")
    # Conditions, orders and notes carry services' text: none may move the cursor on screen.
    return CLEAR + "\n".join(printable(line) for line in "\n".join(lines).split("\n")) + "\n"


def summary(picture: Picture) -> str:
    """One line for a log or a pipe."""
    parts = [picture.time, _prices(picture.prices) or "no ticks yet"]
    if picture.conditions is None:
        parts.append("conditions: no answer")
    else:
        stages = _count(str(c.stage) for c in picture.conditions)
        parts.append(f"conditions {len(picture.conditions)}" + (f" ({stages})" if stages else ""))
    if picture.orders is None:
        parts.append("orders: no answer")
    else:
        statuses = _count(str(o.status) for o in picture.orders)
        parts.append(f"orders {len(picture.orders)}" + (f" ({statuses})" if statuses else ""))
    return printable("aftm run: " + " | ".join(parts))


def market_line(session: MarketSession | None) -> str:
    """Each product's phase and its next close (trading) or open (not), in Taipei time."""
    if session is None:
        return "no word from the gateway yet"
    if session.calendar == "always_open":
        return ALWAYS_OPEN
    if not session.products:
        return f"{session.calendar}: session unknown"
    prefix = "replay, at the recorded time: " if session.calendar == "replay" else ""
    return prefix + "  ".join(_product_session(product) for product in session.products)


def _product_session(product: ProductSession) -> str:
    text = f"{product.product} {product.phase.replace('_', '-')}"
    if product.phase in TRADING_PHASES and product.next_close_ns:
        return f"{text} until {_taipei(product.next_close_ns)}"
    if product.phase not in TRADING_PHASES and product.next_open_ns:
        return f"{text}, opens {_taipei(product.next_open_ns)}"
    return text


def _taipei(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS_PER_S, TAIPEI).strftime("%m-%d %H:%M")


def _prices(prices: Mapping[str, int]) -> str:
    return "  ".join(f"{symbol} {price}" for symbol, price in sorted(prices.items()))


def _executor(status: ExecutorStatus | None) -> str:
    if status is None:
        return "no answer"
    account = status.account or "no account selected (aftm account use ACCOUNT)"
    alive = "gateway alive" if status.gateway_alive else "gateway silent"
    return (
        f"account {account}, mode {status.mode}, {alive}, signals {status.signals_received}, "
        f"orders sent {status.orders_sent}, refused {status.signals_rejected}"
    )


def _conditions_table(conditions: tuple[Condition, ...] | None) -> str:
    if conditions is None:
        return "conditions: the strategy did not answer"
    if not conditions:
        return "conditions: none (add one: aftm conditions add ...)"
    rows = [
        (
            c.id,
            c.symbol,
            c.action,
            c.quantity,
            c.trigger_price,
            c.order_price,
            c.take_profit_price,
            c.stop_loss_price,
            c.stage,
        )
        for c in conditions[-MAX_CONDITIONS:]
    ]
    headers = ("condition", "symbol", "action", "qty", "trigger", "order", "take profit")
    return table((*headers, "stop loss", "stage"), rows)


def _orders_table(orders: tuple[OrderSnapshot, ...] | None) -> str:
    if orders is None:
        return "orders: the gateway did not answer (or is logged out)"
    if not orders:
        return "orders: none yet"
    latest = sorted(orders, key=lambda o: o.ts_ns)[-MAX_ORDERS:]
    rows = [order_row(o) for o in latest]
    return table(("order", *ORDER_HEADERS), rows)


def _count(values: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
