"""What `aftm run` shows while it runs (pure): a full screen for a terminal, one line otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aftm.domain.conditions import Condition
from aftm.wire.protocol import ExecutorStatus, OrderSnapshot
from aftm_console.render import ORDER_HEADERS, order_row, printable, table

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen
MAX_CONDITIONS = 10
MAX_ORDERS = 8


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


def screen(picture: Picture) -> str:
    lines = [f"AFTM all-in-one (simulated exchange)   {picture.time}", ""]
    lines.append("prices     " + (_prices(picture.prices) or "waiting for the first tick"))
    lines.append("executor   " + _executor(picture.executor))
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
