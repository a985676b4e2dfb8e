"""Signals: what the strategy asks the executor to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aftm.domain.types import Side


class SignalKind(StrEnum):
    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"

    @property
    def is_exit(self) -> bool:
        return self is not SignalKind.ENTRY


def signal_id(condition_id: str, kind: SignalKind) -> str:
    """The deterministic id of a condition's entry or exit signal.

    A condition enters once and exits once, so condition id + stage names a signal uniquely and
    identically after any restart; take-profit and stop-loss share the exit stage on purpose, so
    that a condition can never produce two exits that both look new.
    """
    stage = "exit" if kind.is_exit else "entry"
    return f"{condition_id}:{stage}"


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    condition_id: str
    symbol: str
    side: Side
    kind: SignalKind
    quantity: int
    price: int
    ts_ns: int
