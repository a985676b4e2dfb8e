"""Pre-trade risk checks on entries: values in, a decision with a reason out. No clock, no I/O.

Entries are refused whenever there is doubt (gateway silent or logged out, limits, trading
mode). Exits are not judged here: the trade model (trades.py) sends them whatever the limits,
since they only close what an entry opened, and holds them only while they cannot go out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from aftm.domain.types import Side
from aftm.wire.protocol import TradingMode

NS_PER_MINUTE = 60 * 1_000_000_000


class Verdict(StrEnum):
    ALLOW = "allow"
    REFUSE = "refuse"  # final: the entry is never placed, with the reason
    WAIT = "wait"  # not yet decidable (the gateway not heard yet since start): ask again


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""


ALLOWED = Decision(Verdict.ALLOW)


class GatewayState(StrEnum):
    ALIVE = "alive"
    STARTING = "starting"  # no health report yet, and not silent for a timeout
    SILENT = "silent"
    LOGGED_OUT = "logged_out"


@dataclass(frozen=True, slots=True)
class Limits:
    max_lots_per_order: int = 10
    max_net_position: int = 20  # per account and symbol, in lots
    max_orders_per_minute: int = 60  # entries; exits are never rate limited
    max_account_lots_tx: float = 40.0  # per account, in TX-equivalent lots (by point value)


@dataclass(frozen=True, slots=True)
class EntryCheck:
    side: Side
    quantity: int
    symbol: str
    account: str  # where the order would go; empty when no account is selected
    mode: TradingMode
    gateway: GatewayState
    position: int  # the account's net position in the symbol, counting working orders
    account_exposure: float  # the account's TX-equivalent lots after this order
    orders_in_window: int  # entries sent within the last minute


def gateway_state(
    *,
    last_heard_ns: int | None,
    logged_in: bool | None,
    started_ns: int,
    now_ns: int,
    timeout_ns: int,
) -> GatewayState:
    """Classify the gateway from when it was last heard (any message or reply) and its last
    health report (`logged_in` None: none yet); all times on one (monotonic) clock."""
    if last_heard_ns is None or now_ns - last_heard_ns > timeout_ns:
        if last_heard_ns is None and now_ns - started_ns < timeout_ns:
            return GatewayState.STARTING
        return GatewayState.SILENT
    if logged_in is None:
        return GatewayState.STARTING  # heard, but whether the broker is up is not known yet
    return GatewayState.ALIVE if logged_in else GatewayState.LOGGED_OUT


def is_reducing(position: int, side: Side, quantity: int) -> bool:
    """True when the order only shrinks the absolute position (never through zero)."""
    return position * side.sign < 0 and quantity <= abs(position)


def check_entry(entry: EntryCheck, limits: Limits) -> Decision:
    """Decide whether an entry may become an order now."""
    if entry.quantity < 1:
        return _refuse(f"quantity {entry.quantity} is not positive")
    if entry.mode is TradingMode.HALTED:
        return _refuse("trading mode is halted")
    gateway = _check_gateway(entry.gateway)
    if gateway is not ALLOWED:
        return gateway
    if not entry.account:
        return _refuse("no account selected")
    reducing = is_reducing(entry.position, entry.side, entry.quantity)
    if entry.mode is TradingMode.REDUCING and not reducing:
        return _refuse(f"trading mode is reducing and position {entry.position} would not shrink")
    if entry.quantity > limits.max_lots_per_order:
        return _refuse(f"quantity {entry.quantity} is over {limits.max_lots_per_order} per order")
    after = entry.position + entry.side.sign * entry.quantity
    if abs(after) > limits.max_net_position and not reducing:
        return _refuse(f"net position would be {after}, over {limits.max_net_position}")
    if entry.account_exposure > limits.max_account_lots_tx and not reducing:
        return _refuse(
            f"account exposure would be {entry.account_exposure:g} TX-equivalent lots,"
            f" over {limits.max_account_lots_tx:g}"
        )
    if entry.orders_in_window >= limits.max_orders_per_minute:
        return _refuse(f"order rate is at {limits.max_orders_per_minute} per minute")
    return ALLOWED


def _check_gateway(state: GatewayState) -> Decision:
    if state is GatewayState.STARTING:
        return Decision(Verdict.WAIT, "no gateway health report yet since start")
    if state is GatewayState.SILENT:
        # A restarting gateway is silent for a few seconds: the entry waits for it, and only
        # its age (MAX_ENTRY_AGE_S) ends the wait, so a gateway that stays away refuses it.
        return Decision(Verdict.WAIT, "gateway is silent: waiting for it to answer")
    if state is GatewayState.LOGGED_OUT:
        return _refuse("gateway reports the broker logged out")
    return ALLOWED


def _refuse(reason: str) -> Decision:
    return Decision(Verdict.REFUSE, reason)


class OrderRate:
    """Entries sent within a sliding one-minute window, on the wall clock so that the journal's
    send times can seed it after a restart (a restart must not reset the limit)."""

    def __init__(self, sent_ns: Iterable[int] = (), window_ns: int = NS_PER_MINUTE) -> None:
        self._window_ns = window_ns
        self._sent: deque[int] = deque(sorted(sent_ns))

    def count(self, now_ns: int) -> int:
        while self._sent and self._sent[0] <= now_ns - self._window_ns:
            self._sent.popleft()
        return len(self._sent)

    def record(self, now_ns: int) -> None:
        self._sent.append(now_ns)
