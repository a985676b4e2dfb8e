"""A short chaos soak (bench/chaos_soak.py) passes: the three services trade while a random one
is SIGKILLed and restarted every ~12 s, and the verdict, computed from the broker's own state and
the journals, finds nothing duplicated, lost or left open, the executor's positions equal to the
broker's, and few signals refused because a service restarted (see RESTART_LIMIT_PCT).

On the simulated exchange for a minute, and for 45 s over the PFCF test double in its
late-acknowledgement mode (skipped, with the reason, without Mono). The 10-minute runs are in the
benchmark set (README). First, in memory, the verdict itself: a clean record passes, and each
kind of breach, planted in an otherwise clean record, fails it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aftm.domain.signals import SignalKind
from aftm_executor.trades import client_order_id
from bench.broker_book import BrokerBook, BrokerFill, BrokerOrder
from bench.chaos_verdict import judge
from bench.journals import Emitted, ExecutorRecord, JournalOrder, JournalTrade
from tests.support import dotnet

ROOT = Path(__file__).resolve().parents[2]
KILL_EVERY_S = 12
# The 0.5 % target is the 10-minute soak's, with a kill every ~20 s over thousands of signals.
# Here kills come every ~12 s over a few hundred: one entry overtaken by its exit while a
# service restarted (the right call: the round trip is over) is already 0.2-0.5 %.
RESTART_LIMIT_PCT = 2.0
SETTLE_S = 45
START_AND_VERDICT_S = 90  # services up, then stopped and judged: on top of the soak itself
PASS = re.compile(
    r"verdict PASS signals=(?P<signals>\d+) .* duplicates=0 duplicate_signals=0 lost=0"
    r" open_without_exit=0 positions_equal=yes refused_by_restart=\d+ \((?P<pct>[\d.]+)%\)"
)


Record = tuple[list[Emitted], ExecutorRecord, BrokerBook]
ACCOUNT = "SIM-0001"


def round_trips(count: int) -> Record:
    """`count` conditions that entered and exited once (1 lot), recorded alike everywhere."""
    emitted, executor, book = [], ExecutorRecord(), BrokerBook()
    for n in range(count):
        trade = f"c{n}"
        executor.trades[trade] = JournalTrade(trade, refused="", hold="", done=True, updated_ns=0)
        for leg, kind, side in (
            ("entry", SignalKind.ENTRY, "buy"),
            ("exit", SignalKind.STOP_LOSS, "sell"),
        ):
            signal = f"{trade}:{leg}"
            note = client_order_id(ACCOUNT, signal)
            emitted.append(Emitted(signal, trade, kind))
            executor.signals.add(signal)
            executor.orders[note] = JournalOrder(note, trade, signal, leg, "filled", "", 1)
            executor.fills[note] = 1
            book.orders.append(BrokerOrder(f"B{n}{leg}", note, ACCOUNT, "TXFL6", side, 1, "filled"))
            book.fills.append(BrokerFill(f"B{n}{leg}", note, ACCOUNT, "TXFL6", side, 1))
    return emitted, executor, book


def placed_twice(record: Record) -> None:
    first = record[2].orders[0]
    record[2].orders.append(replace(first, broker_order_id="B-again"))


def exit_never_ordered(record: Record) -> None:
    del record[1].orders[client_order_id(ACCOUNT, "c1:exit")]


def exit_unfilled_at_the_broker(record: Record) -> None:
    note = client_order_id(ACCOUNT, "c2:exit")
    record[2].fills[:] = [fill for fill in record[2].fills if fill.client_order_id != note]
    record[2].positions[ACCOUNT] = {"TXFL6": 1}  # what the broker holds now
    record[1].positions[ACCOUNT] = {"TXFL6": 1}


def fill_missed_by_the_executor(record: Record) -> None:
    record[1].positions[ACCOUNT] = {"TXFL6": -1}


def refused_after_a_restart(record: Record) -> None:
    record[1].trades["c3"] = replace(
        record[1].trades["c3"], refused="stale: the entry is 6.2 s old"
    )


@pytest.mark.parametrize(
    ("plant", "breach"),
    [
        (placed_twice, "duplicates"),
        (exit_never_ordered, "lost"),
        (exit_unfilled_at_the_broker, "open_without_exit"),
        (fill_missed_by_the_executor, "positions_equal"),
        (refused_after_a_restart, "refused_by_restart"),
    ],
)
def test_the_verdict_fails_on_each_kind_of_breach(
    plant: Callable[[Record], None], breach: str
) -> None:
    record = round_trips(100)
    clean = judge(*record)
    plant(record)

    planted = judge(*record)

    assert clean.passed, clean.line
    assert clean.line.startswith("verdict PASS signals=200 journaled=200 orders=200")
    assert planted.breaches == [breach], planted.details
    assert planted.line.startswith("verdict FAIL")


def soak(tmp_path: Path, minutes: float, *options: str) -> tuple[str, dict[str, Any]]:
    """Run the soak; its verdict line and JSON details, or a failure showing why."""
    command = [sys.executable, "-m", "bench.chaos_soak", "--minutes", str(minutes)]
    command += ["--kill-every", str(KILL_EVERY_S), "--settle-s", str(SETTLE_S)]
    command += ["--restart-refusal-limit-pct", str(RESTART_LIMIT_PCT)]
    command += ["--keep", str(tmp_path / "soak"), *options]
    timeout_s = minutes * 60 + SETTLE_S + START_AND_VERDICT_S
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    lines = done.stdout.strip().splitlines()
    verdict = lines[-1] if lines else ""
    why = f"exit {done.returncode}: {verdict}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, why
    return verdict, json.loads("\n".join(lines[:-1]))


def assert_passed(verdict: str, details: dict[str, Any], *, kills: int, signals: int) -> None:
    found = PASS.fullmatch(verdict)
    assert found, verdict
    assert float(found["pct"]) < RESTART_LIMIT_PCT
    assert int(found["signals"]) >= signals, verdict  # the soak traded, it did not idle
    assert details["kills"]["total"] >= kills, details["kill_log"]
    assert details["breaches"] == []


@pytest.mark.slow
def test_a_short_chaos_soak_on_the_simulated_exchange_passes(tmp_path: Path) -> None:
    verdict, details = soak(tmp_path, 1.0)

    assert_passed(verdict, details, kills=4, signals=130)


@pytest.mark.slow
def test_a_short_chaos_soak_over_the_pfcf_double_acknowledging_late_passes(
    tmp_path: Path,
) -> None:
    reason = dotnet.missing_mono()
    if reason is not None:
        pytest.skip(reason)

    verdict, details = soak(tmp_path, 0.75, "--broker", "dotnet")

    assert_passed(verdict, details, kills=2, signals=40)
