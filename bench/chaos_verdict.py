"""The chaos soak's verdict: the broker's own record against the strategy's and executor's journals.

Every figure is counted from stored state after the services stopped, never from what a service
says about itself:
- signals: what the strategy store says it emitted; journaled: those the executor journal holds.
- broker orders, and duplicates: a client order id (NOTE) under more than one broker order; a
  trade with more than one broker entry order, or whose broker exit fills exceed its entry fills.
  Broker orders are tied to their trade through the deterministic client order ids
  (aftm_executor.trades.client_order_id of the strategy's signal ids), so even an order the
  executor forgot is attributed; the executor journal is only the fallback.
- lost: a signal with neither an executor order nor a recorded reason (a refusal, or an exit
  with nothing to close because its entry filled nothing).
- open without exit: a trade whose broker entry fills exceed its broker exit fills at the end,
  with no exit order still working at the broker.
- refused by restart: entries refused with a reason naming staleness or the gateway (what a
  restart causes), and entries overtaken by their exit within NEAR_KILL_S after a kill (held,
  or recovered, while a service restarted), as a share of all signals emitted; the details
  split them into those refused within NEAR_KILL_S after a kill and the others (a gateway too
  busy to send heartbeats, say).
- positions: per account, the executor's positions table against the broker's net positions
  (zero rows left out), symbol by symbol.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aftm.domain.signals import SignalKind, signal_id
from aftm_executor.trades import client_order_id
from bench.broker_book import BrokerBook, net_positions
from bench.journals import Emitted, ExecutorRecord, JournalTrade

RESTART_WORDS = ("stale", "gateway")
OVERTAKEN = "the exit came before the entry reached the market"
RESTART_LIMIT_PCT = 0.5
MAX_EXIT_ATTEMPTS = 64  # exit attempts derived per trade when tying broker orders to trades
LISTED = 20  # examples of each breach kept in the details
NEAR_KILL_S = 15.0
VERDICT_KEYS = (
    "signals",
    "journaled",
    "orders",
    "duplicates",
    "duplicate_signals",
    "lost",
    "open_without_exit",
)


@dataclass
class TradeAtBroker:
    entry_orders: set[str] = field(default_factory=set)  # broker order ids
    entry_filled: int = 0
    exit_filled: int = 0
    exit_working: bool = False


@dataclass
class Judgement:
    details: dict[str, object]
    breaches: list[str]
    line: str

    @property
    def passed(self) -> bool:
        return not self.breaches


def attribute(
    emitted: list[Emitted], executor: ExecutorRecord, accounts: set[str]
) -> dict[str, tuple[str, str]]:
    """client order id -> (trade id, leg), derived from the strategy's signals on each of the
    broker's `accounts` (an id names its account), then from the executor journal for anything
    else (e.g. an exit attempt beyond MAX_EXIT_ATTEMPTS)."""
    legs: dict[str, tuple[str, str]] = {}
    for signal in emitted:
        if signal.kind is not SignalKind.ENTRY:
            continue
        # A flatten closes under the exit id even when the strategy never emitted the exit.
        exit_id = signal_id(signal.condition_id, SignalKind.TAKE_PROFIT)
        for account in accounts:
            legs[client_order_id(account, signal.id)] = (signal.condition_id, "entry")
            for attempt in range(1, MAX_EXIT_ATTEMPTS + 1):
                legs[client_order_id(account, exit_id, attempt)] = (signal.condition_id, "exit")
    for order in executor.orders.values():
        legs.setdefault(order.client_order_id, (order.trade_id, order.leg))
    return legs


def at_broker(book: BrokerBook, legs: dict[str, tuple[str, str]]) -> dict[str, TradeAtBroker]:
    trades: dict[str, TradeAtBroker] = defaultdict(TradeAtBroker)
    for order in book.orders:
        if order.client_order_id not in legs:
            continue
        trade_id, leg = legs[order.client_order_id]
        if leg == "entry":
            trades[trade_id].entry_orders.add(order.broker_order_id)
        elif order.is_working:
            trades[trade_id].exit_working = True
    for fill in book.fills:
        if fill.client_order_id not in legs:
            continue
        trade_id, leg = legs[fill.client_order_id]
        if leg == "entry":
            trades[trade_id].entry_filled += fill.quantity
        else:
            trades[trade_id].exit_filled += fill.quantity
    return dict(trades)


def lost_signals(emitted: list[Emitted], executor: ExecutorRecord) -> list[dict[str, str]]:
    """Signals with neither an executor order nor a recorded reason, with what is known."""
    ordered = {order.signal_id for order in executor.orders.values()}
    lost = []
    for signal in emitted:
        trade = executor.trades.get(signal.condition_id)
        if signal.id not in executor.signals or trade is None:
            why = "never journaled by the executor"
        elif signal.id in ordered or trade.refused:
            continue
        elif signal.kind.is_exit and trade.done and not executor.entry_filled.get(trade.trade_id):
            continue  # its entry filled nothing: nothing to close
        else:
            why = f"journaled, no order and no reason (done={trade.done}, hold={trade.hold!r})"
        lost.append({"signal_id": signal.id, "why": why})
    return lost


def refusals(executor: ExecutorRecord, kill_ns: Sequence[int]) -> dict[str, dict[str, int]]:
    """Entries refused, by reason with its figures blanked (so alike reasons count together):
    how many in all, and how many within NEAR_KILL_S after a kill."""
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: {"total": 0, "near_kills": 0})
    for trade in executor.trades.values():
        if trade.refused:
            kind = kinds[re.sub(r"\d+(\.\d+)?", "N", trade.refused)]
            kind["total"] += 1
            kind["near_kills"] += is_near_kill(trade, kill_ns)
    return dict(sorted(kinds.items(), key=lambda item: -item[1]["total"]))


def position_differences(
    executor: dict[str, dict[str, int]], broker: dict[str, dict[str, int]]
) -> list[dict[str, object]]:
    differences: list[dict[str, object]] = []
    for account in sorted(executor.keys() | broker.keys()):
        ours, theirs = executor.get(account, {}), broker.get(account, {})
        for symbol in sorted(ours.keys() | theirs.keys()):
            if ours.get(symbol, 0) != theirs.get(symbol, 0):
                differences.append(
                    {
                        "account": account,
                        "symbol": symbol,
                        "executor": ours.get(symbol, 0),
                        "broker": theirs.get(symbol, 0),
                    }
                )
    return differences


def restart_refusals(executor: ExecutorRecord, kill_ns: Sequence[int]) -> list[JournalTrade]:
    """Entries refused for a reason a restart causes: staleness or the gateway's state
    anywhere, and, within NEAR_KILL_S after a kill, an exit that overtook its entry (the entry
    was held, or its signal recovered, while a service restarted)."""
    return [
        trade
        for trade in executor.trades.values()
        if any(word in trade.refused.lower() for word in RESTART_WORDS)
        or (OVERTAKEN in trade.refused and is_near_kill(trade, kill_ns))
    ]


def is_near_kill(trade: JournalTrade, kill_ns: Sequence[int]) -> bool:
    """Whether the trade was last changed (for a refused one: refused) within NEAR_KILL_S
    after a kill; a restart refusal elsewhere has another cause (a gateway loop too busy to
    send its heartbeats, say)."""
    window_ns = int(NEAR_KILL_S * 1e9)
    return any(0 <= trade.updated_ns - k <= window_ns for k in kill_ns)


@dataclass
class Findings:
    """What the stored state shows, each kind as the ids or rows involved."""

    duplicate_ids: list[str]
    twice_entered: list[str]  # trades
    overclosed: list[str]  # trades whose broker exit fills exceed their entry fills
    open_without_exit: list[str]  # trades
    lost: list[dict[str, str]]
    refused_by_restart: list[JournalTrade]
    position_differences: list[dict[str, object]]
    unattributed: int  # broker orders under a NOTE no signal or journal row explains


def find(
    emitted: list[Emitted],
    executor: ExecutorRecord,
    book: BrokerBook,
    kill_ns: Sequence[int] = (),
) -> Findings:
    legs = attribute(emitted, executor, {order.account for order in book.orders})
    notes: dict[str, set[str]] = defaultdict(set)
    for order in book.orders:
        notes[order.client_order_id].add(order.broker_order_id)
    trades = at_broker(book, legs)
    return Findings(
        duplicate_ids=sorted(note for note, ids in notes.items() if len(ids) > 1),
        twice_entered=sorted(t for t, at in trades.items() if len(at.entry_orders) > 1),
        overclosed=sorted(t for t, at in trades.items() if at.exit_filled > at.entry_filled),
        open_without_exit=sorted(
            t
            for t, at in trades.items()
            if at.entry_filled > at.exit_filled and not at.exit_working
        ),
        lost=lost_signals(emitted, executor),
        refused_by_restart=restart_refusals(executor, kill_ns),
        position_differences=position_differences(executor.positions, book.positions),
        unattributed=sum(order.client_order_id not in legs for order in book.orders),
    )


def judge(
    emitted: list[Emitted],
    executor: ExecutorRecord,
    book: BrokerBook,
    kill_ns: Sequence[int] = (),
    restart_limit_pct: float = RESTART_LIMIT_PCT,
) -> Judgement:
    """The verdict on a run; `kill_ns`: when each kill happened (wall clock, ns); at
    `restart_limit_pct` of signals refused because of restarts, it fails."""
    found = find(emitted, executor, book, kill_ns)
    restarts = len(found.refused_by_restart)
    pct = 100.0 * restarts / len(emitted) if emitted else 0.0
    figures: dict[str, object] = {
        "signals": len(emitted),
        "journaled": sum(s.id in executor.signals for s in emitted),
        "orders": len(book.orders),
        "duplicates": len(found.duplicate_ids),
        "duplicate_signals": len(found.twice_entered) + len(found.overclosed),
        "lost": len(found.lost),
        "open_without_exit": len(found.open_without_exit),
        "positions_equal": not found.position_differences,
        "refused_by_restart": restarts,
        "refused_by_restart_pct": round(pct, 2),
    }
    breaches = [
        name
        for name, broken in (
            ("duplicates", found.duplicate_ids or found.twice_entered or found.overclosed),
            ("lost", found.lost),
            ("open_without_exit", found.open_without_exit),
            ("positions_equal", found.position_differences),
            ("refused_by_restart", pct >= restart_limit_pct),
            ("no_signals", not emitted),
        )
        if broken
    ]
    line = " ".join(
        [
            f"verdict {'FAIL' if breaches else 'PASS'}",
            *(f"{key}={figures[key]}" for key in VERDICT_KEYS),
            f"positions_equal={'yes' if figures['positions_equal'] else 'no'}",
            f"refused_by_restart={restarts} ({pct:.2f}%)",
        ]
    )
    details = {**figures, **diagnostics(found, emitted, executor, book, kill_ns)}
    return Judgement(details, breaches, line)


def diagnostics(
    found: Findings,
    emitted: list[Emitted],
    executor: ExecutorRecord,
    book: BrokerBook,
    kill_ns: Sequence[int],
) -> dict[str, object]:
    """What helps find a breach's cause: examples, the refusals, the fills the executor missed."""
    missed = {
        note: lots - executor.fills.get(note, 0)
        for note, lots in book.filled_by_note().items()
        if lots > executor.fills.get(note, 0)
    }
    near = sum(is_near_kill(trade, kill_ns) for trade in found.refused_by_restart)
    return {
        "entry_signals": sum(s.kind is SignalKind.ENTRY for s in emitted),
        "executor_orders": len(executor.orders),
        "broker_fills": len(book.fills),
        "unattributed_broker_orders": found.unattributed,
        "duplicate_client_order_ids": found.duplicate_ids[:LISTED],
        "trades_entered_twice": found.twice_entered[:LISTED],
        "trades_closed_beyond_entry": found.overclosed[:LISTED],
        "trades_open_without_exit": found.open_without_exit[:LISTED],
        "lost_signals": found.lost[:LISTED],
        "refusals": refusals(executor, kill_ns),
        "refused_by_restart_near_kills": near,
        "refused_by_restart_elsewhere": len(found.refused_by_restart) - near,
        "position_differences": found.position_differences,
        "executor_positions": executor.positions,
        "broker_positions": book.positions,
        "broker_positions_equal_its_fills": net_positions(book.fills) == book.positions,
        "fills_missed_by_executor": {"orders": len(missed), "lots": sum(missed.values())},
        "executor_trades_not_done": sum(not t.done for t in executor.trades.values()),
    }
