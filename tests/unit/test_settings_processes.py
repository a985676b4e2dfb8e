"""Each service, started as a real process with a bad setting, exits 2 naming the variable.

The settings are read in `main()` before any socket or file is opened, so nothing here needs a
port; the processes come and go in about a second each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ServiceProcess

# (module, variable, value): a different unsafe value for each, so that together they cover an
# empty host, a NaN duration, an endpoint with a blank, a folder for a file and an empty user.
BAD_SETTINGS = [
    ("aftm_gateway", "AFTM_GATEWAY_METRICS_HOST", ""),
    ("aftm_gateway", "AFTM_GATEWAY_HEARTBEAT_S", "nan"),
    ("aftm_strategy", "AFTM_STRATEGY_HEARTBEAT_TIMEOUT_S", "inf"),
    ("aftm_strategy", "AFTM_STRATEGY_CONTROL_BIND", "tcp://127.0.0.1 :5557"),
    ("aftm_executor", "AFTM_EXECUTOR_METRICS_HOST", " "),
    ("aftm_executor", "AFTM_EXECUTOR_JOURNAL_PATH", "."),
]


def exit_of(module: str, env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    log = tmp_path / f"{module}.log"
    service = ServiceProcess(module, env, log).start()
    assert service.process is not None
    try:
        code = service.process.wait(30)
    finally:
        service.kill()
    return code, log.read_text(errors="replace")


@pytest.mark.parametrize(("module", "variable", "value"), BAD_SETTINGS)
def test_a_service_with_a_bad_setting_exits_2_naming_it(
    tmp_path: Path, module: str, variable: str, value: str
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()

    code, log = exit_of(module, {"AFTM_SECRETS_DIR": str(secrets), variable: value}, tmp_path)

    assert code == 2, log
    assert f"invalid setting {variable}: " in log
    assert "Traceback" not in log


@pytest.mark.parametrize("module", ["aftm_gateway", "aftm_strategy", "aftm_executor"])
def test_a_service_whose_secrets_dir_is_a_file_exits_2_naming_it(
    tmp_path: Path, module: str
) -> None:
    password_file = tmp_path / "aftm_gateway_password"
    password_file.write_text("hunter2")

    code, log = exit_of(module, {"AFTM_SECRETS_DIR": str(password_file)}, tmp_path)

    assert code == 2, log
    assert "invalid setting AFTM_SECRETS_DIR: " in log
    assert "hunter2" not in log


def test_the_console_with_a_missing_secrets_dir_exits_2_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aftm_console", "status"],
        env={"AFTM_SECRETS_DIR": str(tmp_path / "typo"), "AFTM_CONSOLE_INSECURE": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("aftm: invalid setting AFTM_SECRETS_DIR: ")
    assert done.stderr.count("\n") == 1
