"""The executor's settings for one executor per account and several strategy shards: a fixed
account needs its account, and a hostile list of strategy endpoints is refused at the boundary
(exit 2 naming the variable), whether read by `load` or by the real process at its start."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftm.settings import MAX_ENDPOINTS, load
from aftm_executor.settings import ExecutorSettings
from tests.support.processes import ServiceProcess

FIXED = "AFTM_EXECUTOR_ACCOUNT_FIXED"
ACCOUNT = "AFTM_EXECUTOR_ACCOUNT"
SHARDS = "AFTM_EXECUTOR_STRATEGY_CONNECT"
TOO_MANY = ",".join(f"tcp://127.0.0.1:{6000 + n}" for n in range(MAX_ENDPOINTS + 1))


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "no-secrets"
    folder.mkdir()
    monkeypatch.setenv("AFTM_SECRETS_DIR", str(folder))
    monkeypatch.delenv(ACCOUNT, raising=False)


def refused(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        load(ExecutorSettings, "aftm-executor")
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ",
        "tcp://127.0.0.1:5557,",  # a stray comma
        "tcp://127.0.0.1:5557,,tcp://127.0.0.1:5560",
        "tcp://127.0.0.1:5557, tcp://127.0.0.1:5557",  # one shard twice
        "tcp://127.0.0.1:5557,tcp://*:5560",  # a bind endpoint
        "tcp://127.0.0.1:5557,tcp://127.0.0. 1:5560",
        "tcp://127.0.0.1:5557,tcp://x:99999",
        '["tcp://127.0.0.1:5557"]',  # JSON is not how lists are written here
        TOO_MANY,
    ],
)
def test_a_hostile_list_of_strategy_endpoints_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv(SHARDS, value)

    assert f"invalid setting {SHARDS}: " in refused(capsys)


def test_a_list_of_strategy_endpoints_is_read_in_order_and_one_is_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SHARDS, " tcp://strategy-a:5557 ,tcp://strategy-b:5557")
    assert load(ExecutorSettings, "x").strategy_connect == (
        "tcp://strategy-a:5557",
        "tcp://strategy-b:5557",
    )
    monkeypatch.setenv(SHARDS, "tcp://127.0.0.1:5557")
    assert load(ExecutorSettings, "x").strategy_connect == ("tcp://127.0.0.1:5557",)


@pytest.mark.parametrize(
    ("fixed", "account", "variable"), [("true", " ", ACCOUNT), ("yes please", "SIM-0001", FIXED)]
)
def test_a_fixed_account_needs_an_account(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fixed: str,
    account: str,
    variable: str,
) -> None:
    monkeypatch.setenv(FIXED, fixed)
    monkeypatch.setenv(ACCOUNT, account)

    assert f"invalid setting {variable}: " in refused(capsys)


def test_the_account_is_free_to_select_unless_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load(ExecutorSettings, "x").account_fixed
    monkeypatch.setenv(FIXED, "true")
    monkeypatch.setenv(ACCOUNT, "SIM-0002")
    settings = load(ExecutorSettings, "x")
    assert (settings.account_fixed, settings.account) == (True, "SIM-0002")


@pytest.mark.parametrize(
    "env",
    [
        {FIXED: "true"},
        {SHARDS: "tcp://127.0.0.1:5557,,tcp://127.0.0.1:5560"},
    ],
)
def test_the_executor_process_exits_2_naming_the_setting(
    tmp_path: Path, env: dict[str, str]
) -> None:
    log = tmp_path / "executor.log"
    secrets = tmp_path / "no-secrets"
    service = ServiceProcess("aftm_executor", {"AFTM_SECRETS_DIR": str(secrets), **env}, log)
    service.start()
    assert service.process is not None
    try:
        code = service.process.wait(30)
    finally:
        service.kill()
    text = log.read_text()
    assert code == 2, text
    variable = ACCOUNT if FIXED in env else SHARDS
    assert f"invalid setting {variable}: " in text
    assert "Traceback" not in text
