"""The wire fuzzer: hostile frames at every bound socket of the three real services, with CURVE on.

The gateway (sim broker), strategy and executor run as processes on 127.0.0.1 with throw-away
keys (pipeline_rig.py). Each bound socket then gets --frames generated messages (fuzz_frames.py)
in each key mode:

  none      a plain client (no key) against a CURVE server, and raw TCP garbage: the handshake
            fails, nothing may reach the service;
  unknown   a valid key pair that no role holds: ZAP refuses the handshake;
  refused   the key of a role that may not connect there: ZAP refuses the handshake;
  limited   (gateway ROUTER: the console; strategy control: the executor) a role that may
            connect but not change orders there: each valid order-changing request it sends must
            be answered `forbidden`;
  right     the key of a role that may send there: every frame reaches the decoder, except those
            that decode as an order-changing request or a valid signal (skipped and counted).

In every mode but right, one message in ten is valid and order-changing (a PlaceOrder, an
AddCondition, a signal, ...) but not the key's to send: should any get through, the broker's
book or a service would show it.

Sends are NOBLOCK; a delivering client waits for room when libzmq's high-water mark is reached
(so frames are delivered, not dropped), and reads its replies, counted by error code. Undelivered
modes count frames queued (at most the high-water mark) and refused locally (EAGAIN), and the
handshake events libzmq reports.

After the run, the verdict (fuzz_verdict.py): every service alive, each answers a real request
with the console's key, the simulated exchange's own SQLite book holds no order (the bench places
none), each service's RSS stayed under RSS_BOUND_MIB, no service counted a message failure (an
exception in its loop), and no frame of an undelivered mode was counted as received.

    .venv/bin/python bench/fuzz_wire.py [--frames 1000000] [--seed 1]

JSON figures on stdout, a summary on stderr; exit 1 on any breach.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
from zmq.utils.monitor import recv_monitor_message

from aftm.errors import DecodeError
from aftm.security import keys
from aftm.security.keys import KeyPair, load_trusted
from aftm.security.roles import ACCESS, BoundSocket, Role
from aftm.security.transport import Curve
from aftm.wire import protocol as p
from aftm.wire.codec import decode
from aftm.wire.reliable import ReliableClient, RequestTimedOut
from aftm.wire.sockets import SocketSetup, make_socket

if not __package__:  # run as a script (bench/fuzz_wire.py): its helpers are bench.*
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.broker_book import read_sim
from bench.fuzz_frames import FrameMaker, forbidden_bodies, forbidden_message, is_harmful
from bench.fuzz_verdict import (
    RSS_BOUND_MIB,
    UNDELIVERED,
    ModeRun,
    RssWatch,
    breaches,
    counters_of,
    gather,
    is_alive,
    malformed,
)
from bench.pipeline_rig import SERVICES, RigConfig, Services, service_env, start_services

ROOM_WAIT_MS = 30_000  # a delivering client waiting this long for room: the service is stuck
SETTLE_S = 60.0  # at most this long for a service to work through what it was sent
ANSWER_TIMEOUT_MS = 5_000
FORBIDDEN_EVERY = 10  # one message in this many is a valid order-changing request, if any
RAW_TCP_BYTES = 4_096
ZMTP_GREETING = b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00"  # signature and version 3.0
HANDSHAKE_EVENTS: dict[int, str] = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshake_succeeded",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_refused",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_failed_protocol",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",
    zmq.EVENT_DISCONNECTED: "disconnected",
}
Context = zmq.Context[zmq.Socket[bytes]]
MODES = ("none", "unknown", "refused", "limited", "right")  # "limited" where such a role exists


@dataclass(frozen=True)
class Target:
    bound: BoundSocket
    service: str
    endpoint: str  # the Endpoints attribute
    client_kind: int
    server: Role
    right: Role
    refused: Role
    limited: Role | None = None
    malformed_label: str | None = None  # the socket label of the service's malformed counter

    @property
    def replies(self) -> bool:
        return self.client_kind == zmq.DEALER


TARGETS = (
    Target(
        BoundSocket.GATEWAY_ROUTER, "gateway", "gateway_router", zmq.DEALER, Role.GATEWAY,
        Role.EXECUTOR, Role.STRATEGY, Role.CONSOLE, "router",
    ),
    Target(
        BoundSocket.GATEWAY_PUB, "gateway", "gateway_pub", zmq.XSUB, Role.GATEWAY,
        Role.STRATEGY, Role.GATEWAY,
    ),
    Target(
        BoundSocket.STRATEGY_CONTROL, "strategy", "strategy_control", zmq.DEALER, Role.STRATEGY,
        Role.CONSOLE, Role.STRATEGY, Role.EXECUTOR, "control",
    ),
    Target(
        BoundSocket.EXECUTOR_PULL, "executor", "executor_signals", zmq.PUSH, Role.EXECUTOR,
        Role.STRATEGY, Role.CONSOLE, None, "signals",
    ),
    Target(
        BoundSocket.EXECUTOR_CONTROL, "executor", "executor_control", zmq.DEALER, Role.EXECUTOR,
        Role.CONSOLE, Role.STRATEGY, None, "control",
    ),
)  # fmt: skip
# A real request each service must still answer after the fuzz, asked with the console's key.
PROBES: dict[str, tuple[str, Role, object]] = {
    "gateway": ("gateway_router", Role.GATEWAY, p.GetHealth()),
    "strategy": ("strategy_control", Role.STRATEGY, p.ListConditions()),
    "executor": ("executor_control", Role.EXECUTOR, p.GetExecutorStatus()),
}


class Stalled(Exception):
    """A delivering client found no room to send for ROOM_WAIT_MS: the service stopped reading."""


class Client:
    """One fuzzing client: its socket, a monitor of its handshakes, and its reply counts."""

    def __init__(
        self, context: Context, target: Target, endpoint: str, setup: SocketSetup | None
    ) -> None:
        self.target = target
        self.socket = make_socket(context, target.client_kind, setup=setup)
        self.monitor = self.socket.get_monitor_socket()
        self.socket.connect(endpoint)

    def send(self, parts: list[bytes], run: ModeRun, *, wait: bool) -> None:
        """Send without blocking; when the queue is full, wait for room only if `wait`."""
        deadline = time.monotonic() + ROOM_WAIT_MS / 1000
        while True:
            try:
                self.socket.send_multipart(parts, zmq.NOBLOCK, copy=len(parts[0]) < 65_536)
                run.sent += 1
                return
            except zmq.Again:
                if not wait:
                    run.refused_locally += 1
                    return
            self.drain(run)
            if time.monotonic() > deadline:
                raise Stalled(f"no room to send to {self.target.bound} in {ROOM_WAIT_MS} ms")
            self.socket.poll(100, zmq.POLLOUT)

    def drain(self, run: ModeRun) -> None:
        while self.monitor.poll(0):
            event = int(recv_monitor_message(self.monitor)["event"])
            if event in HANDSHAKE_EVENTS:
                run.handshakes[HANDSHAKE_EVENTS[event]] += 1
        if self.target.client_kind == zmq.PUSH:
            return
        while self.socket.poll(0):
            reply = self.socket.recv_multipart()
            if self.target.replies:
                count_reply(reply, run)

    def close(self) -> None:
        self.socket.disable_monitor()
        self.monitor.close()
        self.socket.close()


def count_reply(parts: list[bytes], run: ModeRun) -> None:
    try:
        reply = decode(parts[-1])
    except DecodeError:
        run.replies["undecodable"] += 1
        return
    if not isinstance(reply, p.Reply):
        run.replies[f"not a reply: {type(reply).__name__}"] += 1
        return
    code = "ok" if reply.ok else str(reply.error_code)
    if reply.request_id in run.forbidden_ids:
        run.forbidden_ids.discard(reply.request_id)
        run.forbidden_replies[code] += 1
    else:
        run.replies[code] += 1


class Fuzzer:
    """Runs every key mode at every socket against one running rig."""

    def __init__(self, rig: Services, keydir: Path, args: argparse.Namespace) -> None:
        self.rig = rig
        self.keydir = keydir
        self.args = args
        self.context: Context = zmq.Context()
        self.watch = RssWatch({name: rig.pid(name) for name in SERVICES})

    def close(self) -> None:
        self.context.destroy(linger=0)

    def run(self) -> dict[str, dict[str, ModeRun]]:
        runs: dict[str, dict[str, ModeRun]] = {}
        for target in TARGETS:
            for mode in MODES:
                if mode == "limited" and target.limited is None:
                    continue
                progress(f"fuzzing {target.bound} mode={mode} frames={self.args.frames}")
                runs.setdefault(str(target.bound), {})[mode] = self.fuzz(target, mode)
        return runs

    def fuzz(self, target: Target, mode: str) -> ModeRun:
        """Send --frames messages to `target` in key `mode`; what was sent, seen and counted."""
        run = ModeRun()
        started = time.monotonic()
        role = _role(target, mode)
        setup = self._setup(target, mode, role)
        endpoint = getattr(self.rig.endpoints, target.endpoint)
        delivers = mode not in UNDELIVERED
        # What a delivered frame may not be: any state-changing request under the right key;
        # under a limited key, those the role may really send.
        may_send = None if mode == "right" else ACCESS[target.bound].get(role, frozenset())  # type: ignore[arg-type]
        maker = FrameMaker(
            self.args.seed * 100 + TARGETS.index(target) * 10 + MODES.index(mode), target.bound
        )
        before = malformed(self.rig, target)
        client = Client(self.context, target, endpoint, setup)
        try:
            try:
                self._send_all(client, maker, run, mode, role, may_send)
            except Stalled as stalled:
                run.stalled = str(stalled)
            if mode == "none":
                run.raw_tcp_connections = raw_tcp_garbage(endpoint, maker, self.args.raw_tcp)
            settle(self.rig, client, run, target, delivers)
        finally:
            client.close()
        run.received_by_service = malformed(self.rig, target) - before
        run.seconds = time.monotonic() - started
        return run

    def _setup(self, target: Target, mode: str, role: Role | None) -> SocketSetup | None:
        if mode == "none":
            return None
        if mode == "unknown":  # a well-formed key pair that no role holds
            public, secret = zmq.curve_keypair()
            stranger = Curve(KeyPair(Role.CONSOLE, public, secret), load_trusted(self.keydir))
            return stranger.client(target.server)
        assert role is not None  # every other mode has a role
        return Curve.load(self.keydir, role).client(target.server)

    def _send_all(
        self,
        client: Client,
        maker: FrameMaker,
        run: ModeRun,
        mode: str,
        role: Role | None,
        may_send: frozenset[type] | None,
    ) -> None:
        delivers = mode not in UNDELIVERED
        forbidden = mode != "right" and bool(forbidden_bodies(maker.target, role))
        for n in range(self.args.frames):
            run.frames += 1
            self.watch.sample()
            if n % 256 == 0:
                client.drain(run)
            if forbidden and n % FORBIDDEN_EVERY == 0:
                # A valid order-changing message this role may not send: must never take effect.
                name = f"forbidden-{n}"
                run.forbidden_ids.add(name)
                client.send([forbidden_message(maker, role, name)], run, wait=delivers)
                run.forbidden_requests += 1
                continue
            kind, parts = maker.make()
            if delivers and is_harmful(parts, maker.target, may_send):
                run.skipped_harmful += 1
                continue
            run.by_kind[kind] += 1
            client.send(parts, run, wait=delivers)

    def after(self) -> dict[str, object]:
        """Alive, answering, RSS and counters of each service once the fuzz is over."""
        self.watch.sample(force=True)
        alive = {name: is_alive(self.rig.pid(name)) for name in SERVICES}
        answers = {name: self.probe(name) if alive[name] else "dead" for name in SERVICES}
        counters = {name: counters_of(self.rig, name) if alive[name] else {} for name in SERVICES}
        return {"alive": alive, "answers": answers, "counters": counters}

    def probe(self, name: str) -> str:
        """'ok' if `name` answers its real request (console's key), else what went wrong."""
        endpoint_name, server, body = PROBES[name]
        setup = Curve.load(self.keydir, Role.CONSOLE).client(server)
        endpoint = getattr(self.rig.endpoints, endpoint_name)
        client = ReliableClient(self.context, endpoint, timeout_ms=ANSWER_TIMEOUT_MS, setup=setup)
        try:
            reply = client.request(body, retries=2)
        except RequestTimedOut:
            return "no answer"
        finally:
            client.close()
        return "ok" if reply.ok else f"{reply.error_code}: {reply.error}"


def _role(target: Target, mode: str) -> Role | None:
    """The role whose key `mode` uses at `target`; None for no key or a key no role holds."""
    roles = {"refused": target.refused, "limited": target.limited, "right": target.right}
    return roles.get(mode)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def raw_tcp_garbage(endpoint: str, maker: FrameMaker, connections: int) -> int:
    """Connect with plain TCP and write garbage: half of it after a ZMTP greeting."""
    host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
    for n in range(connections):
        garbage = maker.rng.randbytes(maker.rng.randint(1, RAW_TCP_BYTES))
        with (
            socket.create_connection((host, int(port)), timeout=2) as raw,
            contextlib.suppress(OSError),  # the server hung up first: as good
        ):
            raw.sendall((ZMTP_GREETING if n % 2 else b"") + garbage)
    return connections


def settle(rig: Services, client: Client, run: ModeRun, target: Target, delivers: bool) -> None:
    """Read replies until the service's malformed count stops moving (it has worked through
    what it was sent), for at most SETTLE_S."""
    deadline = time.monotonic() + (SETTLE_S if delivers else 1.0)
    last = -1.0
    while time.monotonic() < deadline:
        client.drain(run)
        time.sleep(0.3)
        client.drain(run)
        now = malformed(rig, target)
        if now == last:
            return
        last = now


def rig_config(folder: Path, keydir: Path, log_level: str) -> RigConfig:
    """The rig with CURVE on: each service its keys folder and the insecure switch off."""
    keyed = {
        name: {
            f"AFTM_{name.upper()}_KEYS_DIR": str(keydir),
            f"AFTM_{name.upper()}_INSECURE": "false",
        }
        for name in SERVICES
    }
    return RigConfig(
        folder=folder,
        ticks_per_s=5.0,  # the PUB keeps publishing while its subscribers misbehave
        symbols=("TXFL6",),
        log_level=log_level,
        executor_limits={},
        extra_env=keyed,
    )


def sim_state(config: RigConfig, rig: Services) -> Path:
    """The simulated exchange's own SQLite book: the broker's word, not a service's."""
    return Path(service_env(config, rig.endpoints)["gateway"]["AFTM_GATEWAY_SIM_STATE_PATH"])


def fuzz_wire(folder: Path, args: argparse.Namespace) -> dict[str, object]:
    """Start the services, fuzz every socket, check them; the figures and the breaches."""
    keydir = folder / "keys"
    keys.create(keydir)
    config = rig_config(folder, keydir, args.log_level)
    started = time.monotonic()
    with start_services(config) as rig:
        fuzzer = Fuzzer(rig, keydir, args)
        try:
            runs = fuzzer.run()
            after = fuzzer.after()
        finally:
            fuzzer.close()
        sim_path = sim_state(config, rig)
    book = read_sim(sim_path)
    facts = gather(after, book, fuzzer.watch, runs)
    counters = after["counters"]
    seconds = time.monotonic() - started
    frames = sum(run.frames for modes in runs.values() for run in modes.values())
    return {
        "frames_per_socket_and_mode": args.frames,
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "frames_total": frames,
        "frames_per_s": round(frames / seconds),
        "rss_bound_mib": RSS_BOUND_MIB,
        "rss_peak_mib": {k: round(v, 1) for k, v in fuzzer.watch.peak_mib.items()},
        "rss_final_mib": {k: round(v, 1) for k, v in fuzzer.watch.last_mib.items()},
        "answers": facts.answers,
        "alive": facts.alive,
        "broker_orders": len(book.orders),
        "counters": counters,
        "runs": {
            bound: {m: run.figures() for m, run in modes.items()} for bound, modes in runs.items()
        },
        "breaches": breaches(facts),
    }


def summarise(figures: dict[str, object]) -> str:
    lines = [
        f"{figures['frames_total']} frames in {figures['seconds']} s ({figures['frames_per_s']}/s),"
        f" {figures['frames_per_socket_and_mode']} per socket and mode"
    ]
    runs: dict[str, dict[str, dict[str, object]]] = figures["runs"]  # type: ignore[assignment]
    for bound, modes in runs.items():
        for mode, run in modes.items():
            lines.append(
                f"  {bound:<17} {mode:<8} sent={run['sent']} eagain={run['refused_locally']}"
                f" skipped={run['skipped_harmful']} received={run['received_by_service']:.0f}"
                f" replies={dict(run['replies'])} forbidden={dict(run['forbidden_replies'])}"  # type: ignore[call-overload]
                f" handshakes={dict(run['handshakes'])} {run['seconds']:.1f}s"  # type: ignore[call-overload]
            )
    lines.append(f"RSS peak {figures['rss_peak_mib']} final {figures['rss_final_mib']} MiB")
    lines.append(f"answers {figures['answers']}; broker orders {figures['broker_orders']}")
    found: list[str] = figures["breaches"]  # type: ignore[assignment]
    lines += [f"BREACH {breach}" for breach in found] or ["no breach"]
    return "\n".join(lines)


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=1_000_000, help="per socket and key mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--raw-tcp", type=int, default=200, help="raw TCP connections per socket")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (logs, state)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = fuzz_wire(args.keep, args)
    else:
        with tempfile.TemporaryDirectory(prefix="aftm-fuzz-") as folder:
            figures = fuzz_wire(Path(folder), args)
    print(json.dumps(figures, indent=2, sort_keys=True))
    progress(summarise(figures))
    return 1 if figures["breaches"] else 0


if __name__ == "__main__":
    sys.exit(main())
