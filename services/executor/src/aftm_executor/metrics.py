"""The executor's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from aftm.metrics import latency_histogram
from aftm.security.metrics import SecurityMetrics
from aftm_executor.market import Rule

# Every label value is created up front so a dashboard sees 0 rather than no series.
ORDER_RESULTS = ("accepted", "rejected", "unknown", "risk_rejected")
SOCKETS = ("signals", "reports", "control", "gateway")  # gateway: replies to orders
RECONCILE_RESULTS = ("agreed", "settling", "differs", "failed")
MARKET_RULE_ACTIONS = {"refused": tuple(Rule), "held": (Rule.CLOSED, Rule.UNKNOWN)}


class ExecutorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.signals_received = Counter(
            "aftm_executor_signals_received_total",
            "Signals received (pushed or recovered from the strategy), duplicates included",
            registry=registry,
        )
        self.duplicate_signals = Counter(
            "aftm_executor_duplicate_signals_total",
            "Signals already journaled, ignored without a second order",
            registry=registry,
        )
        self.orders = Counter(
            "aftm_executor_orders_total",
            "Order requests by outcome, and signals refused by a risk check",
            ["result"],
            registry=registry,
        )
        self.order_resends = Counter(
            "aftm_executor_order_resends_total",
            "Orders sent again under the same client order id after the gateway had none",
            registry=registry,
        )
        self.fills = Counter("aftm_executor_fills_total", "Fills applied", registry=registry)
        self.duplicate_fills = Counter(
            "aftm_executor_duplicate_fills_total",
            "Fill reports whose fill id was seen before",
            registry=registry,
        )
        self.invalid_signals = Counter(
            "aftm_executor_invalid_signals_total",
            "Signals refused before the journal because a value was out of range, by field",
            ["field"],
            registry=registry,
        )
        self.invalid_fills = Counter(
            "aftm_executor_invalid_fills_total",
            "Fill and order reports of our orders refused for a value out of range, by field",
            ["field"],
            registry=registry,
        )
        self.malformed_frames = Counter(
            "aftm_executor_malformed_frames_total",
            "Frames that could not be read, by socket; dropped",
            ["socket"],
            registry=registry,
        )
        self.message_failures = Counter(
            "aftm_executor_message_failures_total",
            "Messages dropped because handling them failed unexpectedly (logged once per kind)",
            ["socket"],
            registry=registry,
        )
        self.security = SecurityMetrics("executor", registry)
        self.order_round_trip = latency_histogram(
            "aftm_executor_order_round_trip_seconds",
            "Order request to gateway reply",
            registry,
        )
        self.signal_to_ack = latency_histogram(
            "aftm_executor_signal_to_ack_seconds",
            "Signal received to the gateway's accepting reply",
            registry,
        )
        self.tick_to_ack = latency_histogram(
            "aftm_executor_tick_to_ack_seconds",
            "Gateway tick timestamp to the accepting reply for the signal it caused",
            registry,
        )
        self.quarantined = Gauge(
            "aftm_executor_quarantined_records",
            "Journal rows the executor could not read, moved to its journal's quarantine table",
            registry=registry,
        )
        self.heartbeat_age = Gauge(
            "aftm_executor_heartbeat_age_seconds",
            "Seconds since the last gateway heartbeat (+Inf: none yet)",
            registry=registry,
        )
        self.stale_entries = Counter(
            "aftm_executor_stale_entries_total",
            "Entries refused because they were older than the maximum age when they would be sent",
            registry=registry,
        )
        self.market_rule_orders = Counter(
            "aftm_executor_market_rule_orders_total",
            "Entries refused and exits held by the market rules (sessions, holidays), by reason",
            ["action", "reason"],
            registry=registry,
        )
        self.exit_attempts = Counter(
            "aftm_executor_exit_attempts_total",
            "Exit orders sent, first attempts and retries of a remainder",
            registry=registry,
        )
        self.order_cancels = Counter(
            "aftm_executor_order_cancels_total",
            "Cancels of a working entry asked of the gateway before its exit",
            registry=registry,
        )
        self.unclosed_trades = Gauge(
            "aftm_executor_unclosed_trades",
            "Trades whose exit is held or failing while a position is open: a person should look",
            registry=registry,
        )
        self.entries_blocked = Gauge(
            "aftm_executor_entries_blocked",
            "1 while an alarm (e.g. two broker orders for one client order id) refuses entries",
            registry=registry,
        )
        self.daily_pnl = Gauge(
            "aftm_executor_daily_pnl_twd",
            "The selected account's P&L today (Taipei): realised plus marked to market, in TWD",
            registry=registry,
        )
        self.daily_loss_breached = Gauge(
            "aftm_executor_daily_loss_limit_breached",
            "1 while today's P&L is at or beyond the daily loss limit (the executor is reducing)",
            registry=registry,
        )
        self.unknown_orders = Gauge(
            "aftm_executor_unknown_orders",
            "Orders sent whose outcome is not yet known (sending or unknown)",
            registry=registry,
        )
        self.held_exits = Gauge(
            "aftm_executor_held_exits",
            "Trades whose exit is held (halted, broker logged out, a retry backoff) with a"
            " position open",
            registry=registry,
        )
        self.exits_waiting_for_open = Gauge(
            "aftm_executor_exits_waiting_for_open",
            "Exits held only because the market is closed; they go out at the next open",
            registry=registry,
        )
        self.position_difference = Gauge(
            "aftm_executor_position_difference_lots",
            "Book minus broker, net lots, per account and symbol, while a difference nothing"
            " explains stands (entries are halted)",
            ["account", "symbol"],
            registry=registry,
        )
        self.reconcile_halted = Gauge(
            "aftm_executor_reconcile_halted",
            "1 while a difference between the book and the broker halts entries",
            registry=registry,
        )
        self.reconcile_last_success = Gauge(
            "aftm_executor_reconcile_last_success_timestamp_seconds",
            "When a reconciliation last compared the book with the broker (unix seconds)",
            registry=registry,
        )
        self.reconciliations = Counter(
            "aftm_executor_reconciliations_total",
            "Reconciliations with the broker, by result",
            ["result"],
            registry=registry,
        )
        self.reconcile_duration = latency_histogram(
            "aftm_executor_reconcile_duration_seconds",
            "One reconciliation with the broker (the executor's loop waits for it)",
            registry,
        )
        self.missed_fills = Counter(
            "aftm_executor_missed_fills_total",
            "Fills found in the gateway's fill ledger that no report had brought, applied",
            registry=registry,
        )
        self.account = Gauge(
            "aftm_executor_account_info",
            "1 for the account this executor trades (one executor per account on a desk)",
            ["account"],
            registry=registry,
        )
        self.strategy_up = Gauge(
            "aftm_executor_strategy_up",
            "1 while a strategy shard answers the signal resync, 0 after it did not",
            ["strategy"],
            registry=registry,
        )
        self.strategy_failures = Counter(
            "aftm_executor_strategy_failures_total",
            "Resync and fetch requests a strategy shard did not answer (it is asked again later)",
            ["strategy"],
            registry=registry,
        )
        self._account_shown = ""
        for result in RECONCILE_RESULTS:
            self.reconciliations.labels(result=result)
        for result in ORDER_RESULTS:
            self.orders.labels(result=result)
        for action, reasons in MARKET_RULE_ACTIONS.items():
            for reason in reasons:
                self.market_rule_orders.labels(action=action, reason=reason)
        for socket in SOCKETS:
            self.malformed_frames.labels(socket=socket)

    def track_heartbeat_age(self, age_s: Callable[[], float]) -> None:
        self.heartbeat_age.set_function(age_s)

    def show_account(self, account: str) -> None:
        """Label the account traded now, so dashboards tell executors apart (none: no series)."""
        if account == self._account_shown:
            return
        if self._account_shown:
            self.account.remove(self._account_shown)
        if account:
            self.account.labels(account=account).set(1)
        self._account_shown = account
