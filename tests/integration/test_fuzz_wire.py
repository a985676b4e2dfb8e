"""A short wire fuzz (bench/fuzz_wire.py) passes: a few thousand hostile frames per socket and
key mode (none, unknown, refused, limited, right), against the three real services with CURVE
on, leave every service alive, answering, within its RSS bound, free of message failures, and
the simulated broker without any order.

And the verdict can fail: a service really killed, and an order really placed at the broker
that the fuzz did not expect, are each reported as a breach.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import zmq

from aftm.domain.orders import PlaceOrder
from aftm.domain.types import Side
from aftm.security import keys
from aftm.security.roles import Role
from aftm.security.transport import Curve
from aftm.wire.reliable import ReliableClient
from bench.broker_book import read_sim
from bench.fuzz_verdict import breaches, gather
from bench.fuzz_wire import Fuzzer, fuzz_wire, options, rig_config, sim_state
from bench.pipeline_rig import SERVICES, start_services

FRAMES = 2_000
DELIVERED = ("gateway.router", "strategy.control", "executor.pull", "executor.control")


def test_a_short_fuzz_leaves_every_service_up_answering_and_without_orders(
    tmp_path: Path,
) -> None:
    figures = fuzz_wire(tmp_path, options(["--frames", str(FRAMES), "--raw-tcp", "20"]))

    assert figures["breaches"] == []
    assert figures["broker_orders"] == 0
    runs: dict[str, dict[str, dict[str, Any]]] = figures["runs"]  # type: ignore[assignment]
    # Not vacuous: the right key reached each decoder, refused and unknown keys met a refused
    # handshake, and every order-changing request of a limited role was answered `forbidden`.
    for bound in DELIVERED:
        assert runs[bound]["right"]["received_by_service"] > FRAMES / 2, bound
    for bound, modes in runs.items():
        assert modes["refused"]["handshakes"]["handshake_refused"] >= 1, bound
        assert modes["unknown"]["handshakes"]["handshake_refused"] >= 1, bound
        assert "handshake_succeeded" not in modes["none"]["handshakes"], bound
        assert modes["right"]["sent"] > FRAMES * 0.8, bound
        if "limited" in modes:
            # Every answer `forbidden`; a few may go unanswered, lost with a connection that
            # libzmq dropped for a frame over MAXMSGSIZE.
            answered = modes["limited"]["forbidden_replies"]
            assert set(answered) == {"forbidden"}, bound
            assert answered["forbidden"] > modes["limited"]["forbidden_requests"] * 0.5, bound


def test_the_verdict_fails_for_a_killed_service_and_an_order_it_did_not_expect(
    tmp_path: Path,
) -> None:
    keydir = tmp_path / "keys"
    keys.create(keydir)
    config = rig_config(tmp_path, keydir, "WARNING")
    with start_services(config) as rig:
        fuzzer = Fuzzer(rig, keydir, options(["--frames", "0"]))
        try:
            place_one_order(rig.endpoints.gateway_router, keydir)
            os.kill(rig.pid("strategy"), signal.SIGKILL)
            os.waitid(os.P_PID, rig.pid("strategy"), os.WEXITED | os.WNOWAIT)
            after = fuzzer.after()
        finally:
            fuzzer.close()
        book = read_sim(sim_state(config, rig))
    facts = gather(after, book, fuzzer.watch, runs={})

    found = breaches(facts)

    assert "strategy died" in found
    assert "strategy did not answer its request after the fuzz: dead" in found
    assert "the broker holds 1 order(s) the fuzz caused: bench-1" in found
    assert len(found) == 3, found
    peak = max(facts.rss_peak_mib.values())
    assert any("RSS peaked" in breach for breach in breaches(facts, rss_bound_mib=peak - 1))
    healthy = replace(
        facts,
        alive=dict.fromkeys(SERVICES, True),
        answers=dict.fromkeys(SERVICES, "ok"),
        expected_orders=frozenset({"bench-1"}),
    )
    assert breaches(healthy) == []


def place_one_order(gateway: str, keydir: Path) -> None:
    """A real order at the broker, placed as the executor would."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    setup = Curve.load(keydir, Role.EXECUTOR).client(Role.GATEWAY)
    client = ReliableClient(context, gateway, timeout_ms=5_000, setup=setup)
    try:
        order = PlaceOrder("bench-1", "SIM-0001", "TXFL6", Side.BUY, 1)
        reply = client.request(order)
    finally:
        client.close()
        context.destroy(linger=0)
    assert reply.ok, reply
