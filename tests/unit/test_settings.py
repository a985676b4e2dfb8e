"""Settings loading: a bad value exits 2 naming the environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftm.settings import load


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
