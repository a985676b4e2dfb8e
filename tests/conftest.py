"""Defaults for every test: services and console run without CURVE keys unless a test gives
them some (tests/support/processes.py keyed_env, and the CURVE tests), because most tests wire
plain clients of their own to them. Tests of CURVE set <SERVICE>_KEYS_DIR and
<SERVICE>_INSECURE=false themselves. The executor trades at any hour, as the simulated exchange
does, unless a test of the market rules asks for TAIFEX's (AFTM_EXECUTOR_MARKET_RULES=taifex).

Market rules read one fixed instant unless a test sets its own AFTM_MARKET_CLOCK_START: a
business morning two weeks before the sim's default December contracts expire. The suite must
give the same answers on any day it runs: without this, conditions on TXFL6 would start warning
after 2026-12-13 and every rule would fail once the holiday file's last year has passed.
"""

from __future__ import annotations

import pytest

SUITE_MARKET_TIME = "2026-12-02T10:00:00+08:00"  # a Wednesday, in the regular session


@pytest.fixture(autouse=True)
def _plain_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("GATEWAY", "STRATEGY", "EXECUTOR", "CONSOLE"):
        monkeypatch.setenv(f"AFTM_{service}_INSECURE", "true")
    monkeypatch.setenv("AFTM_EXECUTOR_MARKET_RULES", "always_open")
    monkeypatch.setenv("AFTM_MARKET_CLOCK_START", SUITE_MARKET_TIME)
