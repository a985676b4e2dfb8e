"""aftm.version: the version from the installed aftm-shared, the commit from AFTM_BUILD_COMMIT
when it holds a commit id, and the one-line description `aftm --version` prints."""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from aftm import version

ROOT = Path(__file__).resolve().parents[2]
SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "ab" * 32


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    """Both functions are worked out once per process: each test starts and leaves them clean."""
    version.version.cache_clear()
    version.commit.cache_clear()
    yield
    version.version.cache_clear()
    version.commit.cache_clear()


def test_version_is_the_shared_distributions() -> None:
    declared = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())["project"]["version"]

    assert version.version() == declared == importlib.metadata.version("aftm-shared")


@pytest.mark.parametrize("built", [SHA1, SHA256, f"  {SHA1.upper()}\n"])
def test_a_commit_id_in_the_environment_is_the_commit(
    monkeypatch: pytest.MonkeyPatch, built: str
) -> None:
    monkeypatch.setenv("AFTM_BUILD_COMMIT", built)

    assert version.commit() == built.strip().lower()


@pytest.mark.parametrize("value", ["", "unknown", "0123abc", SHA1 + "0", "g" * 40, "$(id)"])
def test_anything_else_in_the_environment_is_not_taken_for_a_commit(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AFTM_BUILD_COMMIT", value)
    # This very checkout: the commit falls back to its HEAD, or to "unknown" outside git.
    fallback = version.checkout_commit(Path(version.__file__).resolve()) or "unknown"

    assert version.commit() == fallback
    assert version.is_commit(fallback) or fallback == "unknown"


def test_the_commit_is_worked_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTM_BUILD_COMMIT", SHA1)
    first = version.commit()
    monkeypatch.setenv("AFTM_BUILD_COMMIT", SHA256)

    assert version.commit() == first == SHA1


def test_describe_names_the_version_and_twelve_hex_of_the_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTM_BUILD_COMMIT", SHA1)

    assert version.describe() == f"aftm {version.version()} (commit 0123456789ab)"


def test_describe_says_unknown_when_nothing_tells(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AFTM_BUILD_COMMIT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git to ask

    assert version.commit() == "unknown"
    assert version.describe().endswith("(commit unknown)")
