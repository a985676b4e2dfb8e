"""KEYS_DIR and INSECURE: a service starts with CURVE keys, or on plain TCP only when told to."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftm.security.keys import KeyFileError, create
from aftm.security.roles import BoundSocket, Role
from aftm.security.settings import security_from
from aftm.settings import load
from aftm_executor.settings import ExecutorSettings
from aftm_gateway.settings import GatewaySettings
from aftm_strategy.settings import StrategySettings

SERVICES = [
    pytest.param(GatewaySettings, "AFTM_GATEWAY_", id="gateway"),
    pytest.param(StrategySettings, "AFTM_STRATEGY_", id="strategy"),
    pytest.param(ExecutorSettings, "AFTM_EXECUTOR_", id="executor"),
]
Settings = type[GatewaySettings] | type[StrategySettings] | type[ExecutorSettings]


@pytest.fixture(autouse=True)
def _no_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "no-secrets").mkdir()
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.chdir(tmp_path)  # no .env of the checkout applies


@pytest.mark.parametrize(("settings", "prefix"), SERVICES)
def test_neither_keys_nor_the_insecure_switch_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    prefix: str,
) -> None:
    monkeypatch.delenv(f"{prefix}INSECURE")

    with pytest.raises(SystemExit) as stopped:
        load(settings, "aftm-test")

    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert f"invalid setting {prefix}KEYS_DIR: " in message
    assert "aftm keys init" in message


@pytest.mark.parametrize(("settings", "prefix"), SERVICES)
def test_a_keys_dir_that_is_a_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings, prefix: str
) -> None:
    monkeypatch.delenv(f"{prefix}INSECURE")
    (tmp_path / "keys").write_text("not a folder")
    monkeypatch.setenv(f"{prefix}KEYS_DIR", str(tmp_path / "keys"))

    with pytest.raises(SystemExit):
        load(settings, "aftm-test")


def test_keys_give_curve_and_the_switch_gives_plain_tcp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    create(tmp_path / "keys")
    monkeypatch.setenv("AFTM_GATEWAY_INSECURE", "false")
    monkeypatch.setenv("AFTM_GATEWAY_KEYS_DIR", str(tmp_path / "keys"))

    secure = security_from(load(GatewaySettings, "aftm-test"), Role.GATEWAY)
    assert secure.secure
    assert secure.curve is not None
    assert secure.curve.own.role is Role.GATEWAY
    assert set(secure.curve.trusted) == set(Role)

    monkeypatch.setenv("AFTM_GATEWAY_INSECURE", "true")
    plain = security_from(load(GatewaySettings, "aftm-test"), Role.GATEWAY)
    assert not plain.secure
    assert plain.server(BoundSocket.GATEWAY_ROUTER) is None


def test_a_keys_dir_without_the_roles_secret_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    create(tmp_path / "keys", (Role.STRATEGY, Role.EXECUTOR, Role.CONSOLE))
    monkeypatch.setenv("AFTM_GATEWAY_INSECURE", "false")
    monkeypatch.setenv("AFTM_GATEWAY_KEYS_DIR", str(tmp_path / "keys"))

    with pytest.raises(KeyFileError, match=r"gateway\.key_secret: missing"):
        security_from(load(GatewaySettings, "aftm-test"), Role.GATEWAY)


@pytest.mark.parametrize(("settings", "prefix"), SERVICES)
def test_an_empty_keys_dir_is_refused_not_taken_as_the_working_folder(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    prefix: str,
) -> None:
    monkeypatch.delenv(f"{prefix}INSECURE")
    monkeypatch.setenv(f"{prefix}KEYS_DIR", "")

    with pytest.raises(SystemExit):
        load(settings, "aftm-test")

    assert f"invalid setting {prefix}KEYS_DIR: " in capsys.readouterr().err
