"""`SimBroker`: the embedded default broker, a random-walk market on the simulated exchange."""

from __future__ import annotations

import time
from collections.abc import Callable

from aftm_gateway.simulated.exchange import Exchange
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.venue import ExchangeBroker, VenueConfig
from aftm_gateway.simulated.walk import RandomWalk

DEFAULT_START_PRICE = 23_000  # about where TAIEX futures traded when this was written


class SimBroker(ExchangeBroker):
    """Seeded random-walk ticks at `ticks_per_s` in total over the configured symbols.

    The walk resumes from the last prices in the exchange's store, so a restarted gateway
    continues the same market rather than jumping back to `start_price`.
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
        super().__init__("sim", exchange, feed, config, clock=clock)
