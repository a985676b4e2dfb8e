"""When the simulated exchange trades: at any hour (the default), or by TAIFEX's rules.

`AlwaysOpen` keeps the sim trading around the clock, so `aftm run --demo` works at any hour; it
says so in its MarketSession (calendar "always_open", every product regular).

`TaifexHours` (AFTM_GATEWAY_SIM_CALENDAR=taifex) asks aftm.market's rules at the MarketClock's
instant (real, or the fake one AFTM_MARKET_CLOCK_START starts) for each order's contract:
- closed: every order is refused, "market closed (TXFL6): next open 2026-12-02T15:00+08:00",
  and the walk pauses (no ticks);
- pre-open (the 10 minutes before an open): TAIFEX only collects orders for its opening call
  auction, which the sim does not hold. A market order, or an IOC/FOK limit, could only fill at
  a price that does not exist yet, so they are refused; a ROD limit order is accepted and rests
  unmatched until the first tick after the open;
- a limit price outside the daily price limits (±10%, aftm.market.price_limits) of the
  reference price is refused. TAIFEX's reference is the previous regular session's settlement
  price; the sim settles nothing, so its reference is the last price it held when the gateway
  started (the start price on a fresh exchange store), then the last price traded at each close.
Refused orders never reach the exchange: nothing is recorded there, as with a real broker
refusing an order before sending it on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderType, TimeInForce
from aftm.errors import AftmError
from aftm.market.calendar import Calendar
from aftm.market.clock import MarketClock
from aftm.market.contracts import contract_of, last_trading_day
from aftm.market.price_limits import daily_price_limits
from aftm.market.products import product_of
from aftm.market.sessions import TAIPEI, MarketState, Phase, next_close, next_open, state_at
from aftm.wire.protocol import MarketSession, ProductSession
from aftm_gateway.market_session import MARKET_CLOSED, PRE_OPEN, PRICE_LIMIT

NS_PER_S = 1_000_000_000
TRADING = frozenset({Phase.REGULAR, Phase.AFTER_HOURS})


class TradingHours(Protocol):
    """What the simulated exchange asks before it takes an order or lets the market trade."""

    @property
    def calendar(self) -> str:
        """ "always_open", "taifex" or "replay": MarketSession.calendar."""
        ...

    def refusal(self, order: PlaceOrder) -> str | None:
        """Why the market refuses `order` now, or None."""
        ...

    def matches_now(self, symbol: str) -> bool:
        """False while an accepted order may only rest (pre-open)."""
        ...

    def is_trading(self, symbol: str) -> bool:
        """Whether the market of `symbol` trades now (ticks flow)."""
        ...

    def follow(self, last_prices: Mapping[str, int]) -> None:
        """Called as the market runs: moves the reference price at each close."""
        ...

    def session(self, ts_ns: int) -> MarketSession: ...


class AlwaysOpen:
    calendar = "always_open"

    def __init__(self, symbols: Sequence[str]) -> None:
        self._products = sorted({product_of(symbol).code for symbol in symbols})

    def refusal(self, order: PlaceOrder) -> str | None:
        return None

    def matches_now(self, symbol: str) -> bool:
        return True

    def is_trading(self, symbol: str) -> bool:
        return True

    def follow(self, last_prices: Mapping[str, int]) -> None:
        """Nothing closes, so the reference never moves."""

    def session(self, ts_ns: int) -> MarketSession:
        products = tuple(ProductSession(code, Phase.REGULAR.value, 0, 0) for code in self._products)
        return MarketSession(self.calendar, products, ts_ns)


class TaifexHours:
    calendar = "taifex"

    def __init__(
        self,
        calendar: Calendar,
        clock: MarketClock,
        symbols: Sequence[str],
        references: Mapping[str, int],
    ) -> None:
        self._calendar = calendar
        self._clock = clock
        self._references = {symbol: references[symbol] for symbol in symbols}
        self._trading = {symbol: self.is_trading(symbol) for symbol in symbols}
        # A product's session is the one of its nearest contract the sim lists.
        self._by_product: dict[str, str] = {}
        for symbol in sorted(symbols, key=lambda listed: self._expiry(listed, clock.now())):
            self._by_product.setdefault(product_of(symbol).code, symbol)

    def reference(self, symbol: str) -> int:
        return self._references[symbol]

    def refusal(self, order: PlaceOrder) -> str | None:
        if order.symbol not in self._trading:
            return None  # the exchange's own check names the unknown symbol
        now = self._clock.now()
        state = self._state(order.symbol, now)
        if state.phase is Phase.CLOSED:
            opens = self._next_open(order.symbol, now)
            when = f"next open {_minute(opens)}" if opens else "no session ahead"
            return f"{MARKET_CLOSED} ({order.symbol}): {when}"
        if state.phase is Phase.PRE_OPEN and not _may_rest(order):
            at = _minute(state.session.opens) if state.session else "soon"
            return (
                f"{PRE_OPEN} ({order.symbol}): only ROD limit orders are taken before the"
                f" open at {at}"
            )
        if order.order_type is OrderType.LIMIT and order.price is not None:
            limits = daily_price_limits(self._references[order.symbol])
            if not _admits(limits.lower, limits.upper, order.price):
                return (
                    f"limit price {order.price} {PRICE_LIMIT} {limits.lower}-{limits.upper}"
                    f" ({order.symbol}, reference {limits.reference})"
                )
        return None

    def matches_now(self, symbol: str) -> bool:
        return self._state(symbol, self._clock.now()).phase in TRADING

    def is_trading(self, symbol: str) -> bool:
        return self._state(symbol, self._clock.now()).phase in TRADING

    def follow(self, last_prices: Mapping[str, int]) -> None:
        for symbol, was_trading in self._trading.items():
            trading = self._trading[symbol] = self.is_trading(symbol)
            if was_trading and not trading and symbol in last_prices:
                self._references[symbol] = last_prices[symbol]

    def session(self, ts_ns: int) -> MarketSession:
        return self.session_at(self._clock.now(), ts_ns)

    def session_at(self, now: datetime, ts_ns: int, calendar: str = "") -> MarketSession:
        """Each product's phase at `now`, by its nearest listed contract."""
        products = tuple(
            ProductSession(
                product,
                self._state(symbol, now).phase.value,
                _ns(self._next_open(symbol, now)),
                _ns(self._next_close(symbol, now)),
            )
            for product, symbol in sorted(self._by_product.items())
        )
        return MarketSession(calendar or self.calendar, products, ts_ns)

    def _state(self, symbol: str, now: datetime) -> MarketState:
        return state_at(self._calendar, now, self._expiry(symbol, now))

    def _next_open(self, symbol: str, now: datetime) -> datetime | None:
        try:
            return next_open(self._calendar, now, self._expiry(symbol, now))
        except AftmError:  # expired, or beyond the holiday file
            return None

    def _next_close(self, symbol: str, now: datetime) -> datetime | None:
        try:
            return next_close(self._calendar, now, self._expiry(symbol, now))
        except AftmError:
            return None

    def _expiry(self, symbol: str, now: datetime) -> date:
        contract = contract_of(symbol, now.astimezone(TAIPEI).date())
        return last_trading_day(self._calendar, contract.delivery)


def _may_rest(order: PlaceOrder) -> bool:
    return order.order_type is OrderType.LIMIT and order.time_in_force is TimeInForce.ROD


def _admits(lower: int, upper: int, price: Decimal) -> bool:
    return lower <= price <= upper


def _minute(at: datetime) -> str:
    return at.astimezone(TAIPEI).isoformat(timespec="minutes")


def _ns(at: datetime | None) -> int:
    return 0 if at is None else round(at.timestamp() * NS_PER_S)


class ReplayHours:
    """A replay trades whatever the file holds, at any hour; its session is the one at the
    recorded time of the tick last played (or the next one, before the first), by TAIFEX's
    calendar. Recorded times outside the holiday file give no products."""

    calendar = "replay"

    def __init__(
        self, calendar: Calendar, symbols: Sequence[str], recorded_ns: Callable[[], int | None]
    ) -> None:
        self._recorded_ns = recorded_ns
        try:
            self._rules: TaifexHours | None = TaifexHours(
                calendar, MarketClock(), symbols, dict.fromkeys(symbols, 1)
            )
        except AftmError:  # today lies beyond the holiday file: no sessions to tell
            self._rules = None

    def refusal(self, order: PlaceOrder) -> str | None:
        return None

    def matches_now(self, symbol: str) -> bool:
        return True

    def is_trading(self, symbol: str) -> bool:
        return True

    def follow(self, last_prices: Mapping[str, int]) -> None:
        """The file decides when the market trades; there is no reference to move."""

    def session(self, ts_ns: int) -> MarketSession:
        recorded_ns = self._recorded_ns()
        if recorded_ns is None or self._rules is None:
            return MarketSession(self.calendar, (), ts_ns)
        at = datetime.fromtimestamp(recorded_ns / NS_PER_S, TAIPEI)
        try:
            return self._rules.session_at(at, ts_ns, self.calendar)
        except AftmError:  # recorded before or after the holiday file
            return MarketSession(self.calendar, (), ts_ns)
