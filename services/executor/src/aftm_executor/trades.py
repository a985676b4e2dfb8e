"""The trade lifecycle: one pure model that decides every order the executor sends.

A *trade* is one condition's round trip (or one manual order's): its entry order, its exit
orders and what they filled. Everything about sizing, retrying and holding orders lives here,
so it is decided in one place and the same way after any restart:

- An entry is placed once, under the id derived from its signal, and only while it is fresh
  and allowed by risk; refused, it ends the trade (an exit later finds nothing to close).
- An exit closes what the entry *filled* minus what earlier exits filled. A working entry is
  cancelled first; an exit never goes out while any of the trade's orders is unresolved.
- A protected order (an IOC limit at the last price +/- protection points) that the exchange
  cuts short is never chased: an entry is done with what it got, an exit's next attempt waits
  for the backoff and is priced from the then-last price.
- Exits are never dropped: HALTED holds them (a person's flatten still closes), a logged-out
  broker holds them, a refusal or a partial fill is retried after a backoff under a new
  attempt id, until the trade is flat. A held or failing exit is visible (`is_unclosed`).

Pure: values in, values out; the caller passes the time and the situation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum

from aftm.domain.signals import Signal, SignalKind, signal_id
from aftm.domain.types import Side
from aftm_executor.states import FINAL, UNRESOLVED, WORKING, OrderState, advance

CLIENT_ORDER_ID_PREFIX = "A"
MANUAL_PREFIX = "manual:"  # trade ids of manual orders
NS = 1_000_000_000
BACKOFF_FIRST_NS = NS // 2
BACKOFF_MAX_NS = 30 * NS


class Leg(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class Phase(StrEnum):
    AWAITING_ENTRY = "awaiting_entry"  # an exit came first; its entry is being fetched
    PENDING = "pending"  # the entry is known, no order yet (held, e.g. gateway starting)
    ENTERING = "entering"
    OPEN = "open"
    CLOSING = "closing"
    DONE = "done"


def client_order_id(account: str, signal_id_: str, attempt: int = 1) -> str:
    """The client order id of a signal's `attempt` on `account`: the same after any restart,
    16 characters.

    Short enough for a broker order's NOTE field, which is how broker reports map back to it;
    60 bits of a hash make a collision between two ids practically impossible. The account is
    part of it because one gateway serves one executor per account, all trading the same
    signals: without it both would send one id, and the gateway places an id once. ("/" cannot
    occur in an account, so no other account and signal id give the same text.) Ids journaled
    before the account was part of them stay as they were sent: an order's id is stored with
    it, and only new orders derive one.
    """
    key = f"{account}/{signal_id_}" if attempt == 1 else f"{account}/{signal_id_}#{attempt}"
    return CLIENT_ORDER_ID_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:15]


@dataclass(frozen=True, slots=True)
class Order:
    """One order of a trade: its entry, or one attempt of its exit."""

    client_order_id: str
    leg: Leg
    attempt: int
    side: Side
    quantity: int
    state: OrderState = OrderState.SENDING
    filled: int = 0  # the larger of what reports said and what fills added up to
    reason: str = ""
    sent_ns: int = 0
    limit_price: int | None = None  # a protected order's IOC limit; None: a market order
    protection_points: int = 0  # how far from the last price that limit was set

    @property
    def is_unresolved(self) -> bool:
        return self.state in UNRESOLVED

    @property
    def is_working(self) -> bool:
        return self.state in WORKING

    @property
    def is_final(self) -> bool:
        return self.state in FINAL


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: str
    account: str
    symbol: str
    side: Side  # the entry's side; exits go the other way
    quantity: int  # asked for by the entry
    entry_signal_id: str  # the id attempts of the entry derive from
    exit_signal_id: str
    entry_ts_ns: int | None  # the entry signal's tick time; None while the entry is unknown
    exit_wanted: bool = False
    exit_kind: str = ""  # take_profit, stop_loss, flatten
    flatten: bool = False  # a person asked to close it: HALTED does not hold it
    refused: str = ""  # why the entry was never placed (stale, risk, exit first)
    hold: str = ""  # why the exit (or the entry) is not going out now (shown, alarmed)
    problem: str = ""  # the last exit attempt's refusal or shortfall
    failures: int = 0  # exit attempts refused or short in a row: the backoff's exponent
    retry_at_ns: int = 0  # no new exit attempt before this
    cancel_sent_ns: int = 0  # the last cancel of a working entry
    opened_ns: int = 0
    updated_ns: int = 0
    orders: tuple[Order, ...] = ()

    # --- derived ------------------------------------------------------------------------------

    @property
    def is_manual(self) -> bool:
        return self.trade_id.startswith(MANUAL_PREFIX)

    def leg_orders(self, leg: Leg) -> tuple[Order, ...]:
        return tuple(order for order in self.orders if order.leg is leg)

    @property
    def entry_filled(self) -> int:
        return sum(order.filled for order in self.leg_orders(Leg.ENTRY))

    @property
    def exit_filled(self) -> int:
        return sum(order.filled for order in self.leg_orders(Leg.EXIT))

    @property
    def open_quantity(self) -> int:
        """What the trade holds: filled on entry minus filled on exit (never below 0)."""
        return max(self.entry_filled - self.exit_filled, 0)

    @property
    def phase(self) -> Phase:
        entries = self.leg_orders(Leg.ENTRY)
        busy = any(not order.is_final for order in self.orders)
        if self.entry_ts_ns is None:
            return Phase.AWAITING_ENTRY if not self.refused else Phase.DONE
        if not entries:
            return Phase.DONE if self.refused else Phase.PENDING
        entry_busy = any(not order.is_final for order in entries)
        if not self.exit_wanted:
            if entry_busy:
                return Phase.ENTERING
            return Phase.OPEN if self.open_quantity else Phase.DONE
        if not busy and not entry_busy and self.open_quantity == 0:
            return Phase.DONE
        return Phase.CLOSING

    @property
    def is_done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def is_unclosed(self) -> bool:
        """An exit is wanted (or a position is open while its exit is held) and it is stuck."""
        stuck = bool(self.hold) or self.failures > 0
        return self.exit_wanted and stuck and self.open_quantity > 0

    @property
    def is_waiting(self) -> bool:
        """Whether something besides a report can move it on (the clock, a mode, an entry)."""
        if self.is_done:
            return False
        if self.hold or self.phase in (Phase.PENDING, Phase.AWAITING_ENTRY, Phase.CLOSING):
            return True
        return any(order.state is OrderState.UNSENT for order in self.orders)

    def order(self, client_order_id_: str) -> Order | None:
        return next((o for o in self.orders if o.client_order_id == client_order_id_), None)

    def with_order(self, order: Order) -> Trade:
        """This trade with `order` added, or replacing the order with its id."""
        kept = tuple(o for o in self.orders if o.client_order_id != order.client_order_id)
        return replace(self, orders=(*kept, order))


# --- starting trades ---------------------------------------------------------------------------


def from_entry(signal: Signal, account: str, now_ns: int) -> Trade:
    return Trade(
        trade_id=signal.condition_id,
        account=account,
        symbol=signal.symbol,
        side=signal.side,
        quantity=signal.quantity,
        entry_signal_id=signal.id,
        exit_signal_id=signal_id(signal.condition_id, SignalKind.TAKE_PROFIT),
        entry_ts_ns=signal.ts_ns,
        opened_ns=now_ns,
        updated_ns=now_ns,
    )


def from_exit(signal: Signal, now_ns: int) -> Trade:
    """A trade first heard of by its exit: its entry must be fetched before anything is done."""
    return Trade(
        trade_id=signal.condition_id,
        account="",
        symbol=signal.symbol,
        side=signal.side.opposite,
        quantity=signal.quantity,
        entry_signal_id=signal_id(signal.condition_id, SignalKind.ENTRY),
        exit_signal_id=signal.id,
        entry_ts_ns=None,
        exit_wanted=True,
        exit_kind=signal.kind.value,
        opened_ns=now_ns,
        updated_ns=now_ns,
    )


def manual(
    order_id: str, account: str, symbol: str, side: Side, quantity: int, now_ns: int
) -> Trade:
    """A person's market order: a trade with an entry and no exit until it is flattened."""
    trade_id = MANUAL_PREFIX + order_id
    return Trade(
        trade_id=trade_id,
        account=account,
        symbol=symbol,
        side=side,
        quantity=quantity,
        entry_signal_id=f"{trade_id}:entry",
        exit_signal_id=f"{trade_id}:exit",
        entry_ts_ns=now_ns,
        opened_ns=now_ns,
        updated_ns=now_ns,
    )


# --- events ------------------------------------------------------------------------------------


def with_entry(trade: Trade, signal: Signal, account: str) -> Trade:
    """The entry of a trade that was waiting for it (its exit came first)."""
    if trade.entry_ts_ns is not None:
        return trade
    return replace(
        trade,
        account=account,
        side=signal.side,
        quantity=signal.quantity,
        entry_ts_ns=signal.ts_ns,
    )


def entry_missing(trade: Trade, now_ns: int) -> Trade:
    """The strategy has no entry for this exit: nothing was ever opened, nothing to close."""
    return replace(trade, refused="exit without an entry: nothing to close", updated_ns=now_ns)


def wants_exit(trade: Trade, kind: str, now_ns: int, *, flatten: bool = False) -> Trade:
    if trade.exit_wanted and (trade.flatten or not flatten):
        return trade
    return replace(
        trade,
        exit_wanted=True,
        exit_kind=trade.exit_kind or kind,
        flatten=trade.flatten or flatten,
        retry_at_ns=0 if flatten else trade.retry_at_ns,  # a person's flatten does not wait
        updated_ns=now_ns,
    )


def reported(
    trade: Trade, client_order_id_: str, state: OrderState, filled: int, reason: str, now_ns: int
) -> Trade:
    """The gateway said where one of the trade's orders stands; states only move forward."""
    order = trade.order(client_order_id_)
    if order is None:
        return trade
    updated = replace(
        order,
        state=advance(order.state, state),
        filled=max(order.filled, filled),
        reason=reason or order.reason,
    )
    if updated.limit_price is not None and _is_cut_short(updated):
        # The exchange cancelled what its limit could not fill: say so in the trader's terms.
        updated = replace(
            updated, reason=f"not filled within protection {updated.protection_points} points"
        )
    if updated == order:
        return trade
    trade = replace(trade.with_order(updated), updated_ns=now_ns)
    short = updated.is_final and updated.filled < updated.quantity
    if updated.leg is Leg.EXIT and short and trade.open_quantity > 0:
        # Refused, or filled short (IOC): the rest goes out again after a backoff.
        failures = trade.failures + 1
        why = updated.reason or f"exit {updated.state} with {updated.filled} filled"
        trade = replace(
            trade, failures=failures, retry_at_ns=now_ns + backoff_ns(failures), problem=why
        )
    return trade


def _is_cut_short(order: Order) -> bool:
    return order.state is OrderState.CANCELLED and order.filled < order.quantity


def unsent(trade: Trade, client_order_id_: str, now_ns: int) -> Trade:
    """The gateway never had this order (definitively): it may go out again, same id."""
    order = trade.order(client_order_id_)
    if order is None or not order.is_unresolved:
        return trade
    return replace(trade.with_order(replace(order, state=OrderState.UNSENT)), updated_ns=now_ns)


def backoff_ns(failures: int) -> int:
    return min(BACKOFF_FIRST_NS << max(failures - 1, 0), BACKOFF_MAX_NS)


# --- applying a decision -----------------------------------------------------------------------


def placed(trade: Trade, order: Order, now_ns: int) -> Trade:
    """The trade once `order` is journaled on its way."""
    return replace(trade.with_order(order), hold="", updated_ns=now_ns)


def refused(trade: Trade, reason: str, now_ns: int) -> Trade:
    """The entry will never be placed: an unsent entry order ends rejected with the reason."""
    orders = tuple(
        replace(o, state=OrderState.REJECTED, reason=reason)
        if o.leg is Leg.ENTRY and o.state is OrderState.UNSENT
        else o
        for o in trade.orders
    )
    return replace(trade, refused=reason, orders=orders, hold="", updated_ns=now_ns)


def held(trade: Trade, reason: str, now_ns: int) -> Trade:
    if trade.hold == reason:
        return trade
    return replace(trade, hold=reason, updated_ns=now_ns)


def cancel_sent(trade: Trade, now_ns: int) -> Trade:
    return replace(trade, cancel_sent_ns=now_ns, updated_ns=now_ns)
