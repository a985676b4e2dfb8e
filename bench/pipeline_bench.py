"""End-to-end latency of the live pipeline beside the raw pyzmq floor, measured in the same run.

Pipeline: tick_to_ack = executor's `acked_ns` (the gateway's reply accepting the order was read)
minus the signal's `ts_ns` (the gateway's publish stamp of the tick that fired it), per order,
read from the executor journal after the run. Its three legs, from the same journals (one host,
one clock): tick to the executor's `received_ns` (gateway PUB, strategy, PUSH), then to the
gateway journal's `begun_ns` (the executor's decision and journal, the request hop), then to
`acked_ns` (the gateway and the sim broker, the reply hop).
The three real services run on 127.0.0.1 with the sim broker at --rate ticks/s; the bench
keeps --conditions live conditions that trade fast through the strategy's control socket,
replacing exited ones every --refill-s seconds (see keeper.py), spread over twelve contracts:
conditions crowded on one price level fire on the same tick, a burst that the executor sends
without waiting for each reply but that the gateway answers one by one.
The executor's risk limits are raised (see `config.executor_limits` in the output) so that the
bench measures latency, not the order-rate limiter.

The pipeline runs twice in the session: with CURVE on every socket, as shipped (the figures the
targets judge), then on plain TCP (the services' INSECURE switch) for comparison; --skip-plain
leaves the second out.

Floor: the same three hops with bare pyzmq in three processes at the same rate (zmq_floor.py).

    .venv/bin/python bench/pipeline_bench.py [--seconds 30] [--table]

JSON on stdout; progress and the --table summary on stderr. Targets: pipeline p50 at most
2.5x the floor's p50, pipeline p99 under 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import zmq

from aftm.domain.signals import Signal
from aftm.wire.codec import decode
from aftm.wire.reliable import RequestTimedOut

if not __package__:  # run as a script (bench/pipeline_bench.py): its helpers are bench.*
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.keeper import ConditionKeeper
from bench.latency import summary
from bench.pipeline_rig import RigConfig, Services, executor_journal, gateway_journal
from bench.zmq_floor import measure_floor

MONTHS = ("J6", "K6", "L6", "A7")
P50_RATIO_TARGET = 2.5
P99_TARGET_US = 5_000.0
DRAIN_S = 1.0  # after the window: orders in flight finish before the services stop
REQUEST_TIMEOUT_MS = 3000
# Four months of each simulated product: a trader's conditions spread over several contracts.
SYMBOLS = tuple(f"{product}{month}" for product in ("TXF", "MXF", "TMF") for month in MONTHS)
EXECUTOR_LIMITS = {
    "AFTM_EXECUTOR_MAX_ORDERS_PER_MINUTE": "1000000",
    "AFTM_EXECUTOR_MAX_NET_POSITION": "1000000",
    "AFTM_EXECUTOR_MAX_ACCOUNT_LOTS_TX": "10000",
    "AFTM_EXECUTOR_DAILY_LOSS_LIMIT_TWD": "0",
    "AFTM_EXECUTOR_MAX_LOTS_PER_ORDER": "10",
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Run:
    """What the pipeline run saw, besides the journal: the window and the services' counters."""

    window: tuple[int, int]  # epoch ns: signals of ticks published in here are measured
    ticks_published: float
    tick_gaps: float
    conditions_added: int
    exit_codes: dict[str, int | None]


def drive(args: argparse.Namespace, folder: Path, *, curve: bool) -> Run:
    """Start the services, keep conditions firing through the warm-up and the window, stop."""
    config = RigConfig(
        folder=folder,
        ticks_per_s=args.rate,
        symbols=tuple(args.symbols.split(",")),
        log_level=args.log_level,
        executor_limits=EXECUTOR_LIMITS,
        curve=curve,
    )
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with Services(config) as rig:
            strategy = rig.client(context, "strategy", timeout_ms=REQUEST_TIMEOUT_MS)
            gateway = rig.client(context, "gateway", timeout_ms=REQUEST_TIMEOUT_MS)
            keeper = ConditionKeeper(
                strategy, gateway, symbols=config.symbols, target=args.conditions, seed=args.seed
            )
            progress(f"pipeline: services up in {folder}; warming up {args.warmup} s")
            keep_for(keeper, args.warmup, args.refill_s)
            before = rig.metrics("gateway"), rig.metrics("strategy")
            start = time.time_ns()
            progress(f"pipeline: measuring {args.seconds} s")
            keep_for(keeper, args.seconds, args.refill_s)
            end = time.time_ns()
            after = rig.metrics("gateway"), rig.metrics("strategy")
            time.sleep(DRAIN_S)
            strategy.close()
            gateway.close()
            exit_codes = rig.stop()
    finally:
        context.destroy(linger=0)
    return Run(
        window=(start, end),
        ticks_published=after[0][TICKS_PUBLISHED] - before[0][TICKS_PUBLISHED],
        tick_gaps=after[1][SEQUENCE_GAPS] - before[1][SEQUENCE_GAPS],
        conditions_added=keeper.counts.added,
        exit_codes=exit_codes,
    )


def measure_pipeline(args: argparse.Namespace, folder: Path, *, curve: bool) -> dict[str, object]:
    run = drive(args, folder, curve=curve)
    samples = read_samples(executor_journal(folder), gateway_journal(folder), run.window)
    seconds = (run.window[1] - run.window[0]) / 1e9
    accepted = len(samples.tick_to_ack)
    return {
        **summary(samples.tick_to_ack),
        "signals_in_window": samples.fired,
        "signals_not_accepted": samples.fired - accepted,
        "orders_per_s": round(accepted / seconds, 1),
        "ticks_per_s": round(run.ticks_published / seconds, 1),
        "tick_gaps": int(run.tick_gaps),
        "conditions_added": run.conditions_added,
        "clean_exit": all(code == 0 for code in run.exit_codes.values()),
        "curve": curve,
        "legs": {
            "tick_to_executor": summary(samples.tick_to_journaled),
            "executor_to_gateway": summary(samples.journaled_to_begun),
            "gateway_to_ack": summary(samples.begun_to_ack),
        },
    }


TICKS_PUBLISHED = "aftm_gateway_ticks_published_total"
SEQUENCE_GAPS = "aftm_strategy_sequence_gaps_total"


def keep_for(keeper: ConditionKeeper, seconds: float, refill_s: float) -> None:
    """Refill every `refill_s` until `seconds` have passed."""
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        keeper.refill()
        time.sleep(max(0.0, min(refill_s - (time.monotonic() - now), end - time.monotonic())))


@dataclass
class Samples:
    """Per order, from the two journals: the whole path and its three legs (ns)."""

    tick_to_ack: list[int] = field(default_factory=list)
    tick_to_journaled: list[int] = field(default_factory=list)  # to the executor's `received_ns`
    journaled_to_begun: list[int] = field(default_factory=list)  # to the gateway's `begun_ns`
    begun_to_ack: list[int] = field(default_factory=list)
    fired: int = 0  # signals from ticks inside the window, accepted or not


def read_samples(journal: Path, gateway: Path, window: tuple[int, int]) -> Samples:
    """The accepted orders' latencies for signals whose tick was published inside `window`."""
    start, end = window
    samples = Samples()
    # Each signal with its first order (later attempts retry a remainder: not the signal's path).
    query = (
        "SELECT s.payload, o.client_order_id, s.received_ns, o.acked_ns FROM signals s"
        " LEFT JOIN orders o ON o.signal_id = s.signal_id AND o.attempt = 1"
    )
    with closing(sqlite3.connect(f"file:{gateway}?mode=ro", uri=True)) as db:
        begun = dict(db.execute("SELECT client_order_id, begun_ns FROM orders").fetchall())
    with closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
        for payload, order_id, received_ns, acked_ns in db.execute(query):
            signal = decode(payload)
            if not isinstance(signal, Signal) or not start <= signal.ts_ns < end:
                continue
            samples.fired += 1
            if acked_ns is not None:
                samples.tick_to_ack.append(acked_ns - signal.ts_ns)
                samples.tick_to_journaled.append(received_ns - signal.ts_ns)
                if order_id in begun:
                    samples.journaled_to_begun.append(begun[order_id] - received_ns)
                    samples.begun_to_ack.append(acked_ns - begun[order_id])
    return samples


def verdict(pipeline: dict[str, object], floor: dict[str, object]) -> dict[str, object]:
    p50, p99, floor_p50 = pipeline.get("p50_us"), pipeline.get("p99_us"), floor.get("p50_us")
    if not isinstance(p50, float) or not isinstance(p99, float) or not isinstance(floor_p50, float):
        return {"ratio_p50": None, "met": False, "reason": "no samples"}
    ratio = p50 / floor_p50
    p50_ok, p99_ok = ratio <= P50_RATIO_TARGET, p99 < P99_TARGET_US
    return {
        "ratio_p50": round(ratio, 2),
        "p50_within_2_5x_floor": p50_ok,
        "p99_under_5ms": p99_ok,
        "met": p50_ok and p99_ok,
    }


def table(result: Mapping[str, object]) -> str:
    pipeline = result["pipeline"]
    assert isinstance(pipeline, dict)
    legs = pipeline.get("legs", {})
    rows = [("pipeline (CURVE)", pipeline), *((f"  {name}", part) for name, part in legs.items())]
    plain = result.get("pipeline_plain_tcp")
    if isinstance(plain, dict) and plain:
        rows.append(("pipeline (plain TCP)", plain))
    floor = result["floor"]
    assert isinstance(floor, dict)
    rows.append(("floor", floor))
    targets = result["targets"]
    assert isinstance(targets, dict)
    return "\n".join(
        [
            f"{'':<22} {'samples':>8} {'p50 µs':>10} {'p99 µs':>10} {'max µs':>10}",
            *(
                f"{name:<22} {part.get('samples', 0):>8} {part.get('p50_us', '-'):>10}"
                f" {part.get('p99_us', '-'):>10} {part.get('max_us', '-'):>10}"
                for name, part in rows
            ),
            f"p50 ratio {targets['ratio_p50']} (target <= {P50_RATIO_TARGET}),"
            f" p99 target < {P99_TARGET_US:.0f} µs: {'met' if targets['met'] else 'MISSED'}",
        ]
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement, each part")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="ticks (messages) per second")
    parser.add_argument("--conditions", type=int, default=100)
    parser.add_argument("--refill-s", type=float, default=0.25)
    parser.add_argument("--symbols", default=",".join(SYMBOLS))
    parser.add_argument("--log-level", default="INFO", help="the services' log level")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument(
        "--skip-plain", action="store_true", help="no plain-TCP run beside the CURVE one"
    )
    parser.add_argument("--keep", type=Path, help="keep state and logs in this (new) folder")
    parser.add_argument("--table", action="store_true", help="also a short table on stderr")
    return parser.parse_args()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every cleanup, stopping the processes


def main() -> int:
    args = parse()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return bench(args)
    except KeyboardInterrupt:
        progress("pipeline bench interrupted; its processes were stopped")
        return 130


def bench(args: argparse.Namespace) -> int:
    floor: dict[str, object] = {}
    if not args.skip_floor:
        progress(f"floor: 3 processes, {args.rate:.0f} msg/s, {args.seconds} s")
        floor = dict(summary(measure_floor(args.rate, args.seconds, args.warmup)))
    plain: dict[str, object] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="aftm-bench-") as scratch:
            root = args.keep or Path(scratch)
            for curve in (True, False) if not args.skip_plain else (True,):
                folder = root / ("curve" if curve else "plain")
                folder.mkdir(parents=True)
                progress(f"pipeline: CURVE {'on (as shipped)' if curve else 'off (plain TCP)'}")
                measured = measure_pipeline(args, folder, curve=curve)
                if curve:
                    pipeline = measured
                else:
                    plain = measured
    except (RuntimeError, RequestTimedOut, OSError) as failure:
        progress(f"pipeline bench failed: {failure}")
        return 1
    result = {
        "pipeline": pipeline,
        "pipeline_plain_tcp": plain,
        "floor": floor,
        "targets": verdict(pipeline, floor),
        "config": {
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "ticks_per_s": args.rate,
            "conditions": args.conditions,
            "refill_s": args.refill_s,
            "symbols": args.symbols.split(","),
            "log_level": args.log_level,
            "cpus": os.cpu_count(),
            "executor_limits": EXECUTOR_LIMITS,
            "note": "executor risk limits raised (orders per minute, net position) so they do"
            " not throttle the bench; lots per order stays at its default (orders are 1 lot)",
        },
    }
    print(json.dumps(result, indent=2))
    if args.table:
        progress(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
