"""Which code runs, as a person asks it: `aftm --version` and a real service's /health over HTTP;
and the commit read from a real git checkout (aftm.version.checkout_commit)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aftm.version import checkout_commit
from tests.support.processes import ServiceProcess, endpoint, free_port, http_json

ROOT = Path(__file__).resolve().parents[2]
SHA1 = "0123456789abcdef0123456789abcdef01234567"
VERSION = importlib.metadata.version("aftm-shared")


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.strip()


def aftm(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aftm_console", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "AFTM_BUILD_COMMIT"} | env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout"
    folder.mkdir()
    git(folder, "init", "--quiet")
    (folder / "tracked.py").write_text("")
    (folder / "untracked.py").write_text("")
    git(folder, "add", "tracked.py")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "one")
    return folder


def test_a_tracked_file_reports_its_checkouts_head(repository: Path) -> None:
    assert checkout_commit(repository / "tracked.py") == git(repository, "rev-parse", "HEAD")


def test_an_untracked_copy_inside_some_checkout_reports_nothing(repository: Path) -> None:
    # As a package installed into a virtual environment that lies inside an unrelated repository.
    assert checkout_commit(repository / "untracked.py") is None


def test_a_file_outside_any_checkout_reports_nothing(tmp_path: Path) -> None:
    (tmp_path / "alone.py").write_text("")

    assert checkout_commit(tmp_path / "alone.py") is None


def test_aftm_version_prints_the_build_commit() -> None:
    done = aftm("--version", AFTM_BUILD_COMMIT=SHA1)

    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"aftm {VERSION} (commit 0123456789ab)\n",
        "",
    )


def test_aftm_version_from_this_checkout_prints_its_head() -> None:
    head = checkout_commit(ROOT / "shared" / "src" / "aftm" / "version.py")
    if head is None:
        pytest.skip("aftm.version is not run from a git checkout here")

    done = aftm("--version")

    assert done.stdout == f"aftm {VERSION} (commit {head[:12]})\n"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[ServiceProcess, int]]:
    metrics_port = free_port()
    secrets = tmp_path / "no-secrets"
    secrets.mkdir()
    env = {
        "AFTM_BUILD_COMMIT": SHA1,
        "AFTM_GATEWAY_PUB_BIND": endpoint(),
        "AFTM_GATEWAY_ROUTER_BIND": endpoint(),
        "AFTM_GATEWAY_METRICS_PORT": str(metrics_port),
        "AFTM_GATEWAY_JOURNAL_PATH": str(tmp_path / "gateway-journal.sqlite"),
        "AFTM_GATEWAY_SIM_STATE_PATH": str(tmp_path / "sim-exchange.sqlite"),
        "AFTM_SECRETS_DIR": str(secrets),
    }
    process = ServiceProcess("aftm_gateway", env, tmp_path / "gateway.log").start()
    try:
        yield process, metrics_port
    finally:
        process.stop()


def test_a_services_health_names_its_version_and_commit(
    gateway: tuple[ServiceProcess, int],
) -> None:
    process, metrics_port = gateway
    process.wait_healthy(metrics_port)

    status, body = http_json(f"http://127.0.0.1:{metrics_port}/health")

    assert status == 200
    assert (body["version"], body["commit"]) == (VERSION, SHA1)
    assert body["healthy"] is True
