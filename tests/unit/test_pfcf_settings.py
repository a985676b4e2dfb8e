"""Gateway settings for the PFCF broker: what AFTM_GATEWAY_BROKER=pfcf needs, and refuses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aftm.settings import load
from aftm_gateway.settings import GatewaySettings


@pytest.fixture
def pfcf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    dll = tmp_path / "PFCFAPI.dll"
    dll.write_bytes(b"not really a DLL: settings only check that the file is there")
    (tmp_path / "no-secrets").mkdir()
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.setenv("AFTM_GATEWAY_BROKER", "pfcf")
    monkeypatch.setenv("AFTM_GATEWAY_PFCF_DLL_PATH", str(dll))
    monkeypatch.setenv("AFTM_GATEWAY_PFCF_SERVER", "203.0.113.7")
    monkeypatch.setenv("AFTM_GATEWAY_USER", "trader")
    monkeypatch.setenv("AFTM_GATEWAY_PASSWORD", "secret")
    for name in ("ITEMS", "PFCF_RUNTIME", "PFCF_NAMESPACE", "SIM_SYMBOLS", "BROKER_TIMEOUT_MS"):
        monkeypatch.delenv(f"AFTM_GATEWAY_{name}", raising=False)
    return monkeypatch


def test_pfcf_settings_load(pfcf_env: pytest.MonkeyPatch) -> None:
    settings = load(GatewaySettings, "aftm-gateway")

    assert (settings.broker, settings.pfcf_server, settings.pfcf_namespace) == (
        "pfcf",
        "203.0.113.7",
        "PFCF",
    )
    assert settings.pfcf_runtime == ("netfx" if sys.platform == "win32" else "mono")
    assert settings.items == ("TXFL6", "MXFL6", "TMFL6")
    assert settings.pfcf_not_found_grace_ms == 30_000


def test_items_of_any_listed_product_are_the_brokers_to_check(
    pfcf_env: pytest.MonkeyPatch,
) -> None:
    pfcf_env.setenv("AFTM_GATEWAY_ITEMS", "TXFA7,MXFA7")

    assert load(GatewaySettings, "aftm-gateway").items == ("TXFA7", "MXFA7")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PFCF_DLL_PATH", "", "AFTM_GATEWAY_PFCF_DLL_PATH: Value error, is required"),
        ("PFCF_DLL_PATH", "/nowhere/PFCFAPI.dll", "is not a readable file"),
        ("PFCF_SERVER", " ", "AFTM_GATEWAY_PFCF_SERVER: Value error, is required"),
        ("PFCF_RUNTIME", "coreclr", "AFTM_GATEWAY_PFCF_RUNTIME"),
        ("USER", "", "AFTM_GATEWAY_USER: Value error, is required for broker pfcf"),
        ("ITEMS", "XYZA7", "AFTM_GATEWAY_ITEMS"),
        ("PFCF_NOT_FOUND_GRACE_MS", "0", "AFTM_GATEWAY_PFCF_NOT_FOUND_GRACE_MS"),
        ("PFCF_NOT_FOUND_GRACE_MS", "9999", "at least twice AFTM_GATEWAY_BROKER_TIMEOUT_MS"),
    ],
)
def test_what_pfcf_needs_is_refused_naming_the_variable(
    pfcf_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    message: str,
) -> None:
    if value:
        pfcf_env.setenv(f"AFTM_GATEWAY_{name}", value)
    else:
        pfcf_env.delenv(f"AFTM_GATEWAY_{name}")

    with pytest.raises(SystemExit) as exited:
        load(GatewaySettings, "aftm-gateway")

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
