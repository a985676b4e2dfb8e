"""Soak of the PFCF adapter over the .NET double: ticks from the DLL's thread, orders from ours.

Each run is a fresh process (one .NET runtime per process) that logs in to the double, asks it
for --ticks ticks as fast as it can raise them (OnTickDataTrade, on its quote thread, into
Python), and meanwhile places a market order every --order-every ticks and asks for positions,
so calls into .NET and callbacks out of it cross all the time: the mix that deadlocks a Mono
process without MONO_THREADS_SUSPEND=preemptive. A run passes when every tick arrived, every
order was answered, nothing was dropped and nothing raised into .NET, within --timeout-s; a
run that hangs is killed at the timeout and fails.

    .venv/bin/python -m bench.pfcf_soak [--runs 20] [--ticks 100000] [--timeout-s 60]

One JSON line per run on stdout, then a summary line; exit 1 if any run failed. Needs Mono's
mcs (deploy/scripts/prepare-mono.sh) and pythonnet.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.types import OrderStatus, Side
from tests.support import dotnet

SYMBOLS = ("TXFL6", "MXFL6")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--order-every", type=int, default=2_000, help="ticks between orders")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per run")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # the DLL, in a run
    return parser.parse_args(argv)


def main() -> int:
    args = parse()
    if args.child is not None:
        print(json.dumps(soak(args.child, args.ticks, args.order_every)))
        return 0
    reason = dotnet.missing_mono()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="aftm-pfcf-soak-") as folder:
        dll = dotnet.compile_double(Path(folder))
        results = [run(dll, args, number) for number in range(1, args.runs + 1)]
    passed = [result for result in results if result["ok"]]
    seconds = [float(result["seconds"]) for result in passed]
    summary = {
        "runs": args.runs,
        "passed": len(passed),
        "ticks_per_run": args.ticks,
        "seconds_min": min(seconds, default=0.0),
        "seconds_median": statistics.median(seconds) if seconds else 0.0,
        "seconds_max": max(seconds, default=0.0),
        "ticks_per_s_median": round(statistics.median(r["ticks_per_s"] for r in passed))
        if passed
        else 0,
    }
    print(json.dumps({"summary": summary}))
    return 0 if len(passed) == args.runs else 1


def run(dll: Path, args: argparse.Namespace, number: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.pfcf_soak", "--child", str(dll)]
    command += ["--ticks", str(args.ticks), "--order-every", str(args.order_every)]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout_s)
    except subprocess.TimeoutExpired:
        result: dict[str, Any] = {"ok": False, "error": f"hung: killed after {args.timeout_s}s"}
    else:
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            result = {"ok": False, "error": f"exit {done.returncode}: {done.stderr[-500:]}"}
        else:
            result = json.loads(lines[-1])
    result = {"run": number, **result, "process_s": round(time.monotonic() - started, 2)}
    print(json.dumps(result), flush=True)
    return result


def soak(dll: Path, ticks: int, order_every: int) -> dict[str, Any]:
    """One run, in this process: the figures, with "ok" saying whether it all added up."""
    from aftm_gateway.pfcf import PfcfBroker, PfcfConfig
    from aftm_gateway.pfcf.loader import load

    # Beside the DLL: the parent's temporary folder removes it even after a hung run is killed.
    state = dll.parent / f"soak-{os.getpid()}.tsv"
    os.environ.update(dotnet.double_env(state, ticks_per_s=0))
    vendor = load("mono", dll, "PFCF")
    api = vendor.new_api()
    broker = PfcfBroker(api, vendor, PfcfConfig(server="127.0.0.1", timeout_ms=5000))
    for symbol in SYMBOLS:
        broker.register(symbol)
    broker.login(dotnet.USER, dotnet.PASSWORD)
    try:
        return _drive(broker, api.Double, ticks, order_every)
    finally:
        broker.close()
        state.unlink(missing_ok=True)


def _drive(broker: Any, double: Any, ticks: int, order_every: int) -> dict[str, Any]:
    received = fills = orders = filled = largest_batch = 0
    last_price: dict[str, int] = {}
    started = time.perf_counter()
    double.Burst(ticks)
    next_order = order_every
    while received < ticks:
        events = broker.poll(time.time_ns())
        largest_batch = max(largest_batch, len(events))
        for event in events:
            if isinstance(event, Tick):
                received += 1
                last_price[event.symbol] = event.price
            elif isinstance(event, OrderFilled):
                fills += 1
        if received >= next_order:
            next_order += order_every
            orders += 1
            side = Side.BUY if orders % 2 else Side.SELL
            order = PlaceOrder(f"S{orders:07d}", dotnet.ACCOUNT, SYMBOLS[orders % 2], side, 1)
            filled += broker.place(order).status is OrderStatus.FILLED
            broker.positions(dotnet.ACCOUNT)
        if not events:
            time.sleep(0.0005)  # the DLL's thread is filling the queue
    seconds = time.perf_counter() - started
    time.sleep(0.2)
    fills += sum(isinstance(event, OrderFilled) for event in broker.poll(time.time_ns()))
    figures = {
        "ticks": received,
        "raised": int(double.Delivered),
        "seconds": round(seconds, 3),
        "ticks_per_s": round(received / seconds),
        "orders": orders,
        "filled": filled,
        "fill_reports": fills,
        "largest_batch": largest_batch,
        "callback_errors": broker.callback_errors,
        "handler_errors": int(double.HandlerErrors),
    }
    ok = (
        received == ticks == figures["raised"]
        and filled == orders == fills
        and figures["callback_errors"] == figures["handler_errors"] == 0
    )
    return {"ok": ok, **figures}


if __name__ == "__main__":
    raise SystemExit(main())
