"""Keeps about N conditions live in the strategy, through its control socket, that trade fast.

Each refill asks the gateway for the last prices and the strategy for its conditions, removes
the exited ones and adds fresh ones near the current price: a trigger on the near side (so it
triggers on the next tick), a small turning point (enters a few points later) and take profit /
stop loss a few points off (exits soon after). Buy and sell, trailing and fixed, and varied
points spread the orders over different ticks instead of firing them all on one: a cluster of
conditions on one level fires as one burst, and a burst queues at the executor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from aftm.domain.conditions import Condition, Stage
from aftm.domain.types import Side
from aftm.wire.protocol import (
    AddCondition,
    ConditionList,
    FutureList,
    ListConditions,
    ListFutures,
    RemoveCondition,
    Reply,
)
from aftm.wire.reliable import ReliableClient

# Requests answered from memory: safe to repeat on a timeout.
LIST_RETRIES = 2
MAX_OFFSET = 10  # points between the last price and a new trigger, at most


@dataclass
class KeeperCounts:
    added: int = 0
    removed: int = 0
    refills: int = 0


class ConditionKeeper:
    def __init__(
        self,
        strategy: ReliableClient,
        gateway: ReliableClient,
        *,
        symbols: tuple[str, ...],
        target: int,
        seed: int,
    ) -> None:
        self._strategy = strategy
        self._gateway = gateway
        self._symbols = symbols
        self._target = target
        # Not for security: a seeded mix makes bench runs comparable.
        self._rng = random.Random(seed)
        self._next_id = 0
        self.counts = KeeperCounts()

    def refill(self) -> None:
        """Replace exited conditions so that `target` are live again."""
        prices = self._last_prices()
        conditions = self._conditions()
        live = 0
        for condition in conditions:
            if condition.stage is Stage.EXITED:
                _expect_ok(self._strategy.request(RemoveCondition(condition.id)), "remove")
                self.counts.removed += 1
            else:
                live += 1
        for _ in range(self._target - live):
            condition = self._fresh(prices)
            _expect_ok(self._strategy.request(AddCondition(condition)), "add")
            self.counts.added += 1
        self.counts.refills += 1

    def _last_prices(self) -> dict[str, int]:
        reply = self._gateway.request(ListFutures(), retries=LIST_RETRIES)
        body = _expect_ok(reply, "list futures")
        if not isinstance(body, FutureList):
            raise RuntimeError(f"the gateway answered ListFutures with {body!r}")
        return {future.symbol: future.last_price for future in body.futures}

    def _conditions(self) -> tuple[Condition, ...]:
        reply = self._strategy.request(ListConditions(), retries=LIST_RETRIES)
        body = _expect_ok(reply, "list conditions")
        if not isinstance(body, ConditionList):
            raise RuntimeError(f"the strategy answered ListConditions with {body!r}")
        return body.conditions

    def _fresh(self, prices: dict[str, int]) -> Condition:
        rng = self._rng
        symbol = self._symbols[self._next_id % len(self._symbols)]
        action = rng.choice((Side.BUY, Side.SELL))
        # A buy triggers at or below its trigger, a sell at or above: on the near side it
        # triggers at once; the offset spreads the fixed conditions' entry levels apart.
        offset = rng.randint(0, MAX_OFFSET) * (1 if action is Side.BUY else -1)
        self._next_id += 1
        return Condition(
            id=f"bench-{self._next_id}",
            symbol=symbol,
            action=action,
            trigger_price=max(1, prices[symbol] + offset),
            quantity=1,
            turning_point=rng.randint(1, 4),
            take_profit_point=rng.randint(3, 8),
            stop_loss_point=rng.randint(3, 8),
            is_following=rng.random() < 0.5,
        )


def _expect_ok(reply: Reply, what: str) -> object:
    if not reply.ok:
        raise RuntimeError(f"{what} refused: {reply.error_code} {reply.error}")
    return reply.body
