"""Defaults for every test: services and console run without CURVE keys unless a test gives
them some (tests/support/processes.py keyed_env, and the CURVE tests), because most tests wire
plain clients of their own to them. Tests of CURVE set <SERVICE>_KEYS_DIR and
<SERVICE>_INSECURE=false themselves.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("GATEWAY", "STRATEGY", "EXECUTOR", "CONSOLE"):
        monkeypatch.setenv(f"AFTM_{service}_INSECURE", "true")
