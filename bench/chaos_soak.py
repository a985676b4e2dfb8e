"""Chaos soak: the three services trade while a random one is SIGKILLed and restarted, then a
verdict from the broker's own state and the journals says whether anything was duplicated,
lost, left open, or drifted.

The gateway, strategy and executor run as local processes on 127.0.0.1 (pipeline_rig.py), on the
simulated exchange, or with --broker dotnet on the PFCF adapter over the .NET test double in its
late-acknowledgement mode: each order is acknowledged a random 0..--ack-delay-ms after it was
sent, and the gateway waits only --broker-timeout-ms for it, so some acknowledgements come after
the gateway gave up on them. About --conditions conditions are kept live over several contracts
(keeper.py: they enter and exit within seconds); the executor's risk limits are raised as in the
pipeline bench, so the rate limiter is not what is measured (MAX_ENTRY_AGE_S keeps its default).

Every ~--kill-every seconds (jittered) one role, chosen at random, is SIGKILLed and restarted at
once with the same settings, ports and state files: what an orchestrator does. Then the settle
phase: no more kills or conditions; every condition is removed and the executor is asked to
flatten until its trades are done or --settle-s pass. Then the services stop and
chaos_verdict.py judges the run.

    .venv/bin/python bench/chaos_soak.py --minutes 10 [--broker sim|dotnet] [--kill-every 20]
        [--settle-s 60] [--seed 1]

Progress (one line per kill) on stderr; JSON details on stdout, then, as the last line, the
verdict with its figures. Exit 0 on PASS, 1 on any breach, 2 when the soak itself could not run.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

import zmq

from aftm.wire.reliable import ReliableClient, RequestTimedOut

if not __package__:  # run as a script (bench/chaos_soak.py): its helpers are bench.*
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.broker_book import BrokerBook, read_double, read_sim
from bench.chaos_verdict import RESTART_LIMIT_PCT, judge
from bench.journals import read_emitted, read_executor
from bench.keeper import ConditionKeeper
from bench.pipeline_bench import EXECUTOR_LIMITS
from bench.pipeline_rig import SERVICES, RigConfig, Services, executor_journal, start_services
from bench.settle import Settle, settle
from tests.support import dotnet

# Two months of each simulated product: a trader's conditions over several contracts.
SYMBOLS = tuple(f"{product}{month}" for product in ("TXF", "MXF", "TMF") for month in ("K6", "L6"))
DOUBLE_STATE = "pfcf-double-state.tsv"
REQUEST_TIMEOUT_MS = 1000  # a killed peer costs the loop this long per request
JITTER = (0.7, 1.3)  # a kill interval is the --kill-every times a factor drawn from this range
# Live conditions: over the double fewer, as every order holds the gateway's loop until it is
# acknowledged (up to --broker-timeout-ms): the soak is about restarts, not a saturated loop.
CONDITIONS = {"sim": 12, "dotnet": 6}
RETIRE_AFTER_S = 15.0  # a condition not entered by then is replaced: keeps the signal rate up
EXIT_BREACH, EXIT_ERROR = 1, 2


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Kill:
    at_ns: int  # wall clock, as the journals' times
    at_s: float  # since the chaos began
    role: str
    killed_pid: int
    restarted_pid: int
    healthy_s: float


@dataclass
class Clients:
    """Request clients to the services' control sockets, as the console would use them."""

    strategy: ReliableClient
    gateway: ReliableClient
    executor: ReliableClient

    def close(self) -> None:
        for client in (self.strategy, self.gateway, self.executor):
            client.close()


def rig_config(args: argparse.Namespace, folder: Path) -> RigConfig:
    symbols = tuple(args.symbols.split(","))
    extra: dict[str, dict[str, str]] = {}
    if args.broker == "dotnet":
        dll = dotnet.compile_double(folder / "pfcf-double")
        extra["gateway"] = {
            **dotnet.gateway_env(
                dll,
                folder / DOUBLE_STATE,
                ticks_per_s=args.rate,
                symbols=",".join(symbols),
                ack_delay_ms=str(args.ack_delay_ms),
            ),
            "AFTM_GATEWAY_BROKER_TIMEOUT_MS": str(args.broker_timeout_ms),
        }
    return RigConfig(
        folder=folder,
        ticks_per_s=args.rate,
        symbols=symbols,
        log_level=args.log_level,
        executor_limits=EXECUTOR_LIMITS,
        extra_env=extra,
    )


def chaos(rig: Services, keeper: ConditionKeeper, args: argparse.Namespace) -> list[Kill]:
    """Keep conditions live for --minutes, killing and restarting a random role meanwhile."""
    rng = random.Random(args.seed)  # not for security: a seeded run can be repeated
    started = time.monotonic()
    end = started + args.minutes * 60

    def next_kill() -> float:
        if args.kill_every <= 0:
            return float("inf")
        return time.monotonic() + float(args.kill_every) * rng.uniform(*JITTER)

    kills: list[Kill] = []
    kill_at = next_kill()
    while (now := time.monotonic()) < end:
        refill(keeper)
        if now >= kill_at:
            kills.append(kill_one(rig, rng.choice(SERVICES), now - started))
            kill_at = next_kill()
        time.sleep(max(0.0, min(args.refill_s, end - time.monotonic())))
    return kills


def refill(keeper: ConditionKeeper) -> None:
    """Top the conditions up; a peer that is down (killed a moment ago) waits for the next."""
    try:
        keeper.refill()
    except (RequestTimedOut, RuntimeError) as failure:
        progress(f"chaos: conditions not topped up ({failure})")


def kill_one(rig: Services, role: str, at_s: float) -> Kill:
    killed, at_ns = rig.pid(role), time.time_ns()
    rig.kill(role)
    healthy_s = rig.start(role)
    kill = Kill(at_ns, round(at_s, 1), role, killed, rig.pid(role), round(healthy_s, 2))
    progress(
        f"chaos: at {kill.at_s:.1f} s {role} SIGKILLed (pid {killed}), restarted"
        f" (pid {kill.restarted_pid}), healthy in {kill.healthy_s:.2f} s;"
        f" signals so far {signals_emitted(rig.config.folder)}"
    )
    return kill


def signals_emitted(folder: Path) -> int:
    try:
        return len(read_emitted(folder / "strategy.sqlite"))
    except sqlite3.Error:
        return -1  # being written: the next line will say


@dataclass
class Run:
    kills: list[Kill]
    settle: Settle
    exit_codes: Mapping[str, int | None]
    conditions: Mapping[str, int]  # what the keeper did: added, removed, retired, refills


def drive(args: argparse.Namespace, folder: Path) -> Run:
    config = rig_config(args, folder)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with start_services(config) as rig:
            clients = Clients(
                *(
                    rig.client(context, name, timeout_ms=REQUEST_TIMEOUT_MS)
                    for name in ("strategy", "gateway", "executor")
                )
            )
            keeper = ConditionKeeper(
                clients.strategy,
                clients.gateway,
                symbols=config.symbols,
                target=args.conditions,
                seed=args.seed,
                retire_after_s=RETIRE_AFTER_S,
            )
            progress(f"chaos: services up in {folder}; {args.minutes} min on {args.broker}")
            kills = chaos(rig, keeper, args)
            progress(f"chaos: settling (at most {args.settle_s} s)")
            settled = settle(
                clients.strategy, clients.executor, executor_journal(folder), args.settle_s
            )
            clients.close()
            exit_codes = rig.stop()
    finally:
        context.destroy(linger=0)
    return Run(kills, settled, exit_codes, asdict(keeper.counts))


def broker_book(args: argparse.Namespace, folder: Path) -> BrokerBook:
    if args.broker == "dotnet":
        return read_double(folder / DOUBLE_STATE)
    return read_sim(folder / "sim-exchange.sqlite")


def report(args: argparse.Namespace, folder: Path, run: Run) -> int:
    judgement = judge(
        read_emitted(folder / "strategy.sqlite"),
        read_executor(executor_journal(folder)),
        broker_book(args, folder),
        [kill.at_ns for kill in run.kills],
        args.restart_refusal_limit_pct,
    )
    kills_by_role = {role: sum(k.role == role for k in run.kills) for role in SERVICES}
    details = {
        "verdict": judgement.details,
        "breaches": judgement.breaches,
        "kills": {"total": len(run.kills), **kills_by_role},
        "settle": asdict(run.settle),
        "exit_codes": run.exit_codes,
        "conditions": run.conditions,
        "config": {key: value for key, value in vars(args).items() if key != "keep"},
        "kill_log": [asdict(kill) for kill in run.kills],
    }
    print(json.dumps(details, indent=2, default=str))
    print(judgement.line, flush=True)
    return 0 if judgement.passed else EXIT_BREACH


def soak(args: argparse.Namespace, folder: Path) -> int:
    try:
        run = drive(args, folder)
    except (RuntimeError, RequestTimedOut, OSError, subprocess.CalledProcessError) as failure:
        progress(f"chaos soak could not run: {failure}")
        print(f"verdict ERROR reason={failure!s}".replace("\n", " "), flush=True)
        return EXIT_ERROR
    return report(args, folder, run)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="of chaos, before settling")
    parser.add_argument("--broker", choices=("sim", "dotnet"), default="sim")
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds; 0: no kills")
    parser.add_argument("--settle-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--conditions", type=int, help="kept live (default: 12 on sim, 6 on dotnet)"
    )
    parser.add_argument("--rate", type=float, default=100.0, help="ticks per second, all symbols")
    parser.add_argument("--refill-s", type=float, default=0.5)
    parser.add_argument("--symbols", default=",".join(SYMBOLS))
    parser.add_argument("--ack-delay-ms", type=int, default=200, help="dotnet: at most")
    parser.add_argument("--broker-timeout-ms", type=int, default=150, help="dotnet: the gateway's")
    parser.add_argument("--log-level", default="INFO", help="the services' log level")
    parser.add_argument(
        "--restart-refusal-limit-pct",
        type=float,
        default=RESTART_LIMIT_PCT,
        help="fail at this share of signals refused because of restarts",
    )
    parser.add_argument("--keep", type=Path, help="keep state and logs in this (new) folder")
    args = parser.parse_args(argv)
    if args.conditions is None:
        args.conditions = CONDITIONS[args.broker]
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every cleanup, stopping the processes


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.broker == "dotnet" and (reason := dotnet.missing_mono()) is not None:
        progress(reason)
        print(f"verdict ERROR reason={reason}", flush=True)
        return EXIT_ERROR
    try:
        if args.keep:
            args.keep.mkdir(parents=True)
            return soak(args, args.keep)
        with tempfile.TemporaryDirectory(prefix="aftm-chaos-") as folder:
            return soak(args, Path(folder))
    except KeyboardInterrupt:
        progress("chaos soak interrupted; its processes were stopped")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
