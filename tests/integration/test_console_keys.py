"""`aftm keys init` and `aftm keys show` as a person runs them: subprocesses, real files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from aftm.security import keys
from aftm.security.roles import Role

AFTM = [sys.executable, "-m", "aftm_console"]


def aftm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTM_")}
    return subprocess.run(
        [*AFTM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_init_then_show_prints_every_public_key_and_no_secret(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    made = aftm("keys", "init", "--dir", str(folder), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for role in Role:
        assert stat.S_IMODE(keys.secret_path(folder, role).stat().st_mode) == 0o600

    shown = aftm("keys", "show", "--dir", str(folder), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    listed = {row["role"]: row["public_key"] for row in json.loads(shown.stdout)}
    assert listed == {str(role): key.decode() for role, key in keys.load_trusted(folder).items()}

    table = aftm("keys", "show", "--dir", str(folder), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    for role in Role:
        secret = keys.load_pair(folder, role).secret.decode()
        assert secret not in table.stdout
        assert secret not in shown.stdout
        assert listed[str(role)] in table.stdout


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    assert aftm("keys", "init", "--dir", str(folder), cwd=tmp_path).returncode == 0
    before = keys.load_trusted(folder)
    refused = one_line_error(aftm("keys", "init", "--dir", str(folder), cwd=tmp_path))
    assert "already exist" in refused
    assert "--force" in refused
    assert keys.load_trusted(folder) == before
    forced = aftm("keys", "init", "--dir", str(folder), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert keys.load_trusted(folder)[Role.GATEWAY] != before[Role.GATEWAY]


def test_the_default_folder_is_var_keys(tmp_path: Path) -> None:
    assert aftm("keys", "init", cwd=tmp_path).returncode == 0
    assert set(keys.load_trusted(tmp_path / "var" / "keys")) == set(Role)


def test_show_without_keys_names_the_missing_file(tmp_path: Path) -> None:
    line = one_line_error(aftm("keys", "show", "--dir", str(tmp_path / "none"), cwd=tmp_path))
    assert "gateway.key: missing" in line
    assert "aftm keys init" in line
