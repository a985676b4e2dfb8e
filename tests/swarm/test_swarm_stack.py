"""deploy/swarm/stack.yml on a single-node swarm: two strategy shards, two executors on two sim
accounts. Conditions on both shards' symbols trade on both accounts; executor-1's task container
is killed mid-run and swarm starts a new one; then the broker's own state, through the gateway,
must show every signal as one order per account, no client order id twice, nothing lost, and
positions per account equal to each executor's book and to `aftm positions --json`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from aftm.domain.signals import SignalKind, signal_id
from aftm.domain.types import OrderStatus, Side
from aftm_executor.trades import client_order_id
from tests.swarm.cluster import SERVICES, docker, wait_until
from tests.swarm.desk import EXECUTORS, Desk

pytestmark = pytest.mark.slow
EXIT = SignalKind.TAKE_PROFIT  # take profit and stop loss share the exit's signal id
QUICK_EXIT_POINTS = 10  # a round trip within seconds at the sim's walk
HELD_EXIT_POINTS = 2000  # never reached during the test: the position stays open
# Open positions every account must end with: (symbol, action, lots), one per shard.
HELD = (("TXFL6", Side.BUY, 2), ("TMFL6", Side.SELL, 1))
ROUND_TRIP_BEFORE_KILL = (("MXFL6", Side.BUY),)
ROUND_TRIPS_WHILE_DOWN = (("MXFL6", Side.SELL), ("TMFL6", Side.BUY))
KILLED = "executor-1"
UPDATED = "executor-2"


def status_by_id(desk: Desk, account: str) -> dict[str, OrderStatus]:
    return {o.client_order_id: o.status for o in desk.broker_orders() if o.account == account}


def entry_id(account: str, condition_id: str) -> str:
    return client_order_id(account, signal_id(condition_id, SignalKind.ENTRY))


def exit_id(account: str, condition_id: str) -> str:
    return client_order_id(account, signal_id(condition_id, EXIT))


def entries_filled(desk: Desk, condition_ids: list[str]) -> bool:
    """Every condition's entry filled at the broker on every account."""
    for account in EXECUTORS.values():
        status = status_by_id(desk, account)
        if any(status.get(entry_id(account, c)) is not OrderStatus.FILLED for c in condition_ids):
            return False
    return True


def unsettled(desk: Desk, held: list[str], trips: list[str], stale_ok: set[str]) -> list[str]:
    """What is not settled yet, per account. Held: the entry filled. Round trip: entry and exit
    filled; or, for the killed executor's account and a condition in `stale_ok`, no entry and
    the exit signalled (an entry older than AFTM_EXECUTOR_MAX_ENTRY_AGE_S when the restarted
    executor reaches it is refused as stale, never sent late)."""
    exited = {s.condition_id for s in desk.signals() if s.kind.is_exit}
    pending = []
    for executor, account in EXECUTORS.items():
        status = status_by_id(desk, account)
        for condition_id in held:
            if status.get(entry_id(account, condition_id)) is not OrderStatus.FILLED:
                pending.append(f"{account} {condition_id} entry")
        for condition_id in trips:
            entry = status.get(entry_id(account, condition_id))
            exit_ = status.get(exit_id(account, condition_id))
            if entry is OrderStatus.FILLED and exit_ is OrderStatus.FILLED:
                continue
            skipped = executor == KILLED and condition_id in stale_ok
            if not (skipped and entry is None and exit_ is None and condition_id in exited):
                pending.append(f"{account} {condition_id} round trip ({entry}, {exit_})")
    return pending


def wait_for(desk: Desk, probe: Callable[[], bool], timeout_s: float, what: str) -> None:
    try:
        wait_until(probe, timeout_s, what)
    except AssertionError as timed_out:
        logs = "\n".join(f"--- {s}\n{desk.stack.logs(s)}" for s in SERVICES)
        raise AssertionError(f"{timed_out}\n{logs}") from None


def test_deploy_again_keeps_everything_and_refuses_a_changed_secret(desk: Desk) -> None:
    stack = desk.stack
    wait_for(desk, lambda: all(stack.healthy(s) for s in SERVICES), 120, "all healthy")
    scraped = dict.fromkeys((s for s in SERVICES if s != "prometheus"), "up")
    wait_for(desk, lambda: desk.scraped() == scraped, 30, f"Prometheus scraping {scraped}")
    before = {service: stack.running_container(service) for service in SERVICES}

    again = stack.deploy()
    made = [line for line in again.splitlines() if line.endswith(" created")]
    assert made == [], f"a second deploy created something:\n{again}"
    time.sleep(3.0)  # an update would have stopped a task by now (stop-first)
    assert {service: stack.running_container(service) for service in SERVICES} == before

    stack.password_file.write_text("another-password\n")
    try:
        refused = stack.deploy_result()
    finally:
        stack.password_file.write_text(stack.password + "\n")
    assert refused.returncode != 0
    assert f"secret {stack.name}_broker_password exists with other content" in refused.stderr


def test_an_update_stops_the_old_executor_before_starting_its_successor(desk: Desk) -> None:
    """stop-first: while swarm replaces executor-2's task, never two run at once."""
    stack = desk.stack
    wait_for(desk, lambda: stack.healthy(UPDATED), 120, f"{UPDATED} healthy")
    old = stack.running_container(UPDATED)
    docker("service", "update", "--detach", "--force", stack.service(UPDATED))
    most_at_once = 0
    deadline = time.monotonic() + 90
    while update_state(desk) != "completed":
        if time.monotonic() > deadline:
            tasks = docker("service", "ps", "--no-trunc", stack.service(UPDATED))
            raise AssertionError(f"the update of {UPDATED} did not complete:\n{tasks}")
        running = docker(
            *("ps", "--quiet", "--filter", "status=running"),
            *("--filter", f"label=com.docker.swarm.service.name={stack.service(UPDATED)}"),
        )
        most_at_once = max(most_at_once, len(running.split()))
        time.sleep(0.1)
    assert most_at_once <= 1, f"{most_at_once} {UPDATED} tasks ran at once during the update"
    assert stack.running_container(UPDATED) not in ("", old), "no new task replaced the old one"
    wait_for(desk, lambda: stack.healthy(UPDATED), 60, f"the new {UPDATED} healthy")


def update_state(desk: Desk) -> str:
    state = "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"
    return docker("service", "inspect", "--format", state, desk.stack.service(UPDATED)).strip()


def test_two_shards_two_accounts_survive_an_executor_task_killed(desk: Desk) -> None:
    wait_for(desk, lambda: all(desk.stack.healthy(s) for s in SERVICES), 120, "all healthy")

    held = [desk.add_condition(s, a, quantity=q, exit_points=HELD_EXIT_POINTS) for s, a, q in HELD]
    trips = [
        desk.add_condition(s, a, quantity=1, exit_points=QUICK_EXIT_POINTS)
        for s, a in ROUND_TRIP_BEFORE_KILL
    ]
    wait_for(desk, lambda: entries_filled(desk, held + trips), 90, "entries on both accounts")

    killed = desk.stack.running_container(KILLED)
    docker("kill", killed)
    # Signals while no executor-1 runs: executor-2 trades them now, executor-1 after restart.
    later = [
        desk.add_condition(s, a, quantity=1, exit_points=QUICK_EXIT_POINTS)
        for s, a in ROUND_TRIPS_WHILE_DOWN
    ]

    def restarted() -> bool:
        container = desk.stack.running_container(KILLED)
        return container not in ("", killed) and desk.stack.healthy(KILLED)

    wait_for(desk, restarted, 90, "swarm to start a new executor-1 task, healthy")
    wait_for(
        desk,
        lambda: not unsettled(desk, held, trips + later, stale_ok=set(later)),
        150,
        "every condition settled on both accounts",
    )
    time.sleep(2.0)  # a duplicate or a late entry would have reached the broker by now

    orders = desk.broker_orders()
    placed = Counter(order.client_order_id for order in orders)
    assert [cid for cid, count in placed.items() if count > 1] == [], "an id ordered twice"
    signals = desk.signals()
    for executor, account in EXECUTORS.items():
        for signal in signals:
            count = placed[client_order_id(account, signal.id)]
            may_skip = executor == KILLED and signal.condition_id in later  # stale, see above
            assert count == 1 or (may_skip and count == 0), f"{account} {signal}: {count} orders"
        expected = {client_order_id(account, s.id) for s in signals}
        unknown = [o for o in orders if o.account == account and o.client_order_id not in expected]
        assert unknown == [], f"{account}: orders for no signal of its executor: {unknown}"
        for condition_id in trips + later:
            entries = placed[entry_id(account, condition_id)]
            exits = placed[exit_id(account, condition_id)]
            assert entries == exits, f"{account} {condition_id}: {entries} entry, {exits} exit"

    wanted = {symbol: lots if action is Side.BUY else -lots for symbol, action, lots in HELD}
    shown = desk.console_positions()
    for executor, account in EXECUTORS.items():
        broker = desk.broker_positions(account)
        assert broker == wanted, f"{account} at the broker: {broker}, not {wanted}"
        assert desk.book(executor) == broker, f"{executor}'s book differs from the broker"
        console = {symbol: lots["book"] for symbol, lots in shown.get(account, {}).items()}
        console_broker = {s: lots["broker"] for s, lots in shown.get(account, {}).items()}
        assert {s: n for s, n in console.items() if n} == broker, f"aftm positions: {shown}"
        assert {s: n for s, n in console_broker.items() if n} == broker, f"aftm positions: {shown}"
