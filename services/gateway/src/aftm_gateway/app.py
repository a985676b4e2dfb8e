"""`python -m aftm_gateway`: wire settings, logs, metrics, the broker and the sockets, then run."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import ExitStack

import zmq
from loguru import logger
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from aftm.errors import InvalidInput
from aftm.lifecycle import stop_on_signals
from aftm.log import configure
from aftm.market.calendar import CalendarNotCovering, load_calendar
from aftm.market.clock import market_clock
from aftm.metrics import MetricsServer
from aftm.security.keys import KeyFileError
from aftm.security.roles import BoundSocket, Role
from aftm.security.settings import security_from
from aftm.settings import EXIT_BAD_SETTINGS, load
from aftm.tickfile import TickFileError
from aftm.wire.sockets import make_socket
from aftm_gateway.broker import Broker
from aftm_gateway.fill_ledger import FillLedger
from aftm_gateway.journal import Journal
from aftm_gateway.metrics import GatewayMetrics
from aftm_gateway.pfcf import VendorLoadError, open_pfcf_broker
from aftm_gateway.service import GatewayService, LoopConfig
from aftm_gateway.settings import GatewaySettings
from aftm_gateway.simulated.exchange_store import ExchangeStore
from aftm_gateway.simulated.replay import ReplayBroker
from aftm_gateway.simulated.sim import SimBroker
from aftm_gateway.simulated.venue import ExchangeBroker, VenueConfig

PROGRAM = "aftm-gateway"
EXIT_START_FAILED = 1


def open_broker(settings: GatewaySettings) -> Broker:
    if settings.broker == "pfcf":
        return open_pfcf_broker(settings)
    config = VenueConfig(
        symbols=settings.sim_symbols,
        accounts=settings.sim_accounts,
        user=settings.user or "",
        password=settings.password or SecretStr(""),
        max_quantity=settings.sim_max_order_quantity,
        reply_timeout_ms=settings.broker_timeout_ms,
        reply_delay_ms=settings.fault_delay_ms,
        reject_all=settings.fault_reject_orders,
    )
    store = ExchangeStore(settings.sim_state_path)
    try:
        if settings.broker == "replay" and settings.replay_file is not None:
            return ReplayBroker(
                store, config, path=settings.replay_file, speed=settings.replay_speed
            )
        taifex = settings.sim_calendar == "taifex"
        return SimBroker(
            store,
            config,
            ticks_per_s=settings.sim_ticks_per_s,
            seed=settings.sim_seed,
            start_price=settings.sim_start_price,
            calendar=load_calendar() if taifex else None,
            market_clock=market_clock() if taifex else None,
        )
    except BaseException:
        store.close()
        raise


def main() -> int:
    settings = load(GatewaySettings, PROGRAM)
    configure("gateway", level=settings.log_level, json_lines=settings.log_json)
    if settings.faults:
        logger.warning("fault injection enabled {}", settings.faults)
    stop = stop_on_signals()
    with ExitStack() as resources:
        try:
            service = assemble(settings, resources)
        except TickFileError as bad_file:
            message = f"{PROGRAM}: invalid setting AFTM_GATEWAY_REPLAY_FILE: {bad_file}"
            print(message, file=sys.stderr)  # noqa: T201
            return EXIT_BAD_SETTINGS
        except KeyFileError as bad_key:
            print(f"{PROGRAM}: AFTM_GATEWAY_KEYS_DIR: {bad_key}", file=sys.stderr)  # noqa: T201
            return EXIT_BAD_SETTINGS
        except (InvalidInput, CalendarNotCovering) as bad_market:  # AFTM_MARKET_* settings
            print(f"{PROGRAM}: {bad_market}", file=sys.stderr)  # noqa: T201
            return EXIT_BAD_SETTINGS
        except (zmq.ZMQError, OSError, sqlite3.Error, VendorLoadError) as failure:
            logger.error("gateway could not start error={}", failure)
            return EXIT_START_FAILED
        credentials = None
        if settings.auto_login and settings.user and settings.password is not None:
            credentials = (settings.user, settings.password.get_secret_value())
        service.start(settings.items or (), credentials)
        service.run(stop)
    return 0


def assemble(settings: GatewaySettings, resources: ExitStack) -> GatewayService:
    """Open the broker, the journal, the sockets and /metrics; `resources` closes them."""
    broker = open_broker(settings)
    resources.callback(broker.close)
    journal = Journal(settings.journal_path)
    resources.callback(journal.close)
    fills = FillLedger(settings.fills_path)
    resources.callback(fills.close)
    metrics = GatewayMetrics(CollectorRegistry())
    security = security_from(settings, Role.GATEWAY, metrics.security.refused)
    metrics.security.insecure.set(0 if security.secure else 1)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    resources.callback(context.destroy, linger=0)
    security.start(context)
    resources.callback(security.stop)
    pub = make_socket(
        context, zmq.PUB, bind=settings.pub_bind, setup=security.server(BoundSocket.GATEWAY_PUB)
    )
    router = make_socket(
        context,
        zmq.ROUTER,
        bind=settings.router_bind,
        setup=security.server(BoundSocket.GATEWAY_ROUTER),
    )
    loop_config = LoopConfig(
        heartbeat_s=settings.heartbeat_s,
        health_event_age_s=settings.health_event_age_s,
        drop_replies=settings.fault_drop_replies,
    )
    gate = security.gate(BoundSocket.GATEWAY_ROUTER)
    hours = broker.hours if isinstance(broker, ExchangeBroker) else None
    service = GatewayService(
        broker, journal, fills, pub, router, metrics, loop_config, gate, hours=hours
    )
    server = MetricsServer(
        settings.metrics_host, settings.metrics_port, metrics.registry, service.health
    ).start()
    resources.callback(server.stop)
    logger.info(
        "gateway started broker={} market={} curve={} pub={} router={} metrics={}:{}",
        broker.name,
        hours.calendar if hours is not None else "broker",
        "on" if security.secure else "OFF",
        settings.pub_bind,
        settings.router_bind,
        settings.metrics_host,
        server.port,
    )
    return service
