"""The Lazy-Pirate client against a real ROUTER on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import zmq

from aftm.wire.protocol import GetHealth, ListOrders, OrderList
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import bound_endpoint, make_socket, ok, read_request, reply_frames

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


class Server:
    """Answers ListOrders; swallows the first `drop` requests; echoes a stale reply first."""

    def __init__(self, context: Context, *, drop: int = 0, stale_first: bool = False) -> None:
        self.router = make_socket(context, zmq.ROUTER, bind="tcp://127.0.0.1:*")
        self.endpoint = bound_endpoint(self.router)
        self.drop, self.stale_first, self.seen = drop, stale_first, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            if not self.router.poll(20):
                continue
            identity, request = read_request(self.router.recv_multipart())
            self.seen += 1
            if self.seen <= self.drop:
                continue
            if self.stale_first:
                stale = ok(type(request)("not-yours", request.body), OrderList(orders=()))
                self.router.send_multipart(reply_frames(identity, stale))
                self.router.send_multipart([identity, b"\x00garbage"])
            self.router.send_multipart(reply_frames(identity, ok(request, OrderList(orders=()))))

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.router.close()


def test_a_reply_is_matched_to_its_request(context: Context) -> None:
    with Server(context) as server:
        client = ReliableClient(context, server.endpoint, timeout_ms=2000)

        reply = client.request(ListOrders())

        assert reply.ok
        assert reply.body == OrderList(orders=())
        client.close()


def test_stale_and_garbled_replies_are_skipped(context: Context) -> None:
    with Server(context, stale_first=True) as server:
        client = ReliableClient(context, server.endpoint, timeout_ms=2000)

        assert client.request(ListOrders()).body == OrderList(orders=())
        client.close()


def test_a_timeout_raises_and_the_client_recovers(context: Context) -> None:
    with Server(context, drop=1) as server:
        client = ReliableClient(context, server.endpoint, timeout_ms=200)

        with pytest.raises(RequestTimedOut, match="no reply"):
            client.request(GetHealth())
        assert client.request(GetHealth()).ok  # new socket, new request id
        client.close()


def test_retries_only_when_asked(context: Context) -> None:
    with Server(context, drop=2) as server:
        client = ReliableClient(context, server.endpoint, timeout_ms=200)

        assert client.request(GetHealth(), retries=2).ok
        assert server.seen == 3
        client.close()
