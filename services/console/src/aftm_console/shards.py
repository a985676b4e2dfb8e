"""The strategy shards behind AFTM_CONSOLE_STRATEGY_CONNECT: who owns which symbol, and where
each condition lives.

Each strategy says which shard it is (GetShard -> ShardInfo, checked here as any value from the
wire). A new condition goes to the one shard owning its symbol, under an id starting with the
shard's name and "." (the shard refuses any other, see aftm_strategy.shard), so ids never
repeat across shards. A symbol no shard owns, or two shards owning one, is refused before
anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from aftm.domain import limits
from aftm.domain.conditions import Condition
from aftm.errors import InvalidInput
from aftm.wire.protocol import ConditionList, ErrorCode, GetShard, ShardInfo
from aftm_console.errors import ConsoleError, ServiceRefused
from aftm_console.paging import every_condition
from aftm_console.services import Service, Services

ID_SEPARATOR = "."  # as aftm_strategy.shard: a shard name holds none
MAX_SHARD_SYMBOLS = 256  # as aftm_strategy.settings: a longer answer is not a strategy's


@dataclass(frozen=True, slots=True)
class Shard:
    endpoint: str
    name: str  # "" for the single unsharded strategy
    symbols: tuple[str, ...]  # empty: every symbol

    @property
    def id_prefix(self) -> str:
        return f"{self.name}{ID_SEPARATOR}" if self.name else ""

    def owns(self, symbol: str) -> bool:
        return not self.symbols or symbol in self.symbols

    def label(self) -> str:
        owned = ", ".join(self.symbols) if self.symbols else "every symbol"
        return f"{self.name or '(unnamed)'} at {self.endpoint} ({owned})"


class ShardSetupError(ConsoleError):
    """The listed strategies contradict each other (two own one symbol, or share a name): fix
    their AFTM_STRATEGY_SHARD / AFTM_STRATEGY_SYMBOLS settings."""


def shards(services: Services) -> list[Shard]:
    """Every listed strategy's shard, in the order AFTM_CONSOLE_STRATEGY_CONNECT lists them."""
    found = [_ask_shard(services, endpoint) for endpoint in services.endpoints(Service.STRATEGY)]
    names = [shard.name for shard in found if shard.name]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ShardSetupError(f"two strategies call themselves shard {', '.join(twice)}")
    return found


def owner(found: list[Shard], symbol: str) -> Shard:
    """The one shard owning `symbol`; InvalidInput (exit 2) when none does."""
    owners = [shard for shard in found if shard.owns(symbol)]
    if not owners:
        listed = "; ".join(shard.label() for shard in found)
        raise InvalidInput("symbol", f"no strategy shard owns {symbol!r} (shards: {listed})")
    if len(owners) > 1:
        both = " and ".join(shard.label() for shard in owners)
        raise ShardSetupError(f"{symbol} is owned by {both}: a symbol needs exactly one owner")
    return owners[0]


def shard_id(shard: Shard, condition_id: str) -> str:
    """`condition_id` as `shard` accepts it: starting with its name and "."."""
    if condition_id.startswith(shard.id_prefix):
        return condition_id
    return limits.check_condition_id(shard.id_prefix + condition_id, "id")


def unprefixed(shard: Shard, condition_id: str) -> str:
    """`condition_id` without `shard`'s name: what a copy on another shard is named after."""
    return condition_id.removeprefix(shard.id_prefix) if shard.name else condition_id


def conditions_by_shard(
    services: Services, found: list[Shard], *, retries: int = 1, timeout_ms: int | None = None
) -> list[tuple[Shard, ConditionList]]:
    return [
        (
            shard,
            every_condition(
                services, retries=retries, timeout_ms=timeout_ms, endpoint=shard.endpoint
            ),
        )
        for shard in found
    ]


def holder(services: Services, found: list[Shard], condition_id: str) -> Shard | None:
    """The shard holding `condition_id`, or None."""
    for shard, listed in conditions_by_shard(services, found):
        if any(condition.id == condition_id for condition in listed.conditions):
            return shard
    return None


def where(pairs: list[tuple[Shard, ConditionList]]) -> list[tuple[Shard, Condition]]:
    return [(shard, condition) for shard, listed in pairs for condition in listed.conditions]


def _ask_shard(services: Services, endpoint: str) -> Shard:
    try:
        info = services.ask(Service.STRATEGY, GetShard(), ShardInfo, retries=1, endpoint=endpoint)
    except ServiceRefused as refused:
        if refused.code is ErrorCode.BAD_REQUEST:  # a build from before shards: it owns all
            return Shard(endpoint, "", ())
        raise
    try:
        return _checked(endpoint, info)
    except InvalidInput as invalid:
        why = f"at {endpoint} answered a bad ShardInfo: {invalid}"
        raise ServiceRefused("strategy", why) from None


def _checked(endpoint: str, info: ShardInfo) -> Shard:
    if info.shard:
        limits.check_shard(info.shard)
    elif info.symbols:
        raise InvalidInput("symbols", "an unnamed strategy owns every symbol, not a list")
    if len(info.symbols) > MAX_SHARD_SYMBOLS:
        raise InvalidInput("symbols", f"{len(info.symbols)} symbols; at most {MAX_SHARD_SYMBOLS}")
    for symbol in info.symbols:
        limits.check_symbol(symbol, "symbols")
    return Shard(endpoint, info.shard, tuple(info.symbols))
