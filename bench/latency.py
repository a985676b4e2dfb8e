"""Exact latency summaries from per-sample nanoseconds (no histogram buckets)."""

from __future__ import annotations

import math
from collections.abc import Sequence

NS_PER_US = 1_000


def percentile(ordered: Sequence[int], fraction: float) -> int:
    """The nearest-rank percentile of already sorted samples: a value that was measured."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(samples_ns: Sequence[int]) -> dict[str, float | int]:
    """Sample count and p50/p99/max (plus mean) in microseconds."""
    if not samples_ns:
        return {"samples": 0}
    ordered = sorted(samples_ns)
    return {
        "samples": len(ordered),
        "p50_us": _us(percentile(ordered, 0.50)),
        "p99_us": _us(percentile(ordered, 0.99)),
        "max_us": _us(ordered[-1]),
        "mean_us": _us(round(sum(ordered) / len(ordered))),
    }


def _us(value_ns: int) -> float:
    return round(value_ns / NS_PER_US, 1)
