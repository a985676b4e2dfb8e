"""CURVE with role allow-lists on real sockets (127.0.0.1, ports from the OS).

The server side of each test uses its own zmq.Context with a RoleAuthenticator, as a service
process would; clients use another context, as another process would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq
from loguru import logger

from aftm.domain.orders import PlaceOrder
from aftm.domain.signals import Signal
from aftm.domain.types import Side
from aftm.security import keys
from aftm.security.curve import (
    Gate,
    Refusal,
    RefusalLog,
    RoleAuthenticator,
    connect_as,
    role_of,
    serve,
)
from aftm.security.keys import KeyPair
from aftm.security.roles import BoundSocket, Role, refusal
from aftm.wire.codec import decode, encode
from aftm.wire.protocol import Request, SetTradingMode, TradingMode
from tests.builders import a_signal

Context = zmq.Context[zmq.Socket[bytes]]
Socket = zmq.Socket[bytes]
WAIT_MS = 3000
QUIET_MS = 500  # how long "nothing arrives" is watched


class Counts:
    """The metric a service would export, as a plain dict (called from the ZAP thread)."""

    def __init__(self) -> None:
        self.by_reason: dict[tuple[Refusal, str], int] = {}

    def __call__(self, reason: Refusal, socket: str) -> None:
        key = (reason, socket)
        self.by_reason[key] = self.by_reason.get(key, 0) + 1

    def of(self, reason: Refusal, socket: BoundSocket) -> int:
        return self.by_reason.get((reason, str(socket)), 0)


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("curve") / "keys"
    keys.create(folder)
    return folder


def pair(folder: Path, role: Role) -> KeyPair:
    return keys.load_pair(folder, role)


@pytest.fixture
def counts() -> Counts:
    return Counts()


@pytest.fixture
def server_context(key_folder: Path, counts: Counts) -> Iterator[Context]:
    context: Context = zmq.Context()
    try:
        with RoleAuthenticator(context, keys.load_trusted(key_folder), RefusalLog(counts)):
            yield context
    finally:
        context.destroy(linger=0)


@pytest.fixture
def client_context() -> Iterator[Context]:
    context: Context = zmq.Context()
    yield context
    context.destroy(linger=0)


def bound(context: Context, kind: int, pair: KeyPair, as_: BoundSocket) -> tuple[Socket, str]:
    socket = context.socket(kind)
    socket.linger = 0
    serve(socket, pair, as_)
    port = socket.bind_to_random_port("tcp://127.0.0.1")
    return socket, f"tcp://127.0.0.1:{port}"


def connected(context: Context, kind: int, me: KeyPair, server: bytes, endpoint: str) -> Socket:
    socket = context.socket(kind)
    socket.linger = 0
    socket.sndtimeo = WAIT_MS
    socket.reconnect_ivl = 20
    connect_as(socket, me, server)
    socket.connect(endpoint)
    return socket


def stranger() -> KeyPair:
    public, secret = zmq.curve_keypair()
    return KeyPair(Role.CONSOLE, public, secret)  # a valid pair that no one trusts


def a_place_order() -> PlaceOrder:
    return PlaceOrder("E0000000000001", "SIM-0001", "TXFL6", Side.BUY, 1)


def receive(socket: Socket) -> list[zmq.Frame]:
    assert socket.poll(WAIT_MS), "nothing arrived in time"
    return socket.recv_multipart(copy=False)


def assert_silent(socket: Socket) -> None:
    assert socket.poll(QUIET_MS) == 0, "a message arrived that should not have"


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def router(server_context: Context, key_folder: Path) -> tuple[Socket, str]:
    gateway = pair(key_folder, Role.GATEWAY)
    return bound(server_context, zmq.ROUTER, gateway, BoundSocket.GATEWAY_ROUTER)


@pytest.mark.parametrize("role", [Role.CONSOLE, Role.EXECUTOR])
def test_the_router_admits_a_trusted_role_and_reads_it_from_user_id(
    router: tuple[Socket, str], client_context: Context, key_folder: Path, role: Role
) -> None:
    server, endpoint = router
    gateway = keys.load_public(key_folder, Role.GATEWAY)
    client = connected(client_context, zmq.DEALER, pair(key_folder, role), gateway, endpoint)
    client.send(b"ping")
    identity, payload = receive(server)
    assert payload.bytes == b"ping"
    assert role_of([identity, payload]) is role
    server.send_multipart([identity.bytes, b"pong"])
    assert [frame.bytes for frame in receive(client)] == [b"pong"]


def test_an_unknown_key_gets_nothing_back_and_is_counted(
    router: tuple[Socket, str], client_context: Context, key_folder: Path, counts: Counts
) -> None:
    server, endpoint = router
    gateway = keys.load_public(key_folder, Role.GATEWAY)
    intruder = connected(client_context, zmq.DEALER, stranger(), gateway, endpoint)
    intruder.send(b"place an order")
    assert_silent(server)
    assert_silent(intruder)
    wait_until(lambda: counts.of(Refusal.UNKNOWN_KEY, BoundSocket.GATEWAY_ROUTER) >= 1)
    # The refusal changes nothing for a trusted peer on the same socket.
    console = connected(
        client_context, zmq.DEALER, pair(key_folder, Role.CONSOLE), gateway, endpoint
    )
    console.send(b"ping")
    assert role_of(receive(server)) is Role.CONSOLE


def test_a_role_that_may_not_connect_is_refused_as_role(
    router: tuple[Socket, str], client_context: Context, key_folder: Path, counts: Counts
) -> None:
    server, endpoint = router
    gateway = keys.load_public(key_folder, Role.GATEWAY)
    strategy = connected(
        client_context, zmq.DEALER, pair(key_folder, Role.STRATEGY), gateway, endpoint
    )
    strategy.send(b"place an order")
    assert_silent(server)
    wait_until(lambda: counts.of(Refusal.ROLE, BoundSocket.GATEWAY_ROUTER) >= 1)
    assert counts.of(Refusal.UNKNOWN_KEY, BoundSocket.GATEWAY_ROUTER) == 0


def test_a_refused_peer_that_keeps_knocking_is_counted_each_time_and_logged_once(
    router: tuple[Socket, str], client_context: Context, key_folder: Path, counts: Counts
) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        _, endpoint = router
        gateway = keys.load_public(key_folder, Role.GATEWAY)
        intruder = stranger()
        knocking = [  # three processes with the same unknown key; kept open to knock
            connected(client_context, zmq.DEALER, intruder, gateway, endpoint) for _ in range(3)
        ]
        for socket in knocking:
            socket.send(b"x")
        wait_until(lambda: counts.of(Refusal.UNKNOWN_KEY, BoundSocket.GATEWAY_ROUTER) >= 3)
    finally:
        logger.remove(sink)
    refused = [line for line in lines if "reason=unknown_key" in line]
    assert len(refused) == 1
    assert intruder.secret.decode() not in refused[0]


def test_a_request_from_an_admitted_role_is_checked_against_the_table(
    server_context: Context, client_context: Context, key_folder: Path
) -> None:
    """The strategy may push signals to the executor but not change its mode; the console may
    change the mode but not push a signal: the handshake and the table together say so."""
    executor = pair(key_folder, Role.EXECUTOR)
    control, control_at = bound(server_context, zmq.ROUTER, executor, BoundSocket.EXECUTOR_CONTROL)
    console = connected(
        client_context, zmq.DEALER, pair(key_folder, Role.CONSOLE), executor.public, control_at
    )
    console.send(encode(Request("r-1", SetTradingMode(TradingMode.HALTED))))
    frames = receive(control)
    request = decode(frames[-1].bytes)
    assert isinstance(request, Request)
    assert refusal(BoundSocket.EXECUTOR_CONTROL, role_of(frames), type(request.body)) is None
    # What the console would be refused if it reached the executor's PULL socket:
    assert refusal(BoundSocket.EXECUTOR_PULL, role_of(frames), Signal) is not None


def test_pub_sub_under_curve_reaches_a_trusted_subscriber_only(
    server_context: Context, client_context: Context, key_folder: Path
) -> None:
    gateway = pair(key_folder, Role.GATEWAY)
    pub, endpoint = bound(server_context, zmq.PUB, gateway, BoundSocket.GATEWAY_PUB)
    subscribers = {
        "strategy": connected(
            client_context, zmq.SUB, pair(key_folder, Role.STRATEGY), gateway.public, endpoint
        ),
        "stranger": connected(client_context, zmq.SUB, stranger(), gateway.public, endpoint),
    }
    for sub in subscribers.values():
        sub.subscribe(b"")
    deadline = time.monotonic() + WAIT_MS / 1000
    while not subscribers["strategy"].poll(50):  # a subscription takes a moment to arrive
        assert time.monotonic() < deadline, "the trusted subscriber never got a tick"
        pub.send_multipart([b"tick:TXFL6", b"payload"])
    assert [f.bytes for f in receive(subscribers["strategy"])] == [b"tick:TXFL6", b"payload"]
    assert_silent(subscribers["stranger"])


def test_push_pull_under_curve_admits_the_strategy_only(
    server_context: Context, client_context: Context, key_folder: Path, counts: Counts
) -> None:
    executor = pair(key_folder, Role.EXECUTOR)
    pull, endpoint = bound(server_context, zmq.PULL, executor, BoundSocket.EXECUTOR_PULL)
    forged = connected(
        client_context, zmq.PUSH, pair(key_folder, Role.CONSOLE), executor.public, endpoint
    )
    forged.send(encode(a_signal()), zmq.DONTWAIT)
    strategy = connected(
        client_context, zmq.PUSH, pair(key_folder, Role.STRATEGY), executor.public, endpoint
    )
    strategy.send(encode(a_signal()))
    frames = receive(pull)
    assert role_of(frames) is Role.STRATEGY
    assert isinstance(decode(frames[-1].bytes), Signal)
    assert_silent(pull)  # the console's signal never arrives
    wait_until(lambda: counts.of(Refusal.ROLE, BoundSocket.EXECUTOR_PULL) >= 1)


def test_a_server_without_an_authenticator_admits_no_one(
    client_context: Context, key_folder: Path
) -> None:
    """Fail closed: a service that forgot to start its authenticator is deaf, not open."""
    context: Context = zmq.Context()
    try:
        gateway = pair(key_folder, Role.GATEWAY)
        server, endpoint = bound(context, zmq.ROUTER, gateway, BoundSocket.GATEWAY_ROUTER)
        console = connected(
            client_context, zmq.DEALER, pair(key_folder, Role.CONSOLE), gateway.public, endpoint
        )
        console.send(b"ping")
        assert_silent(server)
    finally:
        context.destroy(linger=0)


def test_a_plain_connection_has_no_role(client_context: Context) -> None:
    server = client_context.socket(zmq.PULL)
    server.linger = 0
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = client_context.socket(zmq.PUSH)
    client.linger = 0
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"x")
    assert role_of(receive(server)) is None
    assert role_of([]) is None


@pytest.mark.parametrize(("role", "refused"), [(Role.EXECUTOR, False), (Role.CONSOLE, True)])
def test_the_gate_lets_only_the_executor_place_an_order_at_the_gateway(
    router: tuple[Socket, str],
    client_context: Context,
    key_folder: Path,
    counts: Counts,
    role: Role,
    refused: bool,
) -> None:
    server, endpoint = router
    gateway = keys.load_public(key_folder, Role.GATEWAY)
    client = connected(client_context, zmq.DEALER, pair(key_folder, role), gateway, endpoint)
    client.send(encode(Request("r-1", a_place_order())))
    frames = receive(server)
    request = decode(frames[-1].bytes)
    assert isinstance(request, Request)
    gate = Gate(BoundSocket.GATEWAY_ROUTER, RefusalLog(counts), secure=True)
    reason = gate.check(frames, request.body)
    assert (reason is not None) is refused
    assert counts.of(Refusal.ROLE, BoundSocket.GATEWAY_ROUTER) == int(refused)
    insecure = Gate(BoundSocket.GATEWAY_ROUTER, RefusalLog(counts), secure=False)
    assert insecure.check(frames, request.body) is None


def test_a_failing_refusal_callback_does_not_stop_authentication(
    client_context: Context, key_folder: Path
) -> None:
    def broken(reason: Refusal, socket: str) -> None:
        raise RuntimeError("metrics are down")

    context: Context = zmq.Context()
    try:
        with RoleAuthenticator(context, keys.load_trusted(key_folder), RefusalLog(broken)):
            gateway = pair(key_folder, Role.GATEWAY)
            server, endpoint = bound(context, zmq.ROUTER, gateway, BoundSocket.GATEWAY_ROUTER)
            intruder = connected(client_context, zmq.DEALER, stranger(), gateway.public, endpoint)
            intruder.send(b"x")
            assert_silent(server)
            console = connected(
                client_context, zmq.DEALER, pair(key_folder, Role.CONSOLE), gateway.public, endpoint
            )
            console.send(b"ping")
            assert role_of(receive(server)) is Role.CONSOLE
    finally:
        context.destroy(linger=0)
