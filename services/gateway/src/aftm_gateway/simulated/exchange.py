"""The simulated exchange both simulated brokers trade on: matching rules over a SQLite store.

Every order, fill and position change is committed before the call that made it returns, so
what a caller was told is what the exchange remembers after any crash; last prices may lag by up
to a second of trading (see `trade`). Order events (updates and fills) are queued for the
broker's `poll`, the way a real broker's callbacks would arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OrderStatus
from aftm.wire.protocol import OrderSnapshot, OrderUpdated
from aftm_gateway.broker import BrokerEvent
from aftm_gateway.errors import OrderNotFound
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.matching import (
    BookOrder,
    Rules,
    admit,
    apply_fill,
    cancel,
    fill,
    resting_fill_price,
)

INJECTED_REJECTION = "injected rejection"
PRICE_SAVE_INTERVAL_NS = 1_000_000_000


class Exchange:
    def __init__(
        self,
        store: ExchangeStore,
        rules: Rules,
        *,
        start_prices: Mapping[str, int] | None = None,
        reject_all: bool = False,
    ) -> None:
        self._store = store
        self.rules = rules
        self._reject_all = reject_all
        self._prices = {**(start_prices or {}), **store.last_prices()}
        self._resting = store.resting_symbols()
        self._events: list[BrokerEvent] = []
        self._unsaved: dict[str, int] = {}  # last prices traded since they were last written
        self._prices_due_ns = 0  # tick time at which unsaved prices are written

    def last_price(self, symbol: str) -> int | None:
        return self._prices.get(symbol)

    def last_prices(self) -> dict[str, int]:
        return dict(self._prices)

    def place(self, order: PlaceOrder, now_ns: int, *, match_now: bool = True) -> OrderSnapshot:
        """Record and answer `order`; filled at once if it can be.

        `match_now` False (before an open): a limit order rests whatever the last price, to be
        matched by the ticks after the open.
        """
        with self._store.transaction():
            broker_order_id = f"S{self._store.next_number('order'):08d}"
            booked = admit(
                order,
                broker_order_id,
                self.rules,
                self._prices.get(order.symbol) if match_now else None,
                now_ns,
                forced_reason=INJECTED_REJECTION if self._reject_all else "",
            )
            self._store.save_order(booked)
            filled = booked.status is OrderStatus.FILLED
            fill_event = self._record_fill(booked) if filled else None
        if booked.is_resting:
            self._resting.add(booked.symbol)
        if fill_event is not None:
            self._events.append(fill_event)
        self._events.append(OrderUpdated(booked.snapshot()))
        return booked.snapshot()

    def cancel(self, client_order_id: str, now_ns: int) -> OrderSnapshot:
        with self._store.transaction():
            order = self._store.order_by_note(client_order_id)
            if order is None:
                raise OrderNotFound(f"no order with client order id {client_order_id!r}")
            cancelled = cancel(order, now_ns)
            if cancelled != order:
                self._store.save_order(cancelled)
        if cancelled != order:
            self._events.append(OrderUpdated(cancelled.snapshot()))
        return cancelled.snapshot()

    def find(self, client_order_id: str) -> OrderSnapshot | None:
        order = self._store.order_by_note(client_order_id)
        return None if order is None else order.snapshot()

    def orders(self, accounts: Sequence[str]) -> tuple[OrderSnapshot, ...]:
        return tuple(order.snapshot() for order in self._store.orders(accounts))

    def positions(self, account: str) -> tuple[Position, ...]:
        return tuple(self._store.positions(account))

    def fills(self, accounts: Sequence[str], since_ns: int) -> tuple[OrderFilled, ...]:
        return tuple(self._store.fills(accounts, since_ns))

    def trade(self, ticks: Sequence[Tick]) -> list[BrokerEvent]:
        """Let the market trade `ticks`: each tick, then the fills and updates it caused.

        Fills are committed before this returns. Last prices alone are written at most every
        PRICE_SAVE_INTERVAL_NS of tick time (and with any fill): a commit per tick would cost
        the gateway loop more than a restart gains from a price a second fresher.
        """
        if not any(tick.symbol in self._resting for tick in ticks):
            for tick in ticks:
                self._prices[tick.symbol] = self._unsaved[tick.symbol] = tick.price
            if ticks and ticks[-1].ts_ns >= self._prices_due_ns:
                with self._store.transaction():
                    self._save_prices(ticks[-1].ts_ns)
            return list(ticks)
        events: list[BrokerEvent] = []
        with self._store.transaction():
            for tick in ticks:
                self._prices[tick.symbol] = self._unsaved[tick.symbol] = tick.price
                events.append(tick)
                if tick.symbol in self._resting:
                    events.extend(self._match(tick))
            self._save_prices(ticks[-1].ts_ns)
        return events

    @property
    def has_events(self) -> bool:
        return bool(self._events)

    def take_events(self) -> list[BrokerEvent]:
        """Order events from `place` and `cancel` since the last call."""
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        if self._unsaved:
            with self._store.transaction():
                self._save_prices(self._prices_due_ns)
        self._store.close()

    def _save_prices(self, now_ns: int) -> None:
        """Write the prices traded since the last save; the caller holds the transaction."""
        self._store.save_prices(self._unsaved)
        self._unsaved = {}
        self._prices_due_ns = now_ns + PRICE_SAVE_INTERVAL_NS

    def _match(self, tick: Tick) -> list[BrokerEvent]:
        events: list[BrokerEvent] = []
        still_resting = False
        for order in self._store.resting(tick.symbol):
            price = resting_fill_price(order, tick.price)
            if price is None:
                still_resting = True
                continue
            filled = fill(order, price, tick.ts_ns)
            self._store.save_order(filled)
            events.append(self._record_fill(filled))
            events.append(OrderUpdated(filled.snapshot()))
        if not still_resting:
            self._resting.discard(tick.symbol)
        return events

    def _record_fill(self, order: BookOrder) -> OrderFilled:
        """Write the fill and the position it moves; the caller holds the transaction."""
        assert order.average_price is not None  # noqa: S101 - a filled order has its price
        price = int(order.average_price)
        fill_event = OrderFilled(
            client_order_id=order.client_order_id,
            broker_order_id=order.broker_order_id,
            fill_id=f"{order.broker_order_id}-1",
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=order.average_price,
            ts_ns=order.ts_ns,
        )
        self._store.save_fill(fill_event)
        position = self._store.position(order.account, order.symbol)
        moved = apply_fill(position, order.account, order.symbol, order.side, order.quantity, price)
        self._store.save_position(moved)
        return fill_event
