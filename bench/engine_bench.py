"""Engine throughput: the price-level index against scanning conditions, in the same run.

Prints ticks/s for 1, 100 and 10,000 conditions over 20 symbols (ticks already in memory, engine
only), beside two baselines that step conditions with the same reference rules:
  scan-all:    every condition on every tick (what the seed did, symbol check included);
  scan-symbol: every condition of the tick's symbol on every tick.
The baselines run on a prefix of the same tick stream (they are slow) and their signals are
checked against the engine's on that prefix, so the figures compare equal work.

    .venv/bin/python bench/engine_bench.py [--ticks N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable

from aftm.domain.conditions import Condition
from aftm.domain.market import Tick
from aftm.domain.signals import Signal, signal_id
from aftm.domain.types import Side
from aftm_strategy.engine import ConditionEngine
from aftm_strategy.semantics import step

SYMBOLS = [f"S{i:02d}" for i in range(20)]
START_PRICE = 23_000
BASELINE_BUDGET_S = 2.0


def make_ticks(count: int, seed: int) -> list[Tick]:
    rng = random.Random(seed)
    prices = dict.fromkeys(SYMBOLS, START_PRICE)
    ticks = []
    for ts in range(count):
        symbol = rng.choice(SYMBOLS)
        prices[symbol] += rng.choice((-3, -2, -1, -1, 0, 1, 1, 2, 3))
        ticks.append(Tick(symbol=symbol, price=prices[symbol], qty=1, ts_ns=ts))
    return ticks


def make_conditions(count: int, seed: int) -> list[Condition]:
    rng = random.Random(seed)
    return [
        Condition(
            id=f"c{i}",
            symbol=SYMBOLS[i % len(SYMBOLS)],
            action=rng.choice(list(Side)),
            trigger_price=START_PRICE + rng.randint(-250, 250),
            quantity=rng.randint(1, 3),
            is_following=rng.random() < 0.3,
        )
        for i in range(count)
    ]


def run_engine(conditions: list[Condition], ticks: list[Tick]) -> list[Signal]:
    engine = ConditionEngine(conditions)
    on_tick = engine.on_tick
    signals: list[Signal] = []
    for tick in ticks:
        fired = on_tick(tick)
        if fired:
            signals.extend(fired)
    return signals


def _scan(
    groups: Callable[[Tick], list[int]], current: list[Condition], ticks: list[Tick]
) -> list[Signal]:
    signals: list[Signal] = []
    for tick in ticks:
        for i in groups(tick):
            condition = current[i]
            if condition.symbol != tick.symbol:
                continue
            current[i], fired = step(condition, tick.price)
            if fired is not None:
                side = condition.action.opposite if fired.is_exit else condition.action
                signals.append(
                    Signal(
                        signal_id(condition.id, fired),
                        condition.id,
                        condition.symbol,
                        side,
                        fired,
                        condition.quantity,
                        tick.price,
                        tick.ts_ns,
                    )
                )
    return signals


def scan_all(conditions: list[Condition], ticks: list[Tick]) -> list[Signal]:
    everything = list(range(len(conditions)))
    return _scan(lambda _tick: everything, list(conditions), ticks)


def scan_symbol(conditions: list[Condition], ticks: list[Tick]) -> list[Signal]:
    by_symbol: dict[str, list[int]] = defaultdict(list)
    for i, condition in enumerate(conditions):
        by_symbol[condition.symbol].append(i)
    return _scan(lambda tick: by_symbol[tick.symbol], list(conditions), ticks)


def timed(
    run: Callable[[list[Condition], list[Tick]], list[Signal]],
    conditions: list[Condition],
    ticks: list[Tick],
) -> tuple[float, list[Signal]]:
    started = time.perf_counter()
    signals = run(conditions, ticks)
    return len(ticks) / (time.perf_counter() - started), signals


def prefix_for_budget(
    run: Callable[[list[Condition], list[Tick]], list[Signal]],
    conditions: list[Condition],
    ticks: list[Tick],
) -> list[Tick]:
    """The longest prefix a baseline can get through in about BASELINE_BUDGET_S."""
    probe = ticks[:200]
    rate, _ = timed(run, conditions, probe)
    return ticks[: max(len(probe), min(len(ticks), int(rate * BASELINE_BUDGET_S)))]


def measure(count: int, ticks: list[Tick]) -> dict[str, float | int]:
    conditions = make_conditions(count, seed=count)
    engine_rate, engine_signals = timed(run_engine, conditions, ticks)
    row: dict[str, float | int] = {
        "conditions": count,
        "ticks": len(ticks),
        "signals": len(engine_signals),
        "engine_ticks_per_s": engine_rate,
    }
    for name, baseline in (("scan_all", scan_all), ("scan_symbol", scan_symbol)):
        prefix = prefix_for_budget(baseline, conditions, ticks)
        rate, signals = timed(baseline, conditions, prefix)
        if signals != run_engine(conditions, prefix):
            raise SystemExit(f"engine and {name} disagree on {count} conditions")
        row[f"{name}_ticks_per_s"] = rate
        row[f"{name}_ticks"] = len(prefix)
        row[f"speedup_vs_{name}"] = engine_rate / rate
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--ticks", type=int, default=400_000)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )
    args = parser.parse_args()
    ticks = make_ticks(args.ticks, seed=1)
    rows = [measure(count, ticks) for count in (1, 100, 10_000)]
    if args.json:
        print(json.dumps({"symbols": len(SYMBOLS), "results": rows}, indent=2))
        return
    print(
        f"{len(SYMBOLS)} symbols, engine over {args.ticks:,} ticks in memory; baselines on a prefix"
    )
    print(
        f"{'conditions':>10} {'signals':>8} {'engine t/s':>12} {'scan-all t/s':>13} "
        f"{'x':>7} {'scan-symbol t/s':>16} {'x':>7}"
    )
    for r in rows:
        print(
            f"{r['conditions']:>10,} {r['signals']:>8,} {r['engine_ticks_per_s']:>12,.0f} "
            f"{r['scan_all_ticks_per_s']:>13,.0f} {r['speedup_vs_scan_all']:>7.1f} "
            f"{r['scan_symbol_ticks_per_s']:>16,.0f} {r['speedup_vs_scan_symbol']:>7.1f}"
        )


if __name__ == "__main__":
    main()
