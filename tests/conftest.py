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

from collections.abc import Iterator

import pytest

SUITE_MARKET_TIME = "2026-12-02T10:00:00+08:00"  # a Wednesday, in the regular session


def _suite_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("GATEWAY", "STRATEGY", "EXECUTOR", "CONSOLE"):
        monkeypatch.setenv(f"AFTM_{service}_INSECURE", "true")
    monkeypatch.setenv("AFTM_EXECUTOR_MARKET_RULES", "always_open")
    monkeypatch.setenv("AFTM_MARKET_CLOCK_START", SUITE_MARKET_TIME)


@pytest.fixture(scope="session", autouse=True)
def _suite_defaults_for_every_scope() -> Iterator[None]:
    # Session scope: module-scoped fixtures that start services are set up before any
    # function-scoped one, so defaults set only per test came too late for them (their executor
    # ran TAIFEX's rules on the real clock; tests/unit/test_suite_defaults.py).
    with pytest.MonkeyPatch.context() as monkeypatch:
        _suite_defaults(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _plain_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    # Again per test, so whatever one test changed by hand never leaks into the next.
    _suite_defaults(monkeypatch)
