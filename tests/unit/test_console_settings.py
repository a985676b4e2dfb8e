"""Console settings: defaults, and a bad value exits 2 naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftm.settings import load
from aftm_console.settings import ConsoleSettings

VARIABLES = (
    "AFTM_CONSOLE_GATEWAY_CONNECT",
    "AFTM_CONSOLE_GATEWAY_PUB_CONNECT",
    "AFTM_CONSOLE_STRATEGY_CONNECT",
    "AFTM_CONSOLE_EXECUTOR_CONNECT",
    "AFTM_CONSOLE_TIMEOUT_MS",
    "AFTM_CONSOLE_COMMISSION",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    settings = load(ConsoleSettings, "aftm")

    assert settings.gateway_connect == "tcp://127.0.0.1:5556"
    assert settings.gateway_pub_connect == "tcp://127.0.0.1:5555"
    assert settings.strategy_connect == "tcp://127.0.0.1:5557"
    assert settings.executor_connect == "tcp://127.0.0.1:5559"
    assert settings.timeout_ms == 3000
    assert settings.commission == {}


def test_a_commission_per_product_is_read_from_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTM_CONSOLE_COMMISSION", "TXF=50, MXF=20,")

    assert load(ConsoleSettings, "aftm").commission == {"TXF": 50, "MXF": 20}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_CONSOLE_GATEWAY_CONNECT", "tcp://*:5556"),
        ("AFTM_CONSOLE_STRATEGY_CONNECT", "127.0.0.1:5557"),
        ("AFTM_CONSOLE_EXECUTOR_CONNECT", "tcp://127.0.0.1:99999"),
        ("AFTM_CONSOLE_TIMEOUT_MS", "0"),
        ("AFTM_CONSOLE_TIMEOUT_MS", "soon"),
        ("AFTM_CONSOLE_COMMISSION", "TXF=-1"),
        ("AFTM_CONSOLE_COMMISSION", "TXF=10001"),
        ("AFTM_CONSOLE_COMMISSION", "TXF"),
        ("AFTM_CONSOLE_COMMISSION", "TXF=1.5"),
    ],
)
def test_a_bad_value_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as exited:
        load(ConsoleSettings, "aftm")

    assert exited.value.code == 2
    assert f"invalid setting {variable}" in capsys.readouterr().err
