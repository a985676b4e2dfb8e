"""The compose stack's key maker: pairs made once, each service's folder holding its own secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aftm.security.keys import create, load_pair, load_trusted, secret_path
from aftm.security.provision import SERVICE_ROLES, main, provision
from aftm.security.roles import Role

ME = os.getuid(), os.getgid()


def test_first_run_makes_a_pair_per_role_and_a_folder_per_service(tmp_path: Path) -> None:
    assert provision(tmp_path, *ME).startswith("created")

    for role in SERVICE_ROLES:
        own = tmp_path / str(role)
        assert sorted(p.name for p in own.iterdir()) == sorted(
            [f"{role}.key_secret", *(f"{each}.key" for each in Role)]
        )
        assert stat.S_IMODE(own.stat().st_mode) == 0o700
        assert stat.S_IMODE(secret_path(own, role).stat().st_mode) == 0o600
        assert load_pair(own, role) == load_pair(tmp_path, role)
        assert load_trusted(own) == load_trusted(tmp_path)
    assert not (tmp_path / "console").exists()  # the console uses the folder itself


def test_keys_are_kept_across_runs_and_a_stray_secret_is_removed(tmp_path: Path) -> None:
    provision(tmp_path, *ME)
    before = {role: load_pair(tmp_path, role) for role in Role}
    stray = secret_path(tmp_path / "gateway", Role.EXECUTOR)
    stray.write_bytes(secret_path(tmp_path, Role.EXECUTOR).read_bytes())

    assert provision(tmp_path, *ME).startswith("kept")

    assert {role: load_pair(tmp_path, role) for role in Role} == before
    assert not stray.exists()


def test_a_folder_with_only_some_pairs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(tmp_path, (Role.GATEWAY,))

    assert main([str(tmp_path)]) == 2

    assert "not strategy, executor, console" in capsys.readouterr().err
    assert not secret_path(tmp_path, Role.STRATEGY).exists()
