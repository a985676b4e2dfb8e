"""Defaults for every test: services and console run without CURVE keys unless a test gives
them some (tests/support/processes.py keyed_env, and the CURVE tests), because most tests wire
plain clients of their own to them. Tests of CURVE set <SERVICE>_KEYS_DIR and
<SERVICE>_INSECURE=false themselves. The executor trades at any hour, as the simulated exchange
does, unless a test of the market rules asks for TAIFEX's (AFTM_EXECUTOR_MARKET_RULES=taifex).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("GATEWAY", "STRATEGY", "EXECUTOR", "CONSOLE"):
        monkeypatch.setenv(f"AFTM_{service}_INSECURE", "true")
    monkeypatch.setenv("AFTM_EXECUTOR_MARKET_RULES", "always_open")
