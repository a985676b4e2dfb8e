"""`ExchangeBroker`: the Broker port over the simulated exchange, fed by any tick source.

The sim and replay brokers are this class with different feeds, so both trade, fill and keep
state the same way. Besides the session it holds the test-only fault injection: a reply delay
(the order is recorded, then the answer takes this long), which past the broker timeout becomes
BrokerUnavailable, exactly the window in which a real broker leaves an order's fate unknown.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.errors import InvalidInput
from aftm.market.products import product_of
from aftm.wire.protocol import Future, OrderSnapshot
from aftm_gateway.broker import FILL_HISTORY_NS, BrokerEvent, unsent
from aftm_gateway.errors import BrokerRejected, BrokerUnavailable, NotLoggedIn
from aftm_gateway.simulated.exchange import Exchange
from aftm_gateway.simulated.hours import AlwaysOpen, TradingHours
from aftm_gateway.simulated.matching import Rules

# How often the market's hours are read to pause or resume the ticks: reading them costs a
# calendar look-up per symbol, too much for every turn of the loop.
HOURS_CHECK_NS = 200_000_000


class TickFeed(Protocol):
    """Where the market's trades come from: a random walk or a recorded file."""

    def start(self, now_ns: int) -> None:
        """Begin producing ticks (called at every login; only the first one counts)."""
        ...

    def due(self, now_ns: int) -> list[Tick]: ...

    def next_due_ns(self) -> int | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """What a simulated broker lists and accepts, and the faults it injects for tests."""

    symbols: tuple[str, ...]
    accounts: tuple[str, ...]
    user: str
    password: SecretStr
    max_quantity: int = 100
    reply_timeout_ms: int = 5000
    reply_delay_ms: int = 0
    reject_all: bool = False

    @property
    def rules(self) -> Rules:
        return Rules(frozenset(self.symbols), frozenset(self.accounts), self.max_quantity)


class ExchangeBroker:
    def __init__(
        self,
        name: str,
        exchange: Exchange,
        feed: TickFeed,
        config: VenueConfig,
        *,
        clock: Callable[[], int] = time.time_ns,
        hours: TradingHours | None = None,
    ) -> None:
        self._name = name
        self._hours = hours or AlwaysOpen(config.symbols)
        self._trading: frozenset[str] = frozenset(config.symbols)  # as of the last hours check
        self._hours_due_ns = 0
        self._exchange = exchange
        self._feed = feed
        self._credentials = (config.user.encode(), config.password.get_secret_value().encode())
        self._reply_timeout_ms = config.reply_timeout_ms
        self._reply_delay_ms = config.reply_delay_ms
        self._clock = clock
        self._logged_in = False
        self._registered: set[str] = set()

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_logged_in(self) -> bool:
        return self._logged_in

    @property
    def hours(self) -> TradingHours:
        return self._hours

    def login(self, user: str, password: str) -> None:
        expected_user, expected_password = self._credentials
        user_ok = hmac.compare_digest(user.encode(), expected_user)
        password_ok = hmac.compare_digest(password.encode(), expected_password)
        if not (user_ok and password_ok):
            raise BrokerRejected("login refused: unknown user or wrong password")
        self._logged_in = True
        self._feed.start(self._clock())

    def logout(self) -> None:
        self._logged_in = False

    def accounts(self) -> tuple[str, ...]:
        self._require_session()
        return tuple(sorted(self._exchange.rules.accounts))

    def futures(self) -> tuple[Future, ...]:
        return tuple(self._future(symbol) for symbol in sorted(self._exchange.rules.symbols))

    def register(self, symbol: str) -> None:
        self._registered.add(self._known(symbol))

    def unregister(self, symbol: str) -> None:
        self._registered.discard(self._known(symbol))

    def place(self, order: PlaceOrder) -> OrderSnapshot:
        if not self._logged_in:
            return unsent(order, "not logged in", self._clock())
        refused = self._hours.refusal(order)
        if refused is not None:
            return unsent(order, refused, self._clock())
        matches = self._hours.matches_now(order.symbol)
        snapshot = self._exchange.place(order, self._clock(), match_now=matches)
        if self._reply_delay_ms:
            self._answer_late()
        return snapshot

    def cancel(self, client_order_id: str, *, sent_ns: int | None = None) -> OrderSnapshot:
        self._require_session()
        return self._exchange.cancel(client_order_id, self._clock())

    def find_order(
        self, client_order_id: str, *, sent_ns: int | None = None
    ) -> OrderSnapshot | None:
        """Always definitive (`sent_ns` does not matter): the exchange records an order before
        `place` returns or times out, so one it does not hold never reached it."""
        self._require_session()
        return self._exchange.find(client_order_id)

    def orders(self) -> tuple[OrderSnapshot, ...]:
        self._require_session()
        return self._exchange.orders(self.accounts())

    def positions(self, account: str) -> tuple[Position, ...]:
        if account not in self.accounts():
            raise InvalidInput("account", f"{account!r} is not an account of this session")
        return self._exchange.positions(account)

    def fills(self, since_ns: int = 0) -> tuple[OrderFilled, ...]:
        self._require_session()
        since_ns = max(since_ns, self._clock() - FILL_HISTORY_NS)
        return self._exchange.fills(self.accounts(), since_ns)

    def poll(self, now_ns: int) -> list[BrokerEvent]:
        events = self._exchange.take_events()
        self._check_hours(now_ns)
        if not self._trading:
            return events  # the market is closed: the feed waits, and resumes at the open
        ticks = [tick for tick in self._feed.due(now_ns) if tick.symbol in self._trading]
        if ticks:
            events.extend(event for event in self._exchange.trade(ticks) if self._delivers(event))
        return events

    def next_event_ns(self) -> int | None:
        if self._exchange.has_events:
            return 0
        return self._feed.next_due_ns() if self._trading else self._hours_due_ns

    def close(self) -> None:
        self._feed.close()
        self._exchange.close()

    def _check_hours(self, now_ns: int) -> None:
        if now_ns < self._hours_due_ns:
            return
        self._hours_due_ns = now_ns + HOURS_CHECK_NS
        self._hours.follow(self._exchange.last_prices())
        self._trading = frozenset(
            symbol for symbol in self._exchange.rules.symbols if self._hours.is_trading(symbol)
        )

    def _delivers(self, event: BrokerEvent) -> bool:
        if not isinstance(event, Tick):
            return True
        return self._logged_in and event.symbol in self._registered

    def _require_session(self) -> None:
        if not self._logged_in:
            raise NotLoggedIn("not logged in to the broker")

    def _known(self, symbol: str) -> str:
        if symbol not in self._exchange.rules.symbols:
            listed = ", ".join(sorted(self._exchange.rules.symbols))
            raise InvalidInput("symbol", f"{symbol!r} is not listed here ({listed})")
        return symbol

    def _future(self, symbol: str) -> Future:
        product = product_of(symbol)
        return Future(
            symbol=symbol,
            name=product.name,
            point_value_twd=product.point_value_twd,
            last_price=self._exchange.last_price(symbol) or 0,
            registered=symbol in self._registered,
        )

    def _answer_late(self) -> None:
        """Fault injection: the order is recorded; the answer is late, or never comes."""
        if self._reply_delay_ms < self._reply_timeout_ms:
            time.sleep(self._reply_delay_ms / 1000)
            return
        time.sleep(self._reply_timeout_ms / 1000)
        raise BrokerUnavailable(f"{self._name} did not answer within {self._reply_timeout_ms} ms")
