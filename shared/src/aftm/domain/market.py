"""Market data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade print. Prices are whole points (TAIFEX index futures trade in 1-point steps).

    `seq` is the publisher's per-symbol sequence number (0 when the tick did not come over the
    wire, e.g. from a file) so subscribers can count gaps.
    """

    symbol: str
    price: int
    qty: int
    ts_ns: int
    seq: int = 0
