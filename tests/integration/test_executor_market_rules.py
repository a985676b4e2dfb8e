"""TAIFEX's sessions in the executor, a real process on a fake market clock
(AFTM_MARKET_CLOCK_START, running at real speed from its start) against the gateway double:
entries refused outside a session and just before a close, an exit held while closed (shown by
`aftm trades`) and sent at the open. The gateway double's own record of the orders it was asked
to place is the witness, not the executor's journal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from aftm.domain.orders import PlaceOrder
from tests.support.executor_rig import Harness, a_signal, an_exit, wait_for

pytestmark = pytest.mark.slow
REFUSED = 'aftm_executor_market_rule_orders_total{{action="refused",reason="{}"}}'
HELD_CLOSED = 'aftm_executor_market_rule_orders_total{action="held",reason="closed"}'


def at(instant: str) -> dict[str, str]:
    return {"AFTM_EXECUTOR_MARKET_RULES": "taifex", "AFTM_MARKET_CLOCK_START": instant}


def shown_reason(harness: Harness, trade_id: str) -> str:
    """The trade's reason as `aftm trades --json` prints it."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
    console = {
        "AFTM_CONSOLE_EXECUTOR_CONNECT": harness.control_endpoint,
        "AFTM_CONSOLE_INSECURE": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "aftm_console", "trades", "--json"],
        env={**plain, **console},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (trade,) = (t for t in json.loads(result.stdout) if t["trade_id"] == trade_id)
    return str(trade["reason"])


def test_entries_are_refused_and_an_exit_waits_for_the_open(harness: Harness) -> None:
    # A trade opened in the day session of Wednesday 2026-12-02 (TXFL6 expires 12-16).
    harness.start(**at("2026-12-02T10:00:00+08:00"))
    entry = a_signal(condition="open")
    harness.push(entry)
    placed = harness.expect(PlaceOrder)
    harness.gateway.fill(placed.client_order_id)
    wait_for("the entry's fill", lambda: harness.status().positions, harness.log)
    harness.stop()

    # 23:00 on a holiday (National Day, a Friday, no evening session): nothing is sent.
    harness.start(**at("2026-10-09T23:00:00+08:00"))
    harness.push(a_signal(condition="holiday"))
    harness.wait_metric(REFUSED.format("closed"), 1)
    harness.stop()

    # 13:44:30: the day session still trades, but within 5 minutes of its close.
    harness.start(**at("2026-12-02T13:44:30+08:00"))
    harness.push(a_signal(condition="late"))
    harness.wait_metric(REFUSED.format("closing"), 1)
    harness.stop()

    # 13:45:30, between the sessions: the exit is held, and shown.
    harness.start(**at("2026-12-02T13:45:30+08:00"))
    harness.push(an_exit(entry))
    harness.wait_metric(HELD_CLOSED, 1)
    assert shown_reason(harness, "open") == "held: market closed until 15:00"
    # Held, but only until the open: the gauge the alerts subtract from their held exits.
    harness.wait_metric("aftm_executor_exits_waiting_for_open", 1)
    assert harness.metric("aftm_executor_held_exits") == 1
    harness.stop()
    assert harness.gateway.place_ids() == [placed.client_order_id]

    # 14:59:55: the held exit goes out when 15:00 opens the after-hours session, not before.
    started = time.monotonic()
    harness.start(**at("2026-12-02T14:59:55+08:00"))
    exit_order = harness.expect(PlaceOrder)
    assert time.monotonic() - started >= 5.0  # the process's clock started after `started`
    assert (exit_order.side, exit_order.quantity) == (entry.side.opposite, entry.quantity)
    assert harness.gateway.place_ids() == [placed.client_order_id, exit_order.client_order_id]
