"""Write examples/ticks.csv: a deterministic day of TXFL6 and MXFL6 ticks for the demo.

Both contracts follow one index (they are the same TAIEX future in different sizes), each print
a point or two off it. The index is a random walk whose drift changes every few hundred ticks,
so the day has trends for conditions to catch and reversals to stop them out. Times are naive
ISO-8601, i.e. Taiwan time, through the day session from 08:45. Standard library only; the fixed
seed makes every run write the same file:

    python examples/make_sample.py
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

SEED = 20261102
ROWS = 5_000
START = datetime(2026, 11, 2, 8, 45)  # a Monday, the day session's open
OPEN_PRICE = 23_000


def ticks(rng: random.Random) -> list[tuple[str, str, int, int]]:
    index, drift, at = float(OPEN_PRICE), 0.0, START
    rows = []
    for n in range(ROWS):
        if n % 400 == 0:  # a new regime: trending up, down or sideways
            drift = rng.choice([-0.6, -0.3, 0.0, 0.3, 0.6])
        index += drift + rng.gauss(0.0, 2.5)
        at += timedelta(milliseconds=rng.randint(200, 6_000))
        symbol = "TXFL6" if rng.random() < 0.6 else "MXFL6"
        price = round(index) + rng.randint(-1, 1)
        qty = rng.randint(1, 10) if symbol == "TXFL6" else rng.randint(1, 20)
        rows.append((at.isoformat(timespec="milliseconds"), symbol, price, qty))
    return rows


def main() -> None:
    rng = random.Random(SEED)  # noqa: S311 - sample data, not secrets
    path = Path(__file__).with_name("ticks.csv")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["ts", "symbol", "price", "qty"])
        writer.writerows(ticks(rng))


if __name__ == "__main__":
    main()
