"""The trade model's decision: the one thing to do next for a trade, in its situation.

Pure, like trades.py: the service gathers the situation (mode, gateway, market, exposure, the
time), asks `decide`, and applies the answer through the journal and the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aftm.wire.protocol import TradingMode
from aftm_executor import market, risk
from aftm_executor.market import ALWAYS_OPEN, MarketView
from aftm_executor.protection import Protection, limit_price
from aftm_executor.states import OrderState
from aftm_executor.trades import NS, Leg, Order, Phase, Trade, client_order_id

CANCEL_AGAIN_NS = 2 * NS  # a cancel that changed nothing is asked again after this


@dataclass(frozen=True, slots=True)
class Situation:
    """What the decision depends on besides the trade itself."""

    now_ns: int  # wall clock, the same clock as signal timestamps
    mode: TradingMode
    gateway: risk.GatewayState
    limits: risk.Limits
    max_entry_age_ns: int
    exposure: int = 0  # the account's net position in the symbol, counting working orders
    account_exposure: float = 0.0  # the account's TX-equivalent lots, counting working orders
    entries_in_window: int = 0  # entry orders sent within the last minute
    entries_blocked: str = ""  # an alarm that stops every entry (e.g. duplicate broker orders)
    market: MarketView = ALWAYS_OPEN  # the trade's contract, by the market rules in force
    protection: Protection | None = None  # protected orders: what prices them; None: market


@dataclass(frozen=True, slots=True)
class Place:
    order: Order  # new (a new attempt) or an UNSENT one going out again under its id


@dataclass(frozen=True, slots=True)
class Cancel:
    client_order_id: str


@dataclass(frozen=True, slots=True)
class Refuse:
    reason: str  # the entry is never placed; the trade is done
    rule: str = ""  # the market rule that refused it (market.Rule), if one did


@dataclass(frozen=True, slots=True)
class Hold:
    reason: str  # nothing goes out now; decided again later
    rule: str = ""  # the market rule that holds it (market.Rule), if one does


@dataclass(frozen=True, slots=True)
class FetchEntry:
    signal_id: str


@dataclass(frozen=True, slots=True)
class Nothing:
    pass


Decision = Place | Cancel | Refuse | Hold | FetchEntry | Nothing
NOTHING = Nothing()


def decide(trade: Trade, situation: Situation) -> Decision:
    """The one thing to do next for `trade`."""
    if any(order.is_unresolved for order in trade.orders):
        return NOTHING  # asked about at the gateway; nothing new goes out meanwhile
    phase = trade.phase
    if phase is Phase.DONE:
        return NOTHING
    if phase is Phase.AWAITING_ENTRY:
        return FetchEntry(trade.entry_signal_id)
    if phase is Phase.PENDING:
        if trade.exit_wanted:
            return Refuse("the exit came before the entry reached the market")
        return _entry(trade, situation)
    entries = trade.leg_orders(Leg.ENTRY)
    unsent_entry = next((o for o in entries if o.state is OrderState.UNSENT), None)
    if unsent_entry is not None:
        if trade.exit_wanted:
            return Refuse("the exit came before the entry reached the market")
        return _entry(trade, situation, unsent_entry)
    if not trade.exit_wanted:
        return NOTHING
    working_entry = next((o for o in entries if o.is_working), None)
    if working_entry is not None:
        if situation.now_ns - trade.cancel_sent_ns >= CANCEL_AGAIN_NS:
            return Cancel(working_entry.client_order_id)
        return NOTHING
    return _exit(trade, situation)


def _entry(trade: Trade, situation: Situation, again: Order | None = None) -> Decision:
    """Place the entry (or send an unsent one again), if it is fresh and risk allows it."""
    age_ns = situation.now_ns - (trade.entry_ts_ns or 0)
    if age_ns > situation.max_entry_age_ns:
        held = f" (held: {trade.hold})" if trade.hold else ""
        return Refuse(f"stale: the entry is {age_ns / NS:.1f} s old{held}")
    if situation.entries_blocked:
        return Refuse(situation.entries_blocked)
    stop = market.entry_stop(situation.market)
    if stop is not None:
        return Refuse(stop.reason, stop.rule)
    verdict = risk.check_entry(
        risk.EntryCheck(
            side=trade.side,
            quantity=trade.quantity if again is None else again.quantity,
            symbol=trade.symbol,
            account=trade.account,
            mode=situation.mode,
            gateway=situation.gateway,
            position=situation.exposure,
            account_exposure=situation.account_exposure,
            orders_in_window=situation.entries_in_window,
        ),
        situation.limits,
    )
    if verdict.verdict is risk.Verdict.WAIT:
        return Hold(verdict.reason)
    if verdict.verdict is risk.Verdict.REFUSE:
        return Refuse(f"risk: {verdict.reason}")
    if again is not None:  # the same request again: its price too
        return Place(replace(again, state=OrderState.SENDING, sent_ns=situation.now_ns))
    order = Order(
        client_order_id=client_order_id(trade.account, trade.entry_signal_id),
        leg=Leg.ENTRY,
        attempt=1,
        side=trade.side,
        quantity=trade.quantity,
        sent_ns=situation.now_ns,
    )
    protected = _protected(order, situation.protection)
    if protected is None:
        return Refuse(_unpriced(trade))
    return Place(protected)


def _exit(trade: Trade, situation: Situation) -> Decision:
    """Close what is open, unless something must hold the exit for now."""
    exits = trade.leg_orders(Leg.EXIT)
    if any(order.is_working for order in exits):
        return NOTHING  # its report decides what comes next
    unsent_exit = next((o for o in exits if o.state is OrderState.UNSENT), None)
    if trade.open_quantity == 0 and unsent_exit is None:
        return NOTHING  # flat: the phase says done
    held = _exit_hold(trade, situation)
    if held:
        return Hold(held)
    stop = market.exit_stop(situation.market)
    if stop is not None:
        return Hold(stop.reason, stop.rule)
    if situation.now_ns < trade.retry_at_ns:
        wait_s = (trade.retry_at_ns - situation.now_ns) / NS
        return Hold(f"{trade.problem or 'retrying'}; next attempt in {wait_s:.1f} s")
    if unsent_exit is not None:
        return Place(replace(unsent_exit, state=OrderState.SENDING, sent_ns=situation.now_ns))
    attempt = max((order.attempt for order in exits), default=0) + 1
    order = Order(
        client_order_id=client_order_id(trade.account, trade.exit_signal_id, attempt),
        leg=Leg.EXIT,
        attempt=attempt,
        side=trade.side.opposite,
        # Several attempts when the position is over the per-order limit (a flatten).
        quantity=min(trade.open_quantity, situation.limits.max_lots_per_order),
        sent_ns=situation.now_ns,
    )
    protected = _protected(order, situation.protection)
    if protected is None:
        return Hold(f"{_unpriced(trade)}: exit held")
    return Place(protected)


def _protected(order: Order, protection: Protection | None) -> Order | None:
    """A new order priced by its protection (unchanged for market orders); None when a
    protected order has no last price to be priced from."""
    if protection is None:
        return order
    if protection.last_price is None:
        return None
    price = limit_price(order.side, protection.last_price, protection.points)
    return replace(order, limit_price=price, protection_points=protection.points)


def _unpriced(trade: Trade) -> str:
    return f"protected order: no last price for {trade.symbol}"


def _exit_hold(trade: Trade, situation: Situation) -> str:
    """Why the exit must wait now for the executor's or the broker's state; empty if not."""
    if situation.mode is TradingMode.HALTED and not trade.flatten:
        return "trading mode is halted: exit held until resumed or flattened"
    if situation.gateway is risk.GatewayState.LOGGED_OUT:
        return "gateway reports the broker logged out: exit held until it is back"
    return ""
