"""Which symbols this strategy owns, and the ids its conditions carry: pure values, no sockets.

Several strategy processes ("shards") may share the market, each owning some symbols
(AFTM_STRATEGY_SHARD names it, AFTM_STRATEGY_SYMBOLS lists them). A shard subscribes only to
its symbols' ticks, refuses conditions on any other symbol, and accepts a new condition only
under an id starting with its name and "." : shard names hold no ".", so two shards can never
hold the same condition id, and their signal ids (condition id + stage) never collide at an
executor that receives them all. The console gives ids that shape (aftm_console.shards).

The unnamed shard (both settings empty) is the single strategy of before: every symbol, any id.
A store started as one and later opened as a named shard keeps its conditions and their ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aftm.domain.conditions import Condition
from aftm.wire.protocol import HEARTBEAT_TOPIC, TICK_TOPIC, ShardInfo, tick_topic

ID_SEPARATOR = "."


@dataclass(frozen=True, slots=True)
class Shard:
    name: str = ""  # checked by aftm.domain.limits.check_shard; "" is the unnamed shard
    symbols: tuple[str, ...] = ()  # empty: every symbol (only the unnamed shard)

    @property
    def id_prefix(self) -> str:
        """What every new condition id on this shard starts with; "" for the unnamed shard."""
        return f"{self.name}{ID_SEPARATOR}" if self.name else ""

    def owns(self, symbol: str) -> bool:
        return not self.symbols or symbol in self.symbols

    def topics(self) -> tuple[bytes, ...]:
        """The SUB subscriptions: this shard's symbols' ticks (all ticks when it owns every
        symbol) and the gateway's heartbeat."""
        if not self.symbols:
            return (TICK_TOPIC, HEARTBEAT_TOPIC)
        return (*(tick_topic(symbol) for symbol in self.symbols), HEARTBEAT_TOPIC)

    def refusal(self, condition: Condition) -> str:
        """Why this shard may not take a new `condition`; empty when it may."""
        if not self.owns(condition.symbol):
            return (
                f"shard {self.name!r} owns {', '.join(self.symbols)}, not {condition.symbol!r}:"
                " add it to the shard that owns it"
            )
        if not condition.id.startswith(self.id_prefix):
            return (
                f"on shard {self.name!r} a condition id starts with {self.id_prefix!r},"
                f" so that ids never repeat across shards; got {condition.id!r}"
            )
        return ""

    def strays(self, conditions: Iterable[Condition]) -> list[Condition]:
        """The stored conditions on symbols this shard does not own: they hear no ticks."""
        return [condition for condition in conditions if not self.owns(condition.symbol)]

    def info(self) -> ShardInfo:
        return ShardInfo(self.name, self.symbols)
