"""The strategy's Prometheus metrics, registered in a registry the caller owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from aftm.domain.conditions import Stage
from aftm.domain.signals import SignalKind
from aftm.metrics import latency_histogram
from aftm.security.metrics import SecurityMetrics

SOCKETS = ("ticks", "control")  # label values of aftm_strategy_malformed_frames_total


class StrategyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ticks = Counter(
            "aftm_strategy_ticks_received_total",
            "Ticks received from the gateway.",
            registry=registry,
        )
        self.unowned = Counter(
            "aftm_strategy_ticks_unowned_total",
            "Ticks of symbols this shard does not own, dropped: its subscription should keep"
            " them away, so more than 0 means ticks travel that need not.",
            registry=registry,
        )
        self.gaps = Counter(
            "aftm_strategy_sequence_gaps_total",
            "Jumps in a symbol's tick sequence: ticks lost between gateway and strategy.",
            registry=registry,
        )
        self.resets = Counter(
            "aftm_strategy_sequence_resets_total",
            "A symbol's tick sequence starting over: the gateway restarted.",
            registry=registry,
        )
        self.malformed = Counter(
            "aftm_strategy_malformed_frames_total",
            "Frames dropped because they were unreadable.",
            ["socket"],
            registry=registry,
        )
        self.message_failures = Counter(
            "aftm_strategy_message_failures_total",
            "Messages dropped because handling them failed unexpectedly (logged once per kind).",
            ["socket"],
            registry=registry,
        )
        self.security = SecurityMetrics("strategy", registry)
        self.signals = Counter(
            "aftm_strategy_signals_total",
            "Signals emitted (committed to the store).",
            ["kind"],
            registry=registry,
        )
        self.deferred = Counter(
            "aftm_strategy_signals_deferred_total",
            "Signals an executor's PUSH socket had no room for, kept to be pushed later"
            " (counted once per executor).",
            registry=registry,
        )
        self.pending = Gauge(
            "aftm_strategy_signals_pending",
            "Signals committed but not yet pushed: the longest backlog of any executor.",
            registry=registry,
        )
        self.conditions = Gauge(
            "aftm_strategy_conditions", "Conditions by stage.", ["stage"], registry=registry
        )
        self.near_expiry = Gauge(
            "aftm_strategy_conditions_near_expiry",
            "Waiting conditions on contracts whose last trading day is within"
            " AFTM_STRATEGY_EXPIRY_WARNING_DAYS: roll them (aftm conditions roll).",
            registry=registry,
        )
        self.quarantined = Gauge(
            "aftm_strategy_quarantined_records",
            "Stored records the strategy could not read, moved to its store's quarantine table.",
            registry=registry,
        )
        self.heartbeat_age = Gauge(
            "aftm_strategy_heartbeat_age_seconds",
            "Seconds since the last gateway heartbeat.",
            registry=registry,
        )
        self.latency = latency_histogram(
            "aftm_strategy_tick_to_signal_seconds",
            "From the gateway's tick timestamp to the signal's push.",
            registry,
        )
        # Every label value exported from the start, so a rate() or an alert sees a 0, not nothing.
        for socket in SOCKETS:
            self.malformed.labels(socket=socket)
        for kind in SignalKind:
            self.signals.labels(kind=kind.value)
        for stage in Stage:
            self.conditions.labels(stage=stage.value)
