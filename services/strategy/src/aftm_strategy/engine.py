"""Many conditions over many symbols, evaluated per tick through a price-level index.

A condition can only change on a tick whose price crosses one of its thresholds (see
`_thresholds`), so each symbol keeps two heaps of thresholds: one that fires when the price rises
to a level, one when it falls to a level. A tick pops only the crossed levels, steps exactly
those conditions with the reference rules in `semantics.step`, and re-indexes them. Work per
tick is therefore proportional to the conditions that can change, not to all conditions.

Heap entries are never removed in place: a condition's version is bumped whenever it changes and
stale entries are skipped when they surface, with a rebuild when they outnumber live ones.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from aftm.domain.conditions import Condition, Stage
from aftm.domain.market import Tick
from aftm.domain.signals import Signal, signal_id
from aftm.domain.types import Side
from aftm.errors import InvalidInput
from aftm_strategy.semantics import step


class _Slot:
    """The engine's mutable holder for one condition; heap entries point at it."""

    __slots__ = ("condition", "order", "version")

    def __init__(self, condition: Condition, order: int) -> None:
        self.condition = condition
        self.order = order  # creation order: signals within one tick come out in this order
        self.version = 0


# (level, push sequence, slot version, slot). The unique push sequence keeps tuple comparison
# from ever reaching the slot.
_Entry = tuple[int, int, int, _Slot]


@dataclass(slots=True)
class _SymbolBook:
    rising: list[_Entry] = field(default_factory=list)  # fires when price >= level
    falling: list[_Entry] = field(default_factory=list)  # keyed -level: fires when price <= level
    live_entries: int = 0


def _thresholds(condition: Condition) -> tuple[list[int], list[int]]:
    """Levels at which `condition` may change: (fires at or above, fires at or below)."""
    stage, buying = condition.stage, condition.action is Side.BUY
    if stage is Stage.WAITING:
        return ([], [condition.trigger_price]) if buying else ([condition.trigger_price], [])
    if stage is Stage.TRIGGERED:
        # Entry, and (when trailing) a strictly better price that moves the trigger.
        if buying:
            trail = [condition.trigger_price - 1] if condition.is_trailing else []
            return [condition.order_price], trail
        trail = [condition.trigger_price + 1] if condition.is_trailing else []
        return trail, [condition.order_price]
    if stage is Stage.ENTERED:
        if buying:
            return [condition.take_profit_price], [condition.stop_loss_price]
        return [condition.stop_loss_price], [condition.take_profit_price]
    return [], []


class ConditionEngine:
    """Pure: conditions and ticks in, signals out. No clock, no I/O."""

    def __init__(self, conditions: Iterable[Condition] = ()) -> None:
        self._slots: dict[str, _Slot] = {}
        self._books: dict[str, _SymbolBook] = {}
        self._changed: dict[str, Condition] = {}
        self._order = itertools.count()
        self._push = itertools.count()
        for condition in conditions:
            self.add(condition)

    def add(self, condition: Condition) -> None:
        """Start watching `condition` (in whatever stage it is, e.g. restored from a store)."""
        if condition.id in self._slots:
            raise InvalidInput("id", f"condition {condition.id!r} already exists")
        slot = _Slot(condition, next(self._order))
        self._slots[condition.id] = slot
        self._index(self._books.setdefault(condition.symbol, _SymbolBook()), slot)

    def remove(self, condition_id: str) -> Condition:
        slot = self._slots.pop(condition_id, None)
        if slot is None:
            raise InvalidInput("id", f"no condition {condition_id!r}")
        book = self._books[slot.condition.symbol]
        book.live_entries -= len(_flatten(_thresholds(slot.condition)))
        slot.version += 1  # its heap entries are now stale
        return slot.condition

    def get(self, condition_id: str) -> Condition | None:
        slot = self._slots.get(condition_id)
        return None if slot is None else slot.condition

    def conditions(self) -> list[Condition]:
        return [slot.condition for slot in sorted(self._slots.values(), key=lambda s: s.order)]

    def on_tick(self, tick: Tick) -> list[Signal]:
        book = self._books.get(tick.symbol)
        if book is None:
            return []
        price = tick.price
        crossed = self._pop_crossed(book, price)
        if not crossed:
            return []
        signals: list[Signal] = []
        for slot in sorted(crossed, key=lambda s: s.order):
            before = slot.condition
            after, fired = step(before, price)
            book.live_entries -= len(_flatten(_thresholds(before)))
            slot.condition = after
            slot.version += 1
            if after is not before:
                self._changed[after.id] = after
            self._index(book, slot)
            if fired is not None:
                signals.append(
                    Signal(
                        id=signal_id(after.id, fired),
                        condition_id=after.id,
                        symbol=after.symbol,
                        side=after.action if not fired.is_exit else after.action.opposite,
                        kind=fired,
                        quantity=after.quantity,
                        price=price,
                        ts_ns=tick.ts_ns,
                    )
                )
        return signals

    def take_changes(self) -> list[Condition]:
        """Conditions whose stage or trigger changed since the last call: what a store persists."""
        changed, self._changed = list(self._changed.values()), {}
        return changed

    def _pop_crossed(self, book: _SymbolBook, price: int) -> set[_Slot]:
        crossed: set[_Slot] = set()
        rising, falling = book.rising, book.falling
        while rising and rising[0][0] <= price:
            _, _, version, slot = heapq.heappop(rising)
            if version == slot.version:
                crossed.add(slot)
        while falling and -falling[0][0] >= price:
            _, _, version, slot = heapq.heappop(falling)
            if version == slot.version:
                crossed.add(slot)
        return crossed

    def _index(self, book: _SymbolBook, slot: _Slot) -> None:
        rising_levels, falling_levels = _thresholds(slot.condition)
        for level in rising_levels:
            heapq.heappush(book.rising, (level, next(self._push), slot.version, slot))
        for level in falling_levels:
            heapq.heappush(book.falling, (-level, next(self._push), slot.version, slot))
        book.live_entries += len(rising_levels) + len(falling_levels)
        if len(book.rising) + len(book.falling) > 2 * book.live_entries + 64:
            book.rising = [e for e in book.rising if e[2] == e[3].version]
            book.falling = [e for e in book.falling if e[2] == e[3].version]
            heapq.heapify(book.rising)
            heapq.heapify(book.falling)


def _flatten(levels: tuple[list[int], list[int]]) -> list[int]:
    return levels[0] + levels[1]
