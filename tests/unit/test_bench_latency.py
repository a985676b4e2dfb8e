"""The pipeline bench's summaries: exact nearest-rank percentiles of measured samples."""

from __future__ import annotations

import pytest

from bench.latency import percentile, summary


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0, 1), (0.01, 1), (0.5, 50), (0.99, 99), (0.991, 100), (1.0, 100)],
)
def test_a_percentile_is_a_measured_sample(fraction: float, expected: int) -> None:
    assert percentile(list(range(1, 101)), fraction) == expected


def test_a_summary_is_in_microseconds_from_unsorted_nanoseconds() -> None:
    samples = [3_000, 1_000, 2_000_000, 2_000]

    assert summary(samples) == {
        "samples": 4,
        "p50_us": 2.0,
        "p99_us": 2000.0,
        "max_us": 2000.0,
        "mean_us": 501.5,
    }


def test_no_samples_say_so_instead_of_failing() -> None:
    assert summary([]) == {"samples": 0}
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
