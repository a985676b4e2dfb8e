"""Settings loading: a bad value exits 2 naming the environment variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aftm.settings import load
from aftm_console.settings import ConsoleSettings
from aftm_executor.settings import ExecutorSettings
from aftm_gateway.settings import GatewaySettings
from aftm_strategy.settings import StrategySettings


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
    tmp_path: Path,
    settings: type[BaseSettings],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(tmp_path))  # not /run/secrets, if it exists
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


# --- empty and unsafe settings, in every service ---------------------------------------------


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty secrets folder and a working directory without a .env file."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(folder))
    monkeypatch.chdir(tmp_path)
    return folder


def refused_naming(
    settings: type[BaseSettings], variable: str, capsys: pytest.CaptureFixture[str]
) -> str:
    with pytest.raises(SystemExit) as exited:
        load(settings, "service")
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"invalid setting {variable}: " in error
    assert error.count("\n") == 1
    return error


SERVICES: dict[str, type[BaseSettings]] = {
    "GATEWAY": GatewaySettings,
    "STRATEGY": StrategySettings,
    "EXECUTOR": ExecutorSettings,
}
FLOATS = [
    ("GATEWAY", "HEARTBEAT_S"),
    ("GATEWAY", "HEALTH_EVENT_AGE_S"),
    ("GATEWAY", "SIM_TICKS_PER_S"),
    ("GATEWAY", "REPLAY_SPEED"),
    ("STRATEGY", "HEARTBEAT_TIMEOUT_S"),
    ("EXECUTOR", "MAX_ACCOUNT_LOTS_TX"),
    ("EXECUTOR", "MAX_ENTRY_AGE_S"),
    ("EXECUTOR", "DAILY_LOSS_LIMIT_TWD"),
    ("EXECUTOR", "RETENTION_DAYS"),
    ("EXECUTOR", "HEARTBEAT_TIMEOUT_S"),
    ("EXECUTOR", "RESYNC_INTERVAL_S"),
    ("EXECUTOR", "RECONCILE_INTERVAL_S"),
    ("EXECUTOR", "RECONCILE_SETTLE_S"),
]


def every_float_field() -> set[tuple[str, str]]:
    return {
        (service, name.upper())
        for service, settings in SERVICES.items()
        for name, field in settings.model_fields.items()
        if field.annotation is float
    }


def test_the_float_table_holds_every_float_setting() -> None:
    assert every_float_field() == set(FLOATS)


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize(("service", "name"), FLOATS)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "1e12"])
def test_a_duration_or_rate_is_finite_and_in_range(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    service: str,
    name: str,
    value: str,
) -> None:
    variable = f"AFTM_{service}_{name}"
    if name == "DAILY_LOSS_LIMIT_TWD" and value == "0":
        pytest.skip("0 turns the daily loss check off")
    monkeypatch.setenv(variable, value)

    refused_naming(SERVICES[service], variable, capsys)


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("value", ["", " ", "\t", "127.0.0.1:9100", "http://x", "a b", "é.local"])
def test_an_empty_or_malformed_metrics_host_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], service: str, value: str
) -> None:
    # An empty host would have the metrics server listen on every interface.
    variable = f"AFTM_{service}_METRICS_HOST"
    monkeypatch.setenv(variable, value)

    refused_naming(SERVICES[service], variable, capsys)


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("value", ["0.0.0.0", "localhost", "::1", "aftm_gateway", " 10.0.0.7 "])
def test_a_metrics_host_takes_names_and_addresses(
    monkeypatch: pytest.MonkeyPatch, service: str, value: str
) -> None:
    monkeypatch.setenv(f"AFTM_{service}_METRICS_HOST", value)

    assert load(SERVICES[service], "service").metrics_host == value.strip()  # type: ignore[attr-defined]


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize(
    "variable",
    [
        "AFTM_GATEWAY_JOURNAL_PATH",
        "AFTM_GATEWAY_FILL_LEDGER_PATH",
        "AFTM_GATEWAY_SIM_STATE_PATH",
        "AFTM_STRATEGY_STORE_PATH",
        "AFTM_EXECUTOR_JOURNAL_PATH",
    ],
)
@pytest.mark.parametrize("value", [".", "folder", " "])
def test_a_file_setting_that_names_a_folder_or_nothing_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_secrets: Path,
    variable: str,
    value: str,
) -> None:
    (no_secrets.parent / "folder").mkdir()
    monkeypatch.setenv(variable, value)
    service = variable.split("_")[1]

    refused_naming(SERVICES[service], variable, capsys)


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("GATEWAY", "AFTM_GATEWAY_ROUTER_BIND"),
        ("STRATEGY", "AFTM_STRATEGY_TICK_CONNECT"),
        ("EXECUTOR", "AFTM_EXECUTOR_STRATEGY_CONNECT"),
    ],
)
@pytest.mark.parametrize(
    "value",
    ["tcp://127.0.0.1 :5556", "tcp://127.0.0. 1:5556", "ipc:///tmp/a b", "ipc://\x01", "tcp://"],
)
def test_an_endpoint_with_blanks_or_control_characters_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    service: str,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)

    refused_naming(SERVICES[service], variable, capsys)


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_GATEWAY_BROKER_TIMEOUT_MS", str(2**63)),
        ("AFTM_GATEWAY_PFCF_LOGIN_TIMEOUT_MS", "86400001"),
        ("AFTM_GATEWAY_FAULT_DELAY_MS", "1e3"),
        ("AFTM_GATEWAY_FAULT_DROP_REPLIES", str(2**64)),
        ("AFTM_GATEWAY_SIM_SEED", str(2**64)),
        ("AFTM_GATEWAY_METRICS_PORT", "65536"),
        ("AFTM_STRATEGY_METRICS_PORT", "-1"),
        ("AFTM_EXECUTOR_REQUEST_TIMEOUT_MS", "nan"),
    ],
)
def test_whole_numbers_stay_in_range(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    refused_naming(SERVICES[variable.split("_")[1]], variable, capsys)


@pytest.fixture
def pfcf(monkeypatch: pytest.MonkeyPatch, no_secrets: Path) -> Path:
    dll = no_secrets.parent / "PFCFAPI.dll"
    dll.write_bytes(b"settings only check that the file is there")
    monkeypatch.setenv("AFTM_GATEWAY_BROKER", "pfcf")
    monkeypatch.setenv("AFTM_GATEWAY_PFCF_DLL_PATH", str(dll))
    monkeypatch.setenv("AFTM_GATEWAY_PFCF_SERVER", "203.0.113.7")
    monkeypatch.setenv("AFTM_GATEWAY_USER", "trader")
    monkeypatch.setenv("AFTM_GATEWAY_PASSWORD", "secret")
    return no_secrets


@pytest.mark.usefixtures("pfcf")
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_GATEWAY_USER", ""),
        ("AFTM_GATEWAY_USER", "   "),
        ("AFTM_GATEWAY_PASSWORD", ""),
        ("AFTM_GATEWAY_USER", "u" * 65),
        ("AFTM_GATEWAY_USER", "trader\x1b[2J"),
        ("AFTM_GATEWAY_PASSWORD", "p" * 257),
        ("AFTM_GATEWAY_PASSWORD", "secret\r"),
    ],
)
def test_an_empty_broker_credential_is_refused_when_the_broker_needs_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    error = refused_naming(GatewaySettings, variable, capsys)

    assert "secret" not in error


def test_an_empty_password_file_in_the_secrets_dir_is_refused_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pfcf: Path
) -> None:
    monkeypatch.delenv("AFTM_GATEWAY_PASSWORD")
    (pfcf / "aftm_gateway_password").write_text("")

    refused_naming(GatewaySettings, "AFTM_GATEWAY_PASSWORD", capsys)


@pytest.mark.usefixtures("pfcf")
@pytest.mark.parametrize("value", ["", " ", "PFCF.", "1PFCF", "PF CF", "PFCF;rm", "A" * 300])
def test_the_pfcf_namespace_is_a_dotted_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("AFTM_GATEWAY_PFCF_NAMESPACE", value)

    refused_naming(GatewaySettings, "AFTM_GATEWAY_PFCF_NAMESPACE", capsys)


@pytest.mark.usefixtures("pfcf")
def test_the_pfcf_namespace_takes_a_dotted_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTM_GATEWAY_PFCF_NAMESPACE", " Vendor.PFCF_2 ")

    assert load(GatewaySettings, "gateway").pfcf_namespace == "Vendor.PFCF_2"


@pytest.mark.usefixtures("no_secrets")
def test_the_simulators_take_their_own_credential_for_an_empty_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTM_GATEWAY_USER", "")

    assert load(GatewaySettings, "gateway").user == "sim"


@pytest.mark.parametrize("kind", ["file", "device", "missing"])
def test_a_secrets_dir_set_to_something_else_than_a_folder_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kind: str,
) -> None:
    path = Path("/dev/null") if kind == "device" else tmp_path / "secrets"
    if kind == "file":
        path.write_text("aftm_gateway_password=hunter2\n")
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(path))
    monkeypatch.chdir(tmp_path)

    every: list[type[BaseSettings]] = [DemoSettings, *SERVICES.values()]
    for settings in every:
        error = refused_naming(settings, "AFTM_SECRETS_DIR", capsys)
        assert str(path) in error
        assert "hunter2" not in error


def test_an_unset_or_empty_secrets_dir_falls_back_quietly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AFTM_DEMO_TICKS_PER_S", raising=False)
    for value in (None, "", " "):
        if value is None:
            monkeypatch.delenv("AFTM_SECRETS_DIR", raising=False)
        else:
            monkeypatch.setenv("AFTM_SECRETS_DIR", value)

        assert load(DemoSettings, "demo").ticks_per_s == 1.0


# --- settings files that cannot be read ------------------------------------------------------


def test_a_dotenv_file_that_is_not_utf8_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_secrets: Path
) -> None:
    (no_secrets.parent / ".env").write_bytes(b"AFTM_STRATEGY_METRICS_HOST=\xff\xfe\n")

    with pytest.raises(SystemExit) as exited:
        load(StrategySettings, "strategy")

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("strategy: invalid settings file .env: ")
    assert "UTF-8" in error
    assert error.count("\n") == 1


def test_a_secret_file_that_is_not_utf8_exits_2_naming_its_variable(
    capsys: pytest.CaptureFixture[str], no_secrets: Path
) -> None:
    (no_secrets / "aftm_strategy_metrics_host").write_bytes(b"\xff")

    error = refused_naming(StrategySettings, "AFTM_STRATEGY_METRICS_HOST", capsys)

    assert str(no_secrets) in error


# --- the console's key folder ----------------------------------------------------------------


@pytest.mark.usefixtures("no_secrets")
@pytest.mark.parametrize("value", ["", " ", "/dev/null"])
def test_a_console_key_folder_that_is_empty_or_a_file_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("AFTM_CONSOLE_INSECURE", "false")
    monkeypatch.setenv("AFTM_CONSOLE_KEYS_DIR", value)

    refused_naming(ConsoleSettings, "AFTM_CONSOLE_KEYS_DIR", capsys)


@pytest.mark.usefixtures("no_secrets")
def test_a_console_key_folder_not_made_yet_is_left_to_aftm_keys_init(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AFTM_CONSOLE_INSECURE", "false")
    monkeypatch.setenv("AFTM_CONSOLE_KEYS_DIR", str(tmp_path / "not-yet"))

    assert load(ConsoleSettings, "aftm").keys_dir == tmp_path / "not-yet"
