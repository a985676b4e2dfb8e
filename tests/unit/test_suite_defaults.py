"""The suite's defaults (tests/conftest.py) reach fixtures of every scope, not only tests.

A module-scoped fixture that starts services (e.g. test_console.py's stack) is set up before
any function-scoped fixture runs: defaults set per test came too late for it, so its executor
ran TAIFEX's rules on the real clock, and the console tests failed whenever the suite ran
within five minutes of a session's close or outside the sessions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from tests.conftest import SUITE_MARKET_TIME


@pytest.fixture(scope="module")
def seen_by_a_module_fixture() -> Mapping[str, str | None]:
    names = ("AFTM_EXECUTOR_MARKET_RULES", "AFTM_MARKET_CLOCK_START", "AFTM_EXECUTOR_INSECURE")
    return {name: os.environ.get(name) for name in names}


def test_a_module_scoped_fixture_sees_the_suite_defaults(
    seen_by_a_module_fixture: Mapping[str, str | None],
) -> None:
    assert seen_by_a_module_fixture == {
        "AFTM_EXECUTOR_MARKET_RULES": "always_open",
        "AFTM_MARKET_CLOCK_START": SUITE_MARKET_TIME,
        "AFTM_EXECUTOR_INSECURE": "true",
    }
