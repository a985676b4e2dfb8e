"""The executor's composition root: settings, logging, metrics, journal, sockets, then the loop."""

from __future__ import annotations

import sqlite3
import sys

import zmq
from loguru import logger
from prometheus_client import CollectorRegistry

from aftm.errors import InvalidInput
from aftm.lifecycle import stop_on_signals
from aftm.log import configure
from aftm.market.calendar import load_calendar
from aftm.market.clock import market_clock
from aftm.metrics import MetricsServer
from aftm.security.keys import KeyFileError
from aftm.security.roles import BoundSocket, Role
from aftm.security.settings import security_from
from aftm.settings import EXIT_BAD_SETTINGS, load
from aftm.wire.pipelined import PipelinedClient
from aftm.wire.protocol import FILL_TOPIC, HEARTBEAT_TOPIC, ORDER_TOPIC
from aftm.wire.reliable import ReliableClient
from aftm.wire.sockets import make_socket
from aftm_executor import journal_lock
from aftm_executor.desk import Policy, Sent
from aftm_executor.journal import Journal
from aftm_executor.market import AlwaysOpen, MarketRules, Sessions
from aftm_executor.metrics import ExecutorMetrics
from aftm_executor.risk import Limits
from aftm_executor.service import Executor, Sockets, Timing
from aftm_executor.sessions import TaifexSessions
from aftm_executor.settings import ExecutorSettings

EXIT_CANNOT_START = 1


def main() -> int:
    settings = load(ExecutorSettings, "aftm-executor")
    configure("executor", level=settings.log_level, json_lines=settings.log_json)
    try:
        sessions = _sessions(settings)
    except (InvalidInput, OSError) as bad:  # the holiday file, or AFTM_MARKET_CLOCK_START
        print(f"aftm-executor: market rules: {bad}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_SETTINGS
    stop = stop_on_signals()
    try:
        settings.journal_path.parent.mkdir(parents=True, exist_ok=True)
        lock = journal_lock.hold(settings.journal_path)  # held until the process ends
        journal = Journal(settings.journal_path)
    except journal_lock.JournalInUse as in_use:
        logger.error("executor cannot start: {}", in_use)
        return EXIT_CANNOT_START
    except (OSError, sqlite3.Error) as error:
        logger.error(
            "executor cannot start: journal failed path={} error={}", settings.journal_path, error
        )
        return EXIT_CANNOT_START
    _take_account(settings, journal)
    registry = CollectorRegistry()
    metrics = ExecutorMetrics(registry)
    try:
        security = security_from(settings, Role.EXECUTOR, metrics.security.refused)
    except KeyFileError as bad_key:
        print(f"aftm-executor: AFTM_EXECUTOR_KEYS_DIR: {bad_key}", file=sys.stderr)  # noqa: T201
        journal.close()
        return EXIT_BAD_SETTINGS
    metrics.security.insecure.set(0 if security.secure else 1)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    security.start(context)
    try:
        sockets = Sockets(
            signals=make_socket(
                context,
                zmq.PULL,
                bind=settings.signal_bind,
                setup=security.server(BoundSocket.EXECUTOR_PULL),
            ),
            reports=make_socket(
                context,
                zmq.SUB,
                connect=settings.gateway_pub_connect,
                subscribe=(ORDER_TOPIC, FILL_TOPIC, HEARTBEAT_TOPIC),
                setup=security.client(Role.GATEWAY),
            ),
            control=make_socket(
                context,
                zmq.ROUTER,
                bind=settings.control_bind,
                setup=security.server(BoundSocket.EXECUTOR_CONTROL),
            ),
        )
    except zmq.ZMQError as error:
        logger.error("executor cannot start: sockets failed error={}", error)
        security.stop()
        context.destroy(linger=0)
        journal.close()
        return EXIT_CANNOT_START
    timeout_ms = settings.request_timeout_ms
    to_gateway = security.client(Role.GATEWAY)
    gateway = ReliableClient(
        context, settings.gateway_connect, timeout_ms=timeout_ms, setup=to_gateway
    )
    # Orders have their own connection: a blocking question on `gateway` must not read (and
    # drop) the reply to an order in flight.
    orders: PipelinedClient[Sent] = PipelinedClient(
        context, settings.gateway_connect, timeout_ms=timeout_ms, setup=to_gateway
    )
    to_strategy = security.client(Role.STRATEGY)
    strategies = [
        (shard, ReliableClient(context, shard, timeout_ms=timeout_ms, setup=to_strategy))
        for shard in settings.strategy_connect
    ]
    clients: tuple[ReliableClient | PipelinedClient[Sent], ...] = (
        gateway,
        orders,
        *(client for _, client in strategies),
    )
    executor = Executor(
        journal=journal,
        gateway=gateway,
        orders=orders,
        strategies=strategies,
        sockets=sockets,
        policy=Policy(
            limits=Limits(
                max_lots_per_order=settings.max_lots_per_order,
                max_net_position=settings.max_net_position,
                max_orders_per_minute=settings.max_orders_per_minute,
                max_account_lots_tx=settings.max_account_lots_tx,
            ),
            max_entry_age_s=settings.max_entry_age_s,
            sessions=sessions,
            protection_points=settings.protection,
        ),
        metrics=metrics,
        timing=Timing(
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
            resync_interval_s=settings.resync_interval_s,
            retention_days=settings.retention_days,
            daily_loss_limit_twd=settings.daily_loss_limit_twd,
            reconcile_interval_s=settings.reconcile_interval_s,
            reconcile_settle_s=settings.reconcile_settle_s,
        ),
        security=security,
        fixed_account=settings.account if settings.account_fixed else "",
    )
    try:
        server = MetricsServer(
            settings.metrics_host, settings.metrics_port, registry, executor.health
        ).start()
    except OSError as error:
        logger.error("executor cannot start: metrics server failed error={}", error)
        security.stop()
        _close(context, journal, clients, sockets)
        return EXIT_CANNOT_START
    logger.info(
        "executor listening curve={} signals={} control={} strategies={} metrics={}:{}",
        "on" if security.secure else "OFF",
        settings.signal_bind,
        settings.control_bind,
        ",".join(settings.strategy_connect),
        settings.metrics_host,
        server.port,
    )
    try:
        executor.run(stop)
    finally:
        server.stop()
        security.stop()
        _close(context, journal, clients, sockets)
        if lock is not None:  # after the journal: no other executor opens it before
            lock.close()
    return 0


def _take_account(settings: ExecutorSettings, journal: Journal) -> None:
    """The account from the settings: always when fixed (a journaled selection of another one
    is ignored, with a warning), else only until the console selects one."""
    journaled = journal.account()
    if not settings.account_fixed:
        if settings.account and not journaled:
            journal.set_account(settings.account)
        return
    if journaled and journaled != settings.account:
        logger.warning(
            "journaled account selection ignored account={} fixed={} (AFTM_EXECUTOR_ACCOUNT_FIXED)",
            journaled,
            settings.account,
        )
    if journaled != settings.account:
        journal.set_account(settings.account)


def _sessions(settings: ExecutorSettings) -> Sessions:
    """The market rules in force; the holiday file and the clock are read once, at start."""
    if MarketRules(settings.market_rules) is MarketRules.ALWAYS_OPEN:
        return AlwaysOpen()
    return TaifexSessions(load_calendar(), market_clock(), settings.no_entry_before_close_min)


def _close(
    context: zmq.Context[zmq.Socket[bytes]],
    journal: Journal,
    clients: tuple[ReliableClient | PipelinedClient[Sent], ...],
    sockets: Sockets,
) -> None:
    for client in clients:
        client.close()
    for sock in (sockets.signals, sockets.reports, sockets.control):
        sock.close()
    context.term()
    journal.close()
