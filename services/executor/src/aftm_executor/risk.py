"""Pre-trade risk checks: values in, a decision with a reason out. No clock, no I/O.

Entries are refused whenever there is doubt (gateway silent or logged out, limits, trading
mode). Exits are the way out of a position: a silent gateway does not stop them (an unanswered
order is resolved later) and a logged-out broker only holds them until it is back; but an exit
whose entry never reached the market would open a reverse position, so that is refused.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from aftm.domain.signals import Signal
from aftm.domain.types import Side
from aftm.wire.protocol import TradingMode
from aftm_executor.states import SignalState

NS_PER_MINUTE = 60 * 1_000_000_000


class Verdict(StrEnum):
    ALLOW = "allow"
    REFUSE = "refuse"  # final: the signal is journaled as rejected with the reason
    WAIT = "wait"  # not yet decidable (an entry in flight, the gateway not heard yet): ask again


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""


ALLOWED = Decision(Verdict.ALLOW)


class GatewayState(StrEnum):
    ALIVE = "alive"
    STARTING = "starting"  # no heartbeat yet, but this process started less than a timeout ago
    SILENT = "silent"
    LOGGED_OUT = "logged_out"


@dataclass(frozen=True, slots=True)
class Limits:
    max_lots_per_order: int = 10
    max_net_position: int = 20
    max_orders_per_minute: int = 60


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """What the journal knows of the entry an exit signal closes."""

    state: SignalState
    filled_quantity: int


@dataclass(frozen=True, slots=True)
class Context:
    mode: TradingMode
    gateway: GatewayState
    account: str  # where the order would go; empty when no account is selected
    position: int  # that account's net position in the symbol, counting working orders
    orders_in_window: int  # orders sent within the last minute
    entry: EntryRecord | None = None  # exits only; None when the entry was never journaled


def gateway_state(
    *,
    last_heartbeat_ns: int | None,
    logged_in: bool,
    started_ns: int,
    now_ns: int,
    timeout_ns: int,
) -> GatewayState:
    """Classify the gateway from its heartbeats; all times on one (monotonic) clock."""
    if last_heartbeat_ns is None:
        return GatewayState.STARTING if now_ns - started_ns < timeout_ns else GatewayState.SILENT
    if now_ns - last_heartbeat_ns > timeout_ns:
        return GatewayState.SILENT
    return GatewayState.ALIVE if logged_in else GatewayState.LOGGED_OUT


def is_reducing(position: int, side: Side, quantity: int) -> bool:
    """True when the order only shrinks the absolute position (never through zero)."""
    return position * side.sign < 0 and quantity <= abs(position)


def check(signal: Signal, context: Context, limits: Limits) -> Decision:
    """Decide whether `signal` may become an order now."""
    if signal.quantity < 1:
        return _refuse(f"quantity {signal.quantity} is not positive")
    if context.mode is TradingMode.HALTED:
        return _refuse("trading mode is halted")
    side_check = _check_exit(context) if signal.kind.is_exit else _check_entry(context)
    if side_check is not ALLOWED:
        return side_check
    if not context.account:
        return _refuse("no account selected")
    reducing = is_reducing(context.position, signal.side, signal.quantity)
    if context.mode is TradingMode.REDUCING and not reducing:
        return _refuse(f"trading mode is reducing and position {context.position} would not shrink")
    if signal.quantity > limits.max_lots_per_order:
        return _refuse(f"quantity {signal.quantity} is over {limits.max_lots_per_order} per order")
    after = context.position + signal.side.sign * signal.quantity
    if abs(after) > limits.max_net_position and not reducing:
        return _refuse(f"net position would be {after}, over {limits.max_net_position}")
    if context.orders_in_window >= limits.max_orders_per_minute:
        return _refuse(f"order rate is at {limits.max_orders_per_minute} per minute")
    return ALLOWED


def _check_entry(context: Context) -> Decision:
    if context.gateway is GatewayState.STARTING:
        return Decision(Verdict.WAIT, "no gateway heartbeat yet since start")
    if context.gateway is GatewayState.SILENT:
        return _refuse("gateway is silent (no heartbeat within the timeout)")
    if context.gateway is GatewayState.LOGGED_OUT:
        return _refuse("gateway reports the broker logged out")
    return ALLOWED


def _check_exit(context: Context) -> Decision:
    entry = context.entry
    if entry is None:
        return _refuse("exit without a journaled entry would open a reverse position")
    never_filled = entry.state is SignalState.CANCELLED and entry.filled_quantity == 0
    if entry.state is SignalState.REJECTED or never_filled:
        return _refuse(f"entry was {entry.state} unfilled; an exit would open a reverse position")
    if entry.state in (SignalState.RECEIVED, SignalState.SENDING, SignalState.UNKNOWN):
        return Decision(Verdict.WAIT, f"entry is still {entry.state}")
    if context.gateway is GatewayState.LOGGED_OUT:
        # The gateway would refuse it; held, it goes out as soon as the session is back.
        return Decision(Verdict.WAIT, "gateway reports the broker logged out")
    return ALLOWED


def _refuse(reason: str) -> Decision:
    return Decision(Verdict.REFUSE, reason)


class OrderRate:
    """Orders sent within a sliding one-minute window of the `now_ns` values given."""

    def __init__(self, window_ns: int = NS_PER_MINUTE) -> None:
        self._window_ns = window_ns
        self._sent: deque[int] = deque()

    def count(self, now_ns: int) -> int:
        while self._sent and self._sent[0] <= now_ns - self._window_ns:
            self._sent.popleft()
        return len(self._sent)

    def record(self, now_ns: int) -> None:
        self._sent.append(now_ns)
