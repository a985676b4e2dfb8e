"""The raw pyzmq floor: the pipeline's three hops with nothing but sockets in between.

Three processes, shaped like the services:
  gateway:  PUB (bind) stamps time.time_ns() into each message at `rate` msg/s and, between
            publishes, answers DEALER requests on its ROUTER (bind) by echoing them;
  strategy: SUB -> PUSH, forwarding every message unchanged;
  executor: PULL (bind) -> one DEALER round trip to the gateway's ROUTER per message; at the
            reply, latency = now - publish stamp.
Waits are blocking polls with a timeout, as in the services. No codec, no SQLite, no logging:
what is left is the sockets, the loopback and three Python loops.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import struct
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TypeVar

import zmq

from bench.children import die_with_parent

TOPIC = b"tick:FLOOR"
STAMP = struct.Struct(">q")
PADDING = bytes(56)  # about the size of an encoded Tick
GRACE_S = 1.0  # after the last publish: time for the last messages to arrive
POLL_MS = 100
NS_PER_S = 1_000_000_000

Context = zmq.Context[zmq.Socket[bytes]]
T = TypeVar("T")


def _as_child() -> None:
    """The bench stops its floor processes; a Ctrl-C meant for the bench is not for them."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _socket(context: Context, kind: int) -> zmq.Socket[bytes]:
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    return sock


def _bind(sock: zmq.Socket[bytes]) -> str:
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    return f"tcp://127.0.0.1:{port}"


def gateway_role(conn: Connection, rate: float) -> None:
    _as_child()
    context: Context = zmq.Context()
    pub, router = _socket(context, zmq.PUB), _socket(context, zmq.ROUTER)
    conn.send((_bind(pub), _bind(router)))
    start_ns, _, end_ns = conn.recv()
    interval_ns = round(NS_PER_S / rate)
    due_ns = start_ns
    try:
        while (now_ns := time.time_ns()) < end_ns:
            if now_ns >= due_ns:
                pub.send_multipart([TOPIC, STAMP.pack(time.time_ns()) + PADDING])
                due_ns += interval_ns
                continue
            if router.poll(math.ceil((due_ns - now_ns) / 1_000_000)):
                router.send_multipart(router.recv_multipart())
        # Keep answering the requests still on their way.
        while router.poll(round(GRACE_S * 1000)):
            router.send_multipart(router.recv_multipart())
    finally:
        context.destroy(linger=0)


def strategy_role(conn: Connection, pub: str, pull: str) -> None:
    _as_child()
    context: Context = zmq.Context()
    sub, push = _socket(context, zmq.SUB), _socket(context, zmq.PUSH)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
    sub.connect(pub)
    push.connect(pull)
    conn.send("connected")
    _, _, end_ns = conn.recv()
    try:
        while time.time_ns() < end_ns + GRACE_S * NS_PER_S:
            if sub.poll(POLL_MS):
                push.send(sub.recv_multipart()[1])
    finally:
        context.destroy(linger=0)


def executor_role(conn: Connection, router: str) -> None:
    _as_child()
    context: Context = zmq.Context()
    pull, dealer = _socket(context, zmq.PULL), _socket(context, zmq.DEALER)
    conn.send(_bind(pull))
    dealer.connect(router)
    _, measure_from_ns, end_ns = conn.recv()
    samples: list[int] = []
    try:
        while time.time_ns() < end_ns + GRACE_S * NS_PER_S:
            if not pull.poll(POLL_MS):
                continue
            dealer.send(pull.recv())
            if not dealer.poll(round(GRACE_S * 1000)):
                continue  # the gateway stopped; nothing more to measure
            reply = dealer.recv()
            now_ns = time.time_ns()
            (stamp_ns,) = STAMP.unpack_from(reply)
            if stamp_ns >= measure_from_ns:
                samples.append(now_ns - stamp_ns)
    finally:
        context.destroy(linger=0)
    conn.send(samples)


def measure_floor(rate: float, seconds: float, warmup_s: float) -> list[int]:
    """Latency samples (ns) of the messages published in `seconds` after a warm-up."""
    spawn = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = []

    def start(target: Callable[..., None], *args: object) -> Connection:
        ours, theirs = spawn.Pipe()
        process = spawn.Process(target=target, args=(theirs, *args), daemon=True)
        process.start()
        processes.append(process)
        return ours

    try:
        gateway = start(gateway_role, rate)
        pub, router = _expect(gateway, tuple)
        executor = start(executor_role, router)
        strategy = start(strategy_role, pub, _expect(executor, str))
        _expect(strategy, str)
        start_ns = time.time_ns() + NS_PER_S // 2  # the subscription settles meanwhile
        measure_from_ns = start_ns + round(warmup_s * NS_PER_S)
        schedule = (start_ns, measure_from_ns, measure_from_ns + round(seconds * NS_PER_S))
        for conn in (gateway, executor, strategy):
            conn.send(schedule)
        samples: list[int] = _expect(executor, list, timeout_s=warmup_s + seconds + 10)
        for process in processes:
            process.join(GRACE_S * 3 + 5)
        return samples
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(5)


def _expect(conn: Connection, kind: type[T], timeout_s: float = 20.0) -> T:
    if not conn.poll(timeout_s):
        raise RuntimeError(f"a floor process did not answer within {timeout_s} s")
    try:
        message = conn.recv()
    except EOFError:
        raise RuntimeError("a floor process exited early") from None
    if not isinstance(message, kind):
        raise RuntimeError(f"a floor process sent {message!r}, not a {kind.__name__}")
    return message
