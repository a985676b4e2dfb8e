"""`SimBroker`: the embedded default broker, a random-walk market on the simulated exchange."""

from __future__ import annotations

import time
from collections.abc import Callable

from aftm.market.calendar import Calendar
from aftm.market.clock import MarketClock
from aftm_gateway.simulated.exchange import Exchange
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.hours import TaifexHours
from aftm_gateway.simulated.venue import ExchangeBroker, VenueConfig
from aftm_gateway.simulated.walk import RandomWalk

DEFAULT_START_PRICE = 23_000  # about where TAIEX futures traded when this was written


class SimBroker(ExchangeBroker):
    """Seeded random-walk ticks at `ticks_per_s` in total over the configured symbols.

    The walk resumes from the last prices in the exchange's store, so a restarted gateway
    continues the same market rather than jumping back to `start_price`.

    Given a `calendar`, it follows TAIFEX's sessions and price limits at `market_clock`'s
    instants (hours.py); without one it trades at any hour.
    """

    def __init__(
        self,
        store: ExchangeStore,
        config: VenueConfig,
        *,
        ticks_per_s: float,
        seed: int,
        start_price: int = DEFAULT_START_PRICE,
        clock: Callable[[], int] = time.time_ns,
        calendar: Calendar | None = None,
        market_clock: MarketClock | None = None,
    ) -> None:
        exchange = Exchange(
            store,
            config.rules,
            start_prices=dict.fromkeys(config.symbols, start_price),
            reject_all=config.reject_all,
        )
        feed = RandomWalk(
            config.symbols, exchange.last_prices(), ticks_per_s=ticks_per_s, seed=seed
        )
        hours = None
        if calendar is not None:
            hours = TaifexHours(
                calendar, market_clock or MarketClock(), config.symbols, exchange.last_prices()
            )
        super().__init__("sim", exchange, feed, config, clock=clock, hours=hours)
