"""The gateway's Prometheus metrics (its own registry) and a broker wrapper that times calls."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.metrics import latency_histogram
from aftm.security.metrics import SecurityMetrics
from aftm.wire.protocol import Future, OrderSnapshot
from aftm_gateway.broker import Broker, BrokerEvent


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.ticks_published = Counter(
            "aftm_gateway_ticks_published_total", "Ticks published on PUB", registry=registry
        )
        self.broker_call_duration = latency_histogram(
            "aftm_gateway_broker_call_duration_seconds",
            "Time spent in one broker call",
            registry,
            labels=("call",),
        )
        self.orders = Counter(
            "aftm_gateway_orders_total",
            "Place requests by result (accepted, filled, cancelled, rejected, duplicate,"
            " invalid, not_logged_in, unavailable; market_closed and price_limit: rejected by"
            " the market's rules)",
            ["result"],
            registry=registry,
        )
        self.market_session = Gauge(
            "aftm_gateway_market_session",
            "1 for each product's current market phase (pre_open, regular, after_hours, closed),"
            " 0 for the others",
            ["product", "phase"],
            registry=registry,
        )
        self.requests = Counter(
            "aftm_gateway_requests_total", "Requests served, by type", ["type"], registry=registry
        )
        self.malformed_frames = Counter(
            "aftm_gateway_malformed_frames_total",
            "Frames dropped because they could not be read",
            ["socket"],
            registry=registry,
        )
        self.message_failures = Counter(
            "aftm_gateway_message_failures_total",
            "Messages dropped because handling them failed unexpectedly (logged once per kind)",
            ["socket"],
            registry=registry,
        )
        self.security = SecurityMetrics("gateway", registry)
        self.quarantined = Gauge(
            "aftm_gateway_quarantined_records",
            "Journal and fill-ledger rows the gateway could not read, moved to quarantine tables",
            registry=registry,
        )
        self.broker_event_age = Gauge(
            "aftm_gateway_broker_event_age_seconds",
            "Seconds since the broker last delivered anything (tick or order event)",
            registry=registry,
        )
        self.logged_in = Gauge(
            "aftm_gateway_logged_in", "1 while the broker session is open", registry=registry
        )
        self.heartbeats = Counter(
            "aftm_gateway_heartbeats_total", "Heartbeats published", registry=registry
        )
        self.unmatched_reports = Counter(
            "aftm_gateway_unmatched_reports_total",
            "Broker reports whose NOTE is no client order id in the journal, by kind (order, fill)",
            ["kind"],
            registry=registry,
        )
        self.duplicate_broker_orders = Counter(
            "aftm_gateway_duplicate_broker_orders_total",
            "Extra broker orders found under a client order id already placed (an alarm)",
            registry=registry,
        )
        self.duplicate_order_reports = Counter(
            "aftm_gateway_duplicate_order_reports_total",
            "Reports and query listings of such extra broker orders, by kind (order, fill, query);"
            " they are not published",
            ["kind"],
            registry=registry,
        )


class TimedBroker:
    """A Broker that records the duration of every call in `histogram{call=...}`."""

    def __init__(self, broker: Broker, histogram: Histogram) -> None:
        self._broker = broker
        self._histogram = histogram

    @property
    def name(self) -> str:
        return self._broker.name

    @property
    def is_logged_in(self) -> bool:
        return self._broker.is_logged_in

    def login(self, user: str, password: str) -> None:
        with self._histogram.labels(call="login").time():
            self._broker.login(user, password)

    def logout(self) -> None:
        with self._histogram.labels(call="logout").time():
            self._broker.logout()

    def accounts(self) -> tuple[str, ...]:
        with self._histogram.labels(call="accounts").time():
            return self._broker.accounts()

    def futures(self) -> tuple[Future, ...]:
        with self._histogram.labels(call="futures").time():
            return self._broker.futures()

    def register(self, symbol: str) -> None:
        with self._histogram.labels(call="register").time():
            self._broker.register(symbol)

    def unregister(self, symbol: str) -> None:
        with self._histogram.labels(call="unregister").time():
            self._broker.unregister(symbol)

    def place(self, order: PlaceOrder) -> OrderSnapshot:
        with self._histogram.labels(call="place").time():
            return self._broker.place(order)

    def cancel(self, client_order_id: str, *, sent_ns: int | None) -> OrderSnapshot:
        with self._histogram.labels(call="cancel").time():
            return self._broker.cancel(client_order_id, sent_ns=sent_ns)

    def find_order(self, client_order_id: str, *, sent_ns: int | None) -> OrderSnapshot | None:
        with self._histogram.labels(call="find_order").time():
            return self._broker.find_order(client_order_id, sent_ns=sent_ns)

    def orders(self) -> tuple[OrderSnapshot, ...]:
        with self._histogram.labels(call="orders").time():
            return self._broker.orders()

    def positions(self, account: str) -> tuple[Position, ...]:
        with self._histogram.labels(call="positions").time():
            return self._broker.positions(account)

    def fills(self, since_ns: int = 0) -> tuple[OrderFilled, ...]:
        with self._histogram.labels(call="fills").time():
            return self._broker.fills(since_ns)

    def poll(self, now_ns: int) -> list[BrokerEvent]:
        with self._histogram.labels(call="poll").time():
            return self._broker.poll(now_ns)

    def next_event_ns(self) -> int | None:
        return self._broker.next_event_ns()

    def close(self) -> None:
        self._broker.close()
