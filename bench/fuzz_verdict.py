"""The wire fuzzer's verdict (fuzz_wire.py): the facts a run is judged on, and every breach.

The fuzzer drives the sockets; this module measures the services and judges the outcome:
- alive: each service's process still running, not a zombie (/proc);
- RSS: each service's resident memory, sampled through the run (RssWatch), its peak against
  RSS_BOUND_MIB;
- counters: each service's own metrics (malformed frames, message failures, CURVE refusals);
  a message failure is an exception in a service's loop;
- answers: whether each service still answered a real request after the fuzz (the fuzzer asks,
  with the console's key);
- the simulated exchange's own SQLite book: any order in it the bench did not place;
- leaks, per socket and key mode (a ModeRun, filled by the fuzzer): frames a service counted
  from a mode that must deliver nothing (UNDELIVERED), handshakes that succeeded there, forbidden
  requests answered other than `forbidden`, and a client that found no room to send.

gather() collects the facts; breaches() lists every way the run failed, empty when it passed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Protocol

from bench.broker_book import BrokerBook
from bench.pipeline_rig import SERVICES, Services

# Under a million frames per socket and mode each service peaked at 80-84 MiB (Python, pyzmq,
# pydantic, SQLite; 2026-12-02). The bound leaves ~3.5x that for the allocator's growth under
# load, yet a leak of even ~300 bytes per frame over a million frames breaches it.
RSS_BOUND_MIB = 300
RSS_SAMPLE_S = 0.5
COUNTERS = ("malformed_frames_total", "message_failures_total", "curve_refusals_total")
UNDELIVERED = ("none", "unknown", "refused")  # key modes that must deliver no frame


@dataclass
class ModeRun:
    """What one key mode at one socket did and saw: the fuzzer fills it, leaks() judges it."""

    frames: int = 0
    sent: int = 0
    refused_locally: int = 0  # EAGAIN: libzmq's queue full, the frame never left the bench
    skipped_harmful: int = 0
    forbidden_requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    forbidden_replies: Counter[str] = field(default_factory=Counter)
    handshakes: Counter[str] = field(default_factory=Counter)
    raw_tcp_connections: int = 0
    forbidden_ids: set[str] = field(default_factory=set)  # sent, not yet answered
    stalled: str = ""  # why sending stopped early, if it did
    received_by_service: float = 0.0  # the service's malformed-frame count grew by this much
    seconds: float = 0.0

    def figures(self) -> dict[str, object]:
        # Not dataclasses.asdict: it rebuilds a Counter from (key, value) pairs, as keys.
        figures = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "forbidden_ids"}
        return figures | {"frames_per_s": round(self.frames / self.seconds) if self.seconds else 0}


class RssWatch:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak_mib: dict[str, float] = dict.fromkeys(pids, 0.0)
        self.last_mib: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._next = 0.0

    def sample(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + RSS_SAMPLE_S
        for name, pid in self.pids.items():
            mib = rss_mib(pid)
            if mib is not None:
                self.last_mib[name] = mib
                self.peak_mib[name] = max(self.peak_mib[name], mib)


def rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def is_alive(pid: int) -> bool:
    """Running, not a zombie: a killed child stays in /proc until reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class CountedSocket(Protocol):
    """A bound socket whose service counts the malformed frames it gets (a fuzz Target)."""

    @property
    def service(self) -> str: ...

    @property
    def malformed_label(self) -> str | None: ...  # the socket label of the malformed counter


def malformed(rig: Services, target: CountedSocket) -> float:
    """The frames `target`'s service counted as malformed there; 0 if it cannot say (dead: the
    verdict reports that)."""
    if target.malformed_label is None:
        return 0.0
    name = f'aftm_{target.service}_malformed_frames_total{{socket="{target.malformed_label}"}}'
    try:
        return rig.metrics(target.service).get(name, 0.0)
    except OSError:
        return 0.0


def counters_of(rig: Services, name: str) -> dict[str, float]:
    try:
        samples = rig.metrics(name)
    except OSError:
        return {}
    return {key: value for key, value in samples.items() if any(c in key for c in COUNTERS)}


@dataclass(frozen=True)
class Facts:
    """What the verdict is drawn from; every field gathered from the real processes."""

    alive: dict[str, bool]
    answers: dict[str, str]
    broker_orders: list[str]  # client order ids (NOTEs) in the broker's own book
    expected_orders: frozenset[str]  # what the bench itself placed
    rss_peak_mib: dict[str, float]
    message_failures: dict[str, float]
    # Per socket and mode: frames a service counted from a mode that must deliver nothing,
    # handshakes that succeeded there, forbidden requests answered other than `forbidden`,
    # and a client that found no room to send (the service stopped reading).
    leaks: dict[str, float] = field(default_factory=dict)


def breaches(facts: Facts, rss_bound_mib: float = RSS_BOUND_MIB) -> list[str]:
    """Every way the run failed; empty when it passed."""
    found = [f"{name} died" for name, alive in facts.alive.items() if not alive]
    found += [
        f"{name} did not answer its request after the fuzz: {answer}"
        for name, answer in facts.answers.items()
        if answer != "ok"
    ]
    unexpected = sorted(set(facts.broker_orders) - facts.expected_orders)
    if unexpected:
        shown = ", ".join(unexpected[:5])
        found.append(f"the broker holds {len(unexpected)} order(s) the fuzz caused: {shown}")
    found += [
        f"{name} RSS peaked at {mib:.0f} MiB, over the {rss_bound_mib:.0f} MiB bound"
        for name, mib in facts.rss_peak_mib.items()
        if mib > rss_bound_mib
    ]
    found += [
        f"{key}: {count:.0f} message(s) failed with an exception"
        for key, count in facts.message_failures.items()
        if count
    ]
    found += [f"{where}: {count:.0f}" for where, count in facts.leaks.items() if count]
    return found


def leaks(runs: dict[str, dict[str, ModeRun]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for bound, modes in runs.items():
        for mode, run in modes.items():
            if mode in UNDELIVERED:
                found[f"{bound} {mode}: frames received"] = run.received_by_service
                found[f"{bound} {mode}: handshakes succeeded"] = run.handshakes[
                    "handshake_succeeded"
                ]
            not_forbidden = sum(
                count for code, count in run.forbidden_replies.items() if code != "forbidden"
            )
            found[f"{bound} {mode}: order-changing requests not refused"] = not_forbidden
            found[f"{bound} {mode}: sending stalled ({run.stalled})"] = float(bool(run.stalled))
    return found


def gather(
    after: dict[str, object],
    book: BrokerBook,
    watch: RssWatch,
    runs: dict[str, dict[str, ModeRun]],
    expected_orders: frozenset[str] = frozenset(),  # the bench itself places none
) -> Facts:
    counters: dict[str, dict[str, float]] = after["counters"]  # type: ignore[assignment]
    return Facts(
        alive=after["alive"],  # type: ignore[arg-type]
        answers=after["answers"],  # type: ignore[arg-type]
        broker_orders=[order.client_order_id for order in book.orders],
        expected_orders=expected_orders,
        rss_peak_mib=watch.peak_mib,
        message_failures={
            key: value
            for name in SERVICES
            for key, value in counters.get(name, {}).items()
            if "message_failures_total" in key
        },
        leaks=leaks(runs),
    )
