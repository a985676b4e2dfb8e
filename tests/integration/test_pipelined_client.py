"""The pipelined request client against a real ROUTER on 127.0.0.1, driven by the test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq

from aftm.wire.codec import encode
from aftm.wire.pipelined import Answered, PipelinedClient, Received
from aftm.wire.protocol import GetHealth, ListOrders, OrderList, Request
from aftm.wire.sockets import bound_endpoint, make_socket, ok, read_request, reply_frames

Context = zmq.Context[zmq.Socket[bytes]]
WAIT_MS = 2000


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def router(context: Context) -> Iterator[zmq.Socket[bytes]]:
    sock = make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:*")
    yield sock
    sock.close()


def read_requests(router: zmq.Socket[bytes], count: int) -> list[tuple[bytes, Request]]:
    requests = []
    for _ in range(count):
        assert router.poll(WAIT_MS), "the request never reached the server"
        requests.append(read_request(router.recv_multipart()))
    return requests


def receive_all(client: PipelinedClient[str], count: int) -> Received[str]:
    """Everything the client reads until `count` frames were answered or dropped."""
    answered: list[Answered[str]] = []
    dropped: list[str] = []
    deadline = time.monotonic() + WAIT_MS / 1000
    while len(answered) + len(dropped) < count and time.monotonic() < deadline:
        if client.socket.poll(50):
            received = client.receive()
            answered += received.answered
            dropped += received.dropped
    return Received(answered, dropped)


def test_requests_leave_at_once_and_replies_in_any_order_find_their_request(
    context: Context, router: zmq.Socket[bytes]
) -> None:
    client: PipelinedClient[str] = PipelinedClient(
        context, bound_endpoint(router), timeout_ms=WAIT_MS
    )
    for tag in ("first", "second", "third"):
        client.send(ListOrders(), tag)

    requests = read_requests(router, 3)  # all three are out before any reply
    assert client.in_flight() == ["first", "second", "third"]
    for identity, request in reversed(requests):
        router.send_multipart(reply_frames(identity, ok(request, OrderList(orders=()))))
    received = receive_all(client, 3)

    assert [answer.tag for answer in received.answered] == ["third", "second", "first"]
    assert all(answer.reply.body == OrderList(orders=()) for answer in received.answered)
    assert all(answer.round_trip_s > 0 for answer in received.answered)
    assert received.dropped == []
    assert client.in_flight() == []
    assert client.ms_to_deadline() is None
    client.close()


def test_garbled_and_unmatched_frames_are_dropped_with_a_reason(
    context: Context, router: zmq.Socket[bytes]
) -> None:
    client: PipelinedClient[str] = PipelinedClient(
        context, bound_endpoint(router), timeout_ms=WAIT_MS
    )
    client.send(ListOrders(), "order")
    [(identity, request)] = read_requests(router, 1)

    router.send_multipart([identity, b"\x00garbage"])
    router.send_multipart(reply_frames(identity, ok(Request("not-yours", GetHealth()))))
    router.send_multipart([identity, encode(GetHealth())])
    router.send_multipart(reply_frames(identity, ok(request, OrderList(orders=()))))
    received = receive_all(client, 4)

    assert [answer.tag for answer in received.answered] == ["order"]
    assert len(received.dropped) == 3
    assert "not-yours" in received.dropped[1]
    assert "expected a Reply" in received.dropped[2]
    client.close()


def test_a_timeout_gives_up_everything_in_flight_and_a_late_reply_never_surfaces(
    context: Context, router: zmq.Socket[bytes]
) -> None:
    client: PipelinedClient[str] = PipelinedClient(context, bound_endpoint(router), timeout_ms=100)
    client.send(ListOrders(), "slow")
    client.send(ListOrders(), "also waiting")
    requests = read_requests(router, 2)
    old_socket = client.socket

    assert client.expire() == []  # not due yet
    deadline_ms = client.ms_to_deadline()
    assert deadline_ms is not None
    assert 0 < deadline_ms <= 101
    time.sleep(0.15)
    given_up = client.expire()

    assert given_up == ["slow", "also waiting"]
    assert client.in_flight() == []
    assert client.socket is not old_socket
    for identity, request in requests:  # too late: their socket is gone
        router.send_multipart(reply_frames(identity, ok(request, OrderList(orders=()))))
    assert receive_all(client, 1) == Received([], [])

    client.send(ListOrders(), "after")  # the new socket works
    [(identity, request)] = read_requests(router, 1)
    router.send_multipart(reply_frames(identity, ok(request, OrderList(orders=()))))
    assert [answer.tag for answer in receive_all(client, 1).answered] == ["after"]
    client.close()
