"""Settings loading: a bad value exits 2 naming the environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftm.settings import load
from aftm_executor.settings import ExecutorSettings
from aftm_gateway.settings import GatewaySettings


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_DEMO_", extra="ignore")
    ticks_per_s: float = Field(default=1.0, gt=0)


def test_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTM_DEMO_TICKS_PER_S", raising=False)

    assert load(DemoSettings, "demo").ticks_per_s == 1.0


@pytest.mark.parametrize("value", ["-1", "fast"])
def test_a_bad_value_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("AFTM_DEMO_TICKS_PER_S", value)

    with pytest.raises(SystemExit) as exited:
        load(DemoSettings, "demo")

    assert exited.value.code == 2
    assert "invalid setting AFTM_DEMO_TICKS_PER_S" in capsys.readouterr().err


def test_secrets_dir_supplies_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "aftm_demo_ticks_per_s").write_text("7")
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(folder))
    monkeypatch.delenv("AFTM_DEMO_TICKS_PER_S", raising=False)

    assert load(DemoSettings, "demo").ticks_per_s == 7.0


@pytest.mark.parametrize(
    ("settings", "variable", "value"),
    [
        (ExecutorSettings, "AFTM_EXECUTOR_MAX_LOTS_PER_ORDER", "11"),  # TAIFEX: 10 at market
        (ExecutorSettings, "AFTM_EXECUTOR_MAX_NET_POSITION", str(2**63)),
        (ExecutorSettings, "AFTM_EXECUTOR_ACCOUNT", "ACC 1"),
        (GatewaySettings, "AFTM_GATEWAY_SIM_ACCOUNTS", "SIM-0001,SIM\t2"),
        (GatewaySettings, "AFTM_GATEWAY_SIM_MAX_ORDER_QUANTITY", "101"),
        (GatewaySettings, "AFTM_GATEWAY_SIM_START_PRICE", "1000001"),
    ],
)
def test_service_settings_keep_the_shared_limits(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: type[BaseSettings],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv("AFTM_SECRETS_DIR", "/nonexistent")
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as exited:
        load(settings, "service")

    assert exited.value.code == 2
    assert f"invalid setting {variable}" in capsys.readouterr().err


def test_service_settings_take_the_limits_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTM_EXECUTOR_MAX_LOTS_PER_ORDER", "10")
    monkeypatch.setenv("AFTM_EXECUTOR_ACCOUNT", " SIM-0001 ")
    monkeypatch.setenv("AFTM_GATEWAY_SIM_MAX_ORDER_QUANTITY", "100")

    executor = load(ExecutorSettings, "executor")
    assert (executor.max_lots_per_order, executor.account) == (10, "SIM-0001")
    assert load(GatewaySettings, "gateway").sim_max_order_quantity == 100
