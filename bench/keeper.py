"""Keeps about N conditions live in the strategy, through its control socket, that trade fast.

Each refill asks the gateway for the last prices and the strategy for its conditions, removes
the exited ones and adds fresh ones near the current price: a trigger on the near side (so it
triggers on the next tick), a small turning point (enters a few points later) and take profit /
stop loss a few points off (exits soon after). Buy and sell, trailing and fixed, and varied
points spread the orders over different ticks instead of firing them all on one: a cluster of
conditions on one level fires as one burst, and a burst queues at the executor.

A fixed condition may wait long to enter: the random walk can drift away from its entry level
for minutes, and such conditions pile up until few of the N trade. With `retire_after_s` a
condition that has not entered by then is removed and replaced (one that entered always stays:
removing it would leave its trade without an exit).
"""

from __future__ import annotations

import random
import time
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
    retired: int = 0  # removed before they entered (see retire_after_s)
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
        retire_after_s: float = 0.0,  # 0: never
    ) -> None:
        self._strategy = strategy
        self._gateway = gateway
        self._symbols = symbols
        self._target = target
        self._retire_after_s = retire_after_s
        self._seen: dict[str, float] = {}  # condition id -> when first added or seen (monotonic)
        # Not for security: a seeded mix makes bench runs comparable.
        self._rng = random.Random(seed)
        self._next_id = 0
        self.counts = KeeperCounts()

    def refill(self) -> None:
        """Replace exited (and retired) conditions so that `target` are live again."""
        prices = self._last_prices()
        conditions = self._conditions()
        live = 0
        now = time.monotonic()
        for condition in conditions:
            if condition.stage is Stage.EXITED or self._is_due_to_retire(condition, now):
                _expect_ok(self._strategy.request(RemoveCondition(condition.id)), "remove")
                self._seen.pop(condition.id, None)
                self.counts.removed += 1
                self.counts.retired += condition.stage is not Stage.EXITED
            else:
                live += 1
        for _ in range(self._target - live):
            fresh = self._fresh(prices)
            if fresh is None:
                break  # no prices yet (a broker that just started): the next refill adds them
            _expect_ok(self._strategy.request(AddCondition(fresh)), "add")
            self._seen[fresh.id] = now
            self.counts.added += 1
        self.counts.refills += 1

    def _is_due_to_retire(self, condition: Condition, now: float) -> bool:
        if not self._retire_after_s or condition.stage in (Stage.ENTERED, Stage.EXITED):
            return False
        return now - self._seen.setdefault(condition.id, now) > self._retire_after_s

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

    def _fresh(self, prices: dict[str, int]) -> Condition | None:
        """A new condition near the price, on the symbols in turn that have traded."""
        traded = [symbol for symbol in self._symbols if prices.get(symbol, 0) > 0]
        if not traded:
            return None
        rng = self._rng
        symbol = traded[self._next_id % len(traded)]
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
