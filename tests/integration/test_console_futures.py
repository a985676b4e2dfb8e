"""`aftm futures` beside a real gateway listing every TX month of 2026 and 2027: each contract's
last trading day agrees with TAIFEX's rule (the third Wednesday of the delivery month, or the
next trading day when that is a holiday), worked out here independently of aftm.market."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

from aftm.market import calendar as market_calendar
from tests.support.processes import ServiceProcess, endpoint, free_port

pytestmark = pytest.mark.slow
MONTHS = "ABCDEFGHIJKL"
SYMBOLS = [f"TXF{MONTHS[month - 1]}{year % 10}" for year in (2026, 2027) for month in range(1, 13)]


def holidays() -> set[date]:
    packaged = Path(market_calendar.__file__).with_name("taifex_holidays.toml")
    return {entry["date"] for entry in tomllib.loads(packaged.read_text())["holiday"]}


def expected_last_trading_day(year: int, month: int, closed: set[date]) -> date:
    weeks = calendar.monthcalendar(year, month)
    wednesdays = [week[calendar.WEDNESDAY] for week in weeks if week[calendar.WEDNESDAY]]
    day = date(year, month, wednesdays[2])
    while day.weekday() >= 5 or day in closed:
        day += timedelta(days=1)
    return day


def test_futures_lists_each_contracts_last_trading_day_by_the_third_wednesday_rule(
    tmp_path: Path,
) -> None:
    router, metrics_port = endpoint(), free_port()
    (tmp_path / "no-secrets").mkdir()
    gateway = ServiceProcess(
        "aftm_gateway",
        {
            "AFTM_GATEWAY_PUB_BIND": endpoint(),
            "AFTM_GATEWAY_ROUTER_BIND": router,
            "AFTM_GATEWAY_METRICS_PORT": str(metrics_port),
            "AFTM_GATEWAY_JOURNAL_PATH": str(tmp_path / "journal.sqlite"),
            "AFTM_GATEWAY_SIM_STATE_PATH": str(tmp_path / "sim.sqlite"),
            "AFTM_GATEWAY_SIM_SYMBOLS": ",".join(SYMBOLS),
            "AFTM_SECRETS_DIR": str(tmp_path / "no-secrets"),
        },
        tmp_path / "gateway.log",
    ).start()
    try:
        gateway.wait_healthy(metrics_port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
        done = subprocess.run(
            [sys.executable, "-m", "aftm_console", "futures", "--json"],
            env=env | {"AFTM_CONSOLE_GATEWAY_CONNECT": router, "AFTM_CONSOLE_INSECURE": "true"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        gateway.stop()

    assert done.returncode == 0, done.stderr
    listed = {future["symbol"]: future for future in json.loads(done.stdout)}
    closed = holidays()
    expected = {
        f"TXF{MONTHS[month - 1]}{year % 10}": expected_last_trading_day(year, month, closed)
        for year in (2026, 2027)
        for month in range(1, 13)
    }
    assert {s: listed[s]["last_trading_day"] for s in SYMBOLS} == {
        s: day.isoformat() for s, day in expected.items()
    }
    assert expected["TXFB6"] == date(2026, 2, 23)  # the 18th falls in the Lunar New Year break
    assert {future["session"] for future in listed.values()} <= {
        "pre_open", "regular", "after_hours", "closed",
    }  # fmt: skip
