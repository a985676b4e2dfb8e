"""Key files: who may read them, what is refused, and every error naming its file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aftm.security.keys import (
    KeyFileError,
    KeysExist,
    create,
    load_pair,
    load_public,
    load_trusted,
    public_path,
    secret_path,
)
from aftm.security.roles import Role


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    keys = tmp_path / "keys"
    create(keys)
    return keys


def test_one_pair_per_role_secrets_for_the_owner_only(folder: Path) -> None:
    assert mode(folder) == 0o700
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        name for role in Role for name in (f"{role}.key", f"{role}.key_secret")
    )
    for role in Role:
        assert mode(secret_path(folder, role)) == 0o600
        assert mode(public_path(folder, role)) == 0o644


def test_a_pair_loads_and_matches_its_public_file(folder: Path) -> None:
    pair = load_pair(folder, Role.EXECUTOR)
    assert pair.role is Role.EXECUTOR
    assert pair.public == load_public(folder, Role.EXECUTOR)
    assert len(pair.secret) == 40
    assert pair.secret.decode() not in repr(pair)


def test_existing_keys_are_not_overwritten_unless_forced(folder: Path) -> None:
    before = load_trusted(folder)
    with pytest.raises(KeysExist, match=r"gateway\.key"):
        create(folder)
    assert load_trusted(folder) == before
    create(folder, force=True)
    after = load_trusted(folder)
    assert all(after[role] != before[role] for role in Role)
    assert [path.name for path in folder.iterdir() if path.name.startswith(".")] == []


def test_trusted_keys_are_distinct_per_role(folder: Path) -> None:
    trusted = load_trusted(folder, (Role.CONSOLE, Role.EXECUTOR))
    assert set(trusted) == {Role.CONSOLE, Role.EXECUTOR}
    assert trusted[Role.CONSOLE] != trusted[Role.EXECUTOR]


def test_a_missing_file_is_named(folder: Path) -> None:
    public_path(folder, Role.STRATEGY).unlink()
    with pytest.raises(KeyFileError, match=r"strategy\.key: missing"):
        load_trusted(folder)
    secret_path(folder, Role.STRATEGY).unlink()
    with pytest.raises(KeyFileError, match=r"strategy\.key_secret: missing"):
        load_pair(folder, Role.STRATEGY)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "unreadable"),
        ('curve\n    public-key = "short"\n', "not 40 Z85"),
        ('curve\n    public-key = "' + "~" * 40 + '"\n', "not valid Z85"),
        ('curve\n    public-key = "' + "#" * 40 + '"\n', "not valid Z85"),
    ],
)
def test_a_malformed_public_file_is_named(folder: Path, text: str, problem: str) -> None:
    path = public_path(folder, Role.CONSOLE)
    path.write_text(text)
    with pytest.raises(KeyFileError, match=problem) as refused:
        load_trusted(folder)
    assert refused.value.path == path


def test_a_secret_file_without_its_secret_is_refused(folder: Path) -> None:
    path = secret_path(folder, Role.CONSOLE)
    path.write_text(public_path(folder, Role.CONSOLE).read_text())
    with pytest.raises(KeyFileError, match="holds no secret-key"):
        load_pair(folder, Role.CONSOLE)


def test_a_secret_with_a_foreign_public_key_is_refused(folder: Path) -> None:
    path = secret_path(folder, Role.CONSOLE)
    foreign = load_public(folder, Role.GATEWAY).decode()
    own = load_public(folder, Role.CONSOLE).decode()
    path.write_text(path.read_text().replace(own, foreign))
    with pytest.raises(KeyFileError, match="does not belong"):
        load_pair(folder, Role.CONSOLE)


def test_a_secret_others_may_read_is_refused_unless_allowed(folder: Path) -> None:
    path = secret_path(folder, Role.GATEWAY)
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_pair(folder, Role.GATEWAY)
    assert load_pair(folder, Role.GATEWAY, require_private=False).role is Role.GATEWAY


def test_two_roles_with_one_key_are_refused(folder: Path) -> None:
    public_path(folder, Role.CONSOLE).write_text(public_path(folder, Role.GATEWAY).read_text())
    with pytest.raises(KeyFileError, match="same public key as the gateway role"):
        load_trusted(folder)
