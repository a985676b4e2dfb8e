"""The gateway as a real process (`python -m aftm_gateway`) on 127.0.0.1, through real sockets.

State lives in tmp_path; the simulated exchange's SQLite file is read directly to count broker
orders, because "one client order id, one broker order" is the property that matters most.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import msgpack
import pytest
import zmq

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.types import OrderStatus, OrderType, Side, TimeInForce
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import (
    FILL_TOPIC,
    HEARTBEAT_TOPIC,
    ORDER_TOPIC,
    TICK_TOPIC,
    AccountList,
    CancelOrder,
    ErrorCode,
    FillList,
    FutureList,
    GatewayHealth,
    GetHealth,
    ListAccounts,
    ListConditions,
    ListFills,
    ListFutures,
    ListOrders,
    ListPositions,
    Login,
    Logout,
    OrderList,
    OrderSnapshot,
    OrderUpdated,
    PositionList,
    QueryOrder,
    RegisterItem,
    Reply,
    Request,
    UnregisterItem,
)
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import make_socket
from tests.support.forged import ask_forged
from tests.support.processes import ServiceProcess, endpoint, free_port, http_json

Context = zmq.Context[zmq.Socket[bytes]]


def empty_folder(path: Path) -> Path:
    """A secrets folder holding nothing: no /run/secrets of the host applies."""
    path.mkdir(parents=True, exist_ok=True)
    return path


pytestmark = pytest.mark.slow


class Gateway:
    """One gateway process with its ports and state files; `restart` keeps the files."""

    def __init__(self, folder: Path, context: Context, **env: str) -> None:
        self.folder = folder
        self.context = context
        self.state_path = folder / "sim-exchange.sqlite"
        self.base_env = {
            "AFTM_GATEWAY_JOURNAL_PATH": str(folder / "gateway-journal.sqlite"),
            "AFTM_GATEWAY_SIM_STATE_PATH": str(self.state_path),
            "AFTM_GATEWAY_SIM_TICKS_PER_S": "200",
            "AFTM_GATEWAY_HEARTBEAT_S": "0.2",
            "AFTM_SECRETS_DIR": str(empty_folder(folder / "no-secrets")),
            **env,
        }
        self.clients: list[ReliableClient] = []
        self.runs = 0
        self._open()

    def _open(self) -> None:
        self.runs += 1
        self.pub, self.router, self.metrics_port = endpoint(), endpoint(), free_port()
        env = {
            **self.base_env,
            "AFTM_GATEWAY_PUB_BIND": self.pub,
            "AFTM_GATEWAY_ROUTER_BIND": self.router,
            "AFTM_GATEWAY_METRICS_PORT": str(self.metrics_port),
        }
        log = self.folder / f"gateway-{self.runs}.log"
        self.process = ServiceProcess("aftm_gateway", env, log).start()

    def wait_healthy(self) -> Gateway:
        self.process.wait_healthy(self.metrics_port)
        return self

    def wait_serving(self) -> Gateway:
        """Ready without a login: the metrics endpoint answers (503 is fine)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.process.assert_running()
            try:
                http_json(f"http://127.0.0.1:{self.metrics_port}/health", timeout_s=0.5)
                return self
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError(f"gateway not serving:\n{self.process.log()}")

    def restart(self) -> Gateway:
        self.process.kill()
        self._open()
        return self

    def client(self, timeout_ms: int = 3000) -> ReliableClient:
        client = ReliableClient(self.context, self.router, timeout_ms=timeout_ms)
        self.clients.append(client)
        return client

    def ask(self, body: object, timeout_ms: int = 3000) -> Reply:
        return self.client(timeout_ms).request(body)

    def subscriber(self, *topics: bytes) -> zmq.Socket[bytes]:
        """A SUB that has provably joined: it has seen a heartbeat."""
        sub = make_socket(
            self.context, zmq.SUB, connect=self.pub, subscribe=(HEARTBEAT_TOPIC, *topics)
        )
        topic, _ = receive(sub, 5000)
        while topic != HEARTBEAT_TOPIC:
            topic, _ = receive(sub, 5000)
        return sub

    def metric(self, line_start: str) -> float:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
        values = [line.split()[-1] for line in text.splitlines() if line.startswith(line_start)]
        return float(values[0]) if values else 0.0

    def health(self) -> tuple[int, dict[str, object]]:
        return http_json(f"http://127.0.0.1:{self.metrics_port}/health")

    def orders_at_exchange(self, client_order_id: str) -> list[tuple[str, str]]:
        with closing(sqlite3.connect(self.state_path)) as db:
            rows = db.execute(
                "SELECT broker_order_id, status FROM orders WHERE client_order_id = ?",
                (client_order_id,),
            ).fetchall()
        return [(str(row[0]), str(row[1])) for row in rows]

    def journal_rows(self, client_order_id: str) -> int:
        """Rows of the gateway's own journal for `client_order_id`, open or completed."""
        with closing(sqlite3.connect(self.folder / "gateway-journal.sqlite")) as db:
            row = db.execute(
                "SELECT COUNT(*) FROM orders WHERE client_order_id = ?", (client_order_id,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.process.kill()


def receive(sock: zmq.Socket[bytes], timeout_ms: int = 3000) -> tuple[bytes, object]:
    if not sock.poll(timeout_ms):
        raise AssertionError(f"nothing received within {timeout_ms} ms")
    topic, payload = sock.recv_multipart()
    return topic, decode(payload)


def an_order(
    client_order_id: str | None = None,
    *,
    symbol: str = "TXFL6",
    account: str = "SIM-0001",
    quantity: int = 1,
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.MARKET,
    price: Decimal | None = None,
    time_in_force: TimeInForce = TimeInForce.IOC,
) -> PlaceOrder:
    return PlaceOrder(
        client_order_id=client_order_id or f"T{uuid.uuid4().hex[:15]}",
        account=account,
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=price,
        time_in_force=time_in_force,
        ts_ns=time.time_ns(),
    )


def snapshot_of(reply: Reply) -> OrderSnapshot:
    assert reply.ok, reply
    assert isinstance(reply.body, OrderSnapshot)
    return reply.body


@pytest.fixture(scope="module")
def gateway_context() -> Iterator[Context]:
    context: Context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture(scope="module")
def gateway_shared(
    tmp_path_factory: pytest.TempPathFactory, gateway_context: Context
) -> Iterator[Gateway]:
    """One gateway for the tests that only add orders of their own ids."""
    gateway = Gateway(tmp_path_factory.mktemp("gateway"), gateway_context)
    yield gateway.wait_healthy()
    gateway.close()


@pytest.fixture
def gateway_factory(tmp_path: Path, gateway_context: Context) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def start(**env: str) -> Gateway:
        gateway = Gateway(tmp_path, gateway_context, **env)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.close()


# --- market data -----------------------------------------------------------------------------


def test_ticks_arrive_with_increasing_per_symbol_seq(gateway_shared: Gateway) -> None:
    sub = gateway_shared.subscriber(TICK_TOPIC)
    seen: dict[str, list[int]] = {}
    while sum(map(len, seen.values())) < 60:
        topic, tick = receive(sub)
        if topic == HEARTBEAT_TOPIC:
            continue
        assert isinstance(tick, Tick)
        assert topic == TICK_TOPIC + tick.symbol.encode()
        assert abs(tick.ts_ns - time.time_ns()) < 2_000_000_000  # stamped by the gateway
        assert 20_000 < tick.price < 26_000
        seen.setdefault(tick.symbol, []).append(tick.seq)
    sub.close()

    assert set(seen) == {"TXFL6", "MXFL6", "TMFL6"}
    for seqs in seen.values():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert seqs[0] >= 1


def test_futures_accounts_and_health_are_listed(gateway_shared: Gateway) -> None:
    futures = gateway_shared.ask(ListFutures()).body
    accounts = gateway_shared.ask(ListAccounts()).body
    health = gateway_shared.ask(GetHealth()).body

    assert isinstance(futures, FutureList)
    assert [(f.symbol, f.point_value_twd, f.registered) for f in futures.futures] == [
        ("MXFL6", 50, True),
        ("TMFL6", 10, True),
        ("TXFL6", 200, True),
    ]
    assert all(f.last_price > 0 for f in futures.futures)
    assert accounts == AccountList(("SIM-0001",))
    assert isinstance(health, GatewayHealth)
    assert (health.broker, health.logged_in) == ("sim", True)
    assert health.last_broker_event_ns > 0
    assert health.symbols == ("MXFL6", "TMFL6", "TXFL6")  # what the strategy holds conditions to


# --- orders --------------------------------------------------------------------------------


def test_a_market_order_fills_and_is_reported(gateway_shared: Gateway) -> None:
    sub = gateway_shared.subscriber(ORDER_TOPIC, FILL_TOPIC)
    order = an_order(quantity=2, symbol="MXFL6", side=Side.SELL)

    filled = snapshot_of(gateway_shared.ask(order))

    assert (filled.status, filled.filled_quantity) == (OrderStatus.FILLED, 2)
    assert filled.average_price is not None
    reports: dict[bytes, object] = {}
    while len(reports) < 2:
        topic, event = receive(sub)
        if topic != HEARTBEAT_TOPIC:
            reports[topic] = event
    sub.close()
    fill = reports[FILL_TOPIC]
    assert isinstance(fill, OrderFilled)
    assert (fill.client_order_id, fill.quantity, fill.price) == (
        order.client_order_id,
        2,
        filled.average_price,
    )
    assert reports[ORDER_TOPIC] == OrderUpdated(filled)
    orders = gateway_shared.ask(ListOrders()).body
    assert isinstance(orders, OrderList)
    assert filled in orders.orders
    positions = gateway_shared.ask(ListPositions(account="SIM-0001")).body
    assert isinstance(positions, PositionList)
    assert any(p.symbol == "MXFL6" and p.net_quantity <= -2 for p in positions.positions)


def test_the_same_client_order_id_twice_is_one_broker_order(gateway_shared: Gateway) -> None:
    order = an_order()
    duplicates_before = gateway_shared.metric('aftm_gateway_orders_total{result="duplicate"}')

    first = snapshot_of(gateway_shared.ask(order))
    second = snapshot_of(gateway_shared.ask(order))

    assert first == second
    assert gateway_shared.orders_at_exchange(order.client_order_id) == [
        (first.broker_order_id, "filled")
    ]
    after = gateway_shared.metric('aftm_gateway_orders_total{result="duplicate"}')
    assert after == duplicates_before + 1


def test_the_same_id_with_different_content_is_invalid(gateway_shared: Gateway) -> None:
    order = an_order()
    snapshot_of(gateway_shared.ask(order))

    reply = gateway_shared.ask(an_order(order.client_order_id, quantity=3))

    assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID)
    assert "client_order_id" in reply.error
    assert len(gateway_shared.orders_at_exchange(order.client_order_id)) == 1


# Integers beyond 64 bits only a forged frame can hold: the codec refuses to frame them.
BEYOND_64_BITS = ({"quantity": 2**63}, {"quantity": 2**64 - 1})


@pytest.mark.parametrize(
    ("order", "changes", "field"),
    [
        (an_order(symbol="TXFA9"), {}, "symbol"),
        (an_order(quantity=0), {}, "quantity"),
        *((an_order(), changes, "quantity") for changes in BEYOND_64_BITS),
        (an_order(quantity=11), {}, "quantity"),  # TAIFEX takes at most 10 lots at market
        (an_order(account="SIM-9999"), {}, "account"),
        (an_order(order_type=OrderType.LIMIT), {}, "price"),
        (an_order(order_type=OrderType.LIMIT, price=Decimal("23000.5")), {}, "price"),
        (an_order(order_type=OrderType.LIMIT, price=Decimal("1E+30")), {}, "price"),
        (an_order("A" * 300), {}, "client_order_id"),
        (an_order("A\x00"), {}, "client_order_id"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_orders_are_invalid_naming_the_field(
    gateway_shared: Gateway, order: PlaceOrder, changes: dict[str, object], field: str
) -> None:
    reply = ask_forged(gateway_shared.context, gateway_shared.router, order, changes)

    assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID)
    assert f"field {field!r}" in reply.error
    assert len(reply.error) < 300  # the refusal does not echo a long value back
    assert gateway_shared.orders_at_exchange(order.client_order_id) == []
    assert gateway_shared.journal_rows(order.client_order_id) == 0


@pytest.mark.parametrize("price", ["NaN", "Infinity", "-0", 23000.5, 23000.0, True])
def test_a_price_the_wire_cannot_carry_is_invalid_naming_the_field(
    gateway_shared: Gateway, price: object
) -> None:
    order = an_order(order_type=OrderType.LIMIT, price=Decimal(23_000))
    frame = msgpack.unpackb(encode(Request("r-price", order)))
    frame["body"]["price"] = price  # what no encoder would write
    dealer = make_socket(gateway_shared.context, zmq.DEALER, connect=gateway_shared.router)

    dealer.send(msgpack.packb(frame, use_bin_type=True))

    assert dealer.poll(3000), "no answer to a request with a malformed price"
    reply = decode(dealer.recv())
    dealer.close()
    assert isinstance(reply, Reply)
    assert (reply.request_id, reply.ok, reply.error_code) == ("r-price", False, ErrorCode.INVALID)
    assert "field 'price'" in reply.error
    assert gateway_shared.journal_rows(order.client_order_id) == 0
    assert gateway_shared.orders_at_exchange(order.client_order_id) == []


def test_an_order_over_the_broker_limit_is_rejected_with_a_reason(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(AFTM_GATEWAY_SIM_MAX_ORDER_QUANTITY="5").wait_healthy()

    rejected = snapshot_of(gateway.ask(an_order(quantity=6)))

    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason == "quantity 6 exceeds the maximum of 5 per order"


def test_a_resting_limit_order_can_be_cancelled(gateway_shared: Gateway) -> None:
    order = an_order(order_type=OrderType.LIMIT, price=Decimal(1000), time_in_force=TimeInForce.ROD)
    resting = snapshot_of(gateway_shared.ask(order))

    cancelled = snapshot_of(gateway_shared.ask(CancelOrder(order.client_order_id)))

    assert resting.status is OrderStatus.ACCEPTED
    assert cancelled.status is OrderStatus.CANCELLED
    assert snapshot_of(gateway_shared.ask(QueryOrder(order.client_order_id))) == cancelled
    unknown = gateway_shared.ask(QueryOrder("never-sent"))
    assert (unknown.ok, unknown.error_code) == (False, ErrorCode.NOT_FOUND)


def test_malformed_frames_are_counted_and_dropped(gateway_shared: Gateway) -> None:
    before = gateway_shared.metric('aftm_gateway_malformed_frames_total{socket="router"}')
    dealer = make_socket(gateway_shared.context, zmq.DEALER, connect=gateway_shared.router)
    dealer.send(b"\x00garbage")
    dealer.send_multipart([b"two", b"frames"])
    dealer.send(encode(Tick("TXFL6", 1, 1, 1)))  # decodes, but is no Request
    dealer.send(encode(Request("r1", ListConditions())))  # a Request the gateway does not serve

    topic = dealer.poll(3000)
    assert topic, "no reply to the unsupported request"
    reply = decode(dealer.recv())
    dealer.close()

    assert isinstance(reply, Reply)
    assert (reply.request_id, reply.ok, reply.error_code) == ("r1", False, ErrorCode.BAD_REQUEST)
    assert gateway_shared.ask(GetHealth()).ok
    after = gateway_shared.metric('aftm_gateway_malformed_frames_total{socket="router"}')
    assert after == before + 3


# --- session -------------------------------------------------------------------------------


def test_logout_refuses_orders_and_turns_health_red(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory().wait_healthy()

    assert gateway.ask(Logout()).ok
    refused = gateway.ask(an_order())
    status, details = gateway.health()
    wrong = gateway.ask(Login("sim", "wrong"))
    out_of_shape = [
        gateway.ask(Login(user, password))
        for user, password in [("", "sim"), ("sim", ""), ("u" * 65, "sim"), ("sim\n", "sim")]
    ]
    huge = gateway.ask(Login("sim", "p" * 1_000_000))
    assert gateway.ask(Login("sim", "sim")).ok
    time.sleep(0.1)  # let a tick arrive so the broker is fresh again

    assert [(r.ok, r.error_code) for r in out_of_shape] == [(False, ErrorCode.INVALID)] * 4
    assert (huge.ok, huge.error_code) == (False, ErrorCode.INVALID)
    assert "p" * 100 not in (huge.error or "")  # a password is never echoed

    assert (refused.ok, refused.error_code) == (False, ErrorCode.NOT_LOGGED_IN)
    assert (status, details["logged_in"]) == (503, False)
    assert (wrong.ok, wrong.error_code) == (False, ErrorCode.REJECTED)
    assert gateway.health()[0] == 200
    assert gateway.metric("aftm_gateway_logged_in") == 1.0


def test_unregistered_items_stop_ticking(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(AFTM_GATEWAY_ITEMS="TXFL6").wait_healthy()

    registered = gateway.ask(RegisterItem("MXFL6")).body
    assert gateway.ask(UnregisterItem("TXFL6")).ok
    unknown = gateway.ask(RegisterItem("NOPE"))
    sub = gateway.subscriber(TICK_TOPIC)
    symbols: set[str] = set()
    for _ in range(40):
        _, event = receive(sub)
        if isinstance(event, Tick):
            symbols.add(event.symbol)
    sub.close()

    assert isinstance(registered, FutureList)
    assert {f.symbol for f in registered.futures if f.registered} == {"TXFL6", "MXFL6"}
    assert (unknown.ok, unknown.error_code) == (False, ErrorCode.INVALID)
    assert symbols == {"MXFL6"}


def test_the_password_comes_from_the_secrets_dir_and_is_never_logged(
    gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "aftm_gateway_password").write_text("s3cr3t-pw\n")
    gateway = gateway_factory(AFTM_SECRETS_DIR=str(secrets), AFTM_GATEWAY_LOG_LEVEL="DEBUG")

    gateway.wait_healthy()  # auto-login with the secret
    assert gateway.ask(Login("sim", "sim")).error_code == ErrorCode.REJECTED
    assert gateway.ask(Login("sim", "s3cr3t-pw")).ok
    gateway.process.stop()

    assert "s3cr3t-pw" not in gateway.process.log()


# --- crashes and lost replies ----------------------------------------------------------------


def test_a_kill_during_place_then_the_same_id_again_is_one_order(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(AFTM_GATEWAY_FAULT_DELAY_MS="1500").wait_healthy()
    order = an_order()
    dealer = make_socket(gateway.context, zmq.DEALER, connect=gateway.router)
    dealer.send(encode(Request("in-flight", order)))
    deadline = time.monotonic() + 3
    while not gateway.orders_at_exchange(order.client_order_id):
        assert time.monotonic() < deadline, "the broker never recorded the order"
        time.sleep(0.02)
    gateway.restart()  # SIGKILL while the broker "takes" 1.5 s to answer
    dealer.close()
    gateway.wait_healthy()

    answer = snapshot_of(gateway.ask(order, timeout_ms=5000))

    at_exchange = gateway.orders_at_exchange(order.client_order_id)
    assert at_exchange == [(answer.broker_order_id, "filled")]
    assert answer.status is OrderStatus.FILLED


def fills_after(gateway: Gateway, after: int, limit: int = 1000) -> FillList:
    reply = gateway.ask(ListFills(after=after, limit=limit), timeout_ms=5000)
    assert isinstance(reply.body, FillList), reply
    return reply.body


def test_a_fill_never_published_by_a_killed_gateway_is_listed_after_its_restart(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(AFTM_GATEWAY_FAULT_DELAY_MS="1500").wait_healthy()
    before = fills_after(gateway, 0)
    order = an_order(quantity=2)
    dealer = make_socket(gateway.context, zmq.DEALER, connect=gateway.router)
    dealer.send(encode(Request("in-flight", order)))
    deadline = time.monotonic() + 3
    while not gateway.orders_at_exchange(order.client_order_id):
        assert time.monotonic() < deadline, "the broker never recorded the order"
        time.sleep(0.02)
    gateway.restart()  # SIGKILL before the fill was published to anyone
    dealer.close()
    gateway.wait_healthy()

    listed = fills_after(gateway, before.last)

    assert [(f.client_order_id, f.quantity) for f in listed.fills] == [(order.client_order_id, 2)]
    assert listed.ledger == before.ledger
    assert listed.last > before.last
    assert fills_after(gateway, listed.last).fills == ()  # a cursor at the end gets nothing
    gateway.restart().wait_healthy()
    again = fills_after(gateway, 0)
    assert (again.ledger, again.last) == (listed.ledger, listed.last)  # learned once, kept


def test_fills_are_paged_and_bad_pages_are_invalid(gateway_shared: Gateway) -> None:
    for _ in range(3):
        assert snapshot_of(gateway_shared.ask(an_order())).status is OrderStatus.FILLED
    everything = fills_after(gateway_shared, 0)
    paged: list[OrderFilled] = []
    cursor = 0
    while True:
        page = fills_after(gateway_shared, cursor, limit=2)
        if not page.fills:
            break
        assert len(page.fills) <= 2
        paged.extend(page.fills)
        cursor = page.last
    assert paged == list(everything.fills)
    assert len(paged) >= 3
    for bad, field in ((ListFills(limit=0), "limit"), (ListFills(after=-1), "after")):
        reply = gateway_shared.ask(bad)
        assert (reply.ok, reply.error_code) == (False, ErrorCode.INVALID)
        assert field in reply.error


def test_a_dropped_reply_is_resolved_by_asking(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(AFTM_GATEWAY_FAULT_DROP_REPLIES="1").wait_healthy()
    order = an_order()

    with pytest.raises(RequestTimedOut):
        gateway.ask(order, timeout_ms=500)
    queried = snapshot_of(gateway.ask(QueryOrder(order.client_order_id)))
    resent = snapshot_of(gateway.ask(order))

    assert queried.status is OrderStatus.FILLED
    assert resent == queried
    assert len(gateway.orders_at_exchange(order.client_order_id)) == 1


def test_a_broker_timeout_is_unavailable_and_a_resend_finds_the_order(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(
        AFTM_GATEWAY_FAULT_DELAY_MS="400", AFTM_GATEWAY_BROKER_TIMEOUT_MS="100"
    ).wait_healthy()
    order = an_order()

    unknown = gateway.ask(order)
    resent = snapshot_of(gateway.ask(order))

    assert (unknown.ok, unknown.error_code) == (False, ErrorCode.UNAVAILABLE)
    assert resent.status is OrderStatus.FILLED
    assert len(gateway.orders_at_exchange(order.client_order_id)) == 1
    assert gateway.metric('aftm_gateway_orders_total{result="unavailable"}') == 1.0


def test_injected_rejections(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(AFTM_GATEWAY_FAULT_REJECT_ORDERS="true").wait_healthy()

    rejected = snapshot_of(gateway.ask(an_order()))

    assert (rejected.status, rejected.reason) == (OrderStatus.REJECTED, "injected rejection")


# --- process lifecycle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_GATEWAY_SIM_TICKS_PER_S", "-1"),
        ("AFTM_GATEWAY_BROKER", "bogus"),
        ("AFTM_GATEWAY_PUB_BIND", "localhost:5555"),
        ("AFTM_GATEWAY_REPLAY_FILE", "/nonexistent/ticks.csv"),
        ("AFTM_GATEWAY_ITEMS", "TXFL6,NOPE"),
        ("AFTM_GATEWAY_SIM_SYMBOLS", "XYZL6"),
    ],
)
def test_invalid_settings_exit_2_naming_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = {
        "AFTM_GATEWAY_JOURNAL_PATH": str(tmp_path / "journal.sqlite"),
        "AFTM_GATEWAY_SIM_STATE_PATH": str(tmp_path / "sim.sqlite"),
        "AFTM_GATEWAY_BROKER": "replay" if variable == "AFTM_GATEWAY_REPLAY_FILE" else "sim",
        variable: value,
    }
    finished = subprocess.run(
        [sys.executable, "-m", "aftm_gateway"],
        env={**_clean_environment(), **env},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )

    assert finished.returncode == 2, finished.stderr
    assert f"invalid setting {variable}" in finished.stderr


def _clean_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("AFTM_")}


def test_sigterm_stops_cleanly_and_quickly(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory().wait_healthy()

    started = time.monotonic()
    code = gateway.process.stop()

    assert code == 0
    assert time.monotonic() - started < 2.0


# --- replay --------------------------------------------------------------------------------


def test_a_replay_publishes_exactly_the_file_ticks_in_order(
    gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    rows = [("TXFL6" if i % 3 else "MXFL6", 23_000 + (i * 7) % 11, 1 + i % 5) for i in range(40)]
    csv = tmp_path / "ticks.csv"
    csv.write_text(
        "ts,symbol,price,qty\n"
        + "".join(
            f"2026-11-02T08:45:{i:02d}.{i * 3:03d},{symbol},{price},{qty}\n"
            for i, (symbol, price, qty) in enumerate(rows)
        )
    )
    gateway = gateway_factory(
        AFTM_GATEWAY_BROKER="replay",
        AFTM_GATEWAY_REPLAY_FILE=str(csv),
        AFTM_GATEWAY_REPLAY_SPEED="100",
        AFTM_GATEWAY_AUTO_LOGIN="false",
    ).wait_serving()
    sub = gateway.subscriber(TICK_TOPIC)

    assert gateway.ask(Login("sim", "sim")).ok  # the replay starts with the session
    ticks: list[Tick] = []
    while len(ticks) < len(rows):
        _, event = receive(sub)
        if isinstance(event, Tick):
            ticks.append(event)
    extra = ticks_within(sub, 0.3)
    sub.close()

    assert [(t.symbol, t.price, t.qty) for t in ticks] == rows
    for symbol in ("TXFL6", "MXFL6"):
        seqs = [t.seq for t in ticks if t.symbol == symbol]
        assert seqs == list(range(1, len(seqs) + 1))
    assert extra == []
    filled = snapshot_of(gateway.ask(an_order(symbol="MXFL6")))  # fills at the replayed price
    last_mxf = [price for symbol, price, _ in rows if symbol == "MXFL6"][-1]
    assert filled.average_price == Decimal(last_mxf)


def ticks_within(sub: zmq.Socket[bytes], seconds: float) -> list[Tick]:
    ticks: list[Tick] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if sub.poll(int(left * 1000) + 1):
            event = decode(sub.recv_multipart()[1])
            if isinstance(event, Tick):
                ticks.append(event)
    return ticks
