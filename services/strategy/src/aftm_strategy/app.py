"""`python -m aftm_strategy`: settings, logging, store, sockets and metrics, then the loop."""

from __future__ import annotations

import sqlite3
import sys
import threading
from contextlib import ExitStack

import zmq
from loguru import logger
from prometheus_client import CollectorRegistry

from aftm.errors import AftmError
from aftm.lifecycle import stop_on_signals
from aftm.log import configure
from aftm.market.calendar import load_calendar
from aftm.market.clock import market_clock
from aftm.metrics import MetricsServer
from aftm.security.keys import KeyFileError
from aftm.security.roles import BoundSocket, Role
from aftm.security.settings import security_from
from aftm.settings import EXIT_BAD_SETTINGS, load
from aftm.wire.sockets import make_socket
from aftm_strategy.expiries import ExpiryWatch
from aftm_strategy.service import StrategyService
from aftm_strategy.settings import StrategySettings
from aftm_strategy.shard import Shard
from aftm_strategy.store import StrategyStore
from aftm_strategy.telemetry import StrategyMetrics

PROGRAM = "aftm-strategy"
# Signals wait in each executor's PUSH queue while it is away; the store keeps them regardless.
SIGNAL_SEND_HWM = 100_000
EXIT_FAILED = 1


def main() -> int:
    settings = load(StrategySettings, PROGRAM)
    configure("strategy", level=settings.log_level, json_lines=settings.log_json)
    stop = stop_on_signals()
    try:
        serve(settings, stop)
    except KeyFileError as bad_key:
        print(f"{PROGRAM}: AFTM_STRATEGY_KEYS_DIR: {bad_key}", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_SETTINGS
    except (AftmError, sqlite3.Error, zmq.ZMQError, OSError) as failure:
        logger.error("strategy failed error_type={} error={}", type(failure).__name__, failure)
        return EXIT_FAILED
    logger.info("strategy stopped")
    return 0


def serve(settings: StrategySettings, stop: threading.Event) -> None:
    """Run until `stop` is set; every resource is released on the way out, whatever happens."""
    with ExitStack() as resources:
        store = StrategyStore.open(settings.store_path)
        resources.callback(store.close)
        registry = CollectorRegistry()
        telemetry = StrategyMetrics(registry)
        security = security_from(settings, Role.STRATEGY, telemetry.security.refused)
        telemetry.security.insecure.set(0 if security.secure else 1)
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        resources.callback(context.destroy, 0)  # closes the sockets too
        security.start(context)
        resources.callback(security.stop)  # before the context is destroyed
        shard = Shard(settings.shard, settings.symbols)
        ticks = make_socket(
            context,
            zmq.SUB,
            connect=settings.tick_connect,
            subscribe=shard.topics(),
            setup=security.client(Role.GATEWAY),
        )
        signals = []
        for endpoint in settings.signal_endpoints:  # one socket each: see fanout.py
            push = make_socket(context, zmq.PUSH, setup=security.client(Role.EXECUTOR))
            push.setsockopt(zmq.SNDHWM, SIGNAL_SEND_HWM)
            push.connect(endpoint)
            signals.append(push)
        control = make_socket(
            context,
            zmq.ROUTER,
            bind=settings.control_bind,
            setup=security.server(BoundSocket.STRATEGY_CONTROL),
        )
        service = StrategyService(
            store=store,
            ticks=ticks,
            signals=signals,
            control=control,
            metrics=telemetry,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
            gate=security.gate(BoundSocket.STRATEGY_CONTROL),
            expiries=ExpiryWatch(load_calendar(), market_clock(), settings.expiry_warning_days),
            shard=shard,
            signal_labels=settings.signal_endpoints,
        )
        metrics = MetricsServer(
            settings.metrics_host, settings.metrics_port, registry, service.health
        )
        metrics.start()
        resources.callback(metrics.stop)  # only once started: shutdown() waits for the loop
        logger.info(
            "sockets opened curve={} shard={} symbols={} tick_connect={} signal_connect={}"
            " control_bind={} metrics_port={}",
            "on" if security.secure else "OFF",
            settings.shard or "-",
            ",".join(settings.symbols) or "all",
            settings.tick_connect,
            settings.signal_connect,
            settings.control_bind,
            metrics.port,
        )
        service.run(stop)
