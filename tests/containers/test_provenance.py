"""Role images built by deploy/scripts/build-images.sh hold exactly what uv.lock pins, say where
they came from, and come with an SBOM of the same packages.

For each role: the distributions installed in the image (read inside it with importlib.metadata)
are the role's exported lock requirements plus the project's own two, at the same versions; the
OCI labels name this checkout's commit, the project version and uv.lock's sha256, and no build
time; the image's AFTM_BUILD_COMMIT is that commit; deploy/.sbom/<role>.cdx.json lists the same
packages and versions. Two builds of one commit therefore install identical versions.
The images are tagged $AFTM_TAG (default `provenance`), so `dev` and `test` stay untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
from packaging.utils import canonicalize_name

from tests.containers.stack import REPO, base_image, docker

pytestmark = pytest.mark.slow
ROLES = ("gateway", "strategy", "executor")
TAG = os.environ.get("AFTM_TAG") or "provenance"
# `python3 -m venv` seeds these from the base image's Python, before anything from the lock.
VENV_SEED = frozenset({"pip", "setuptools"})
INSTALLED = (
    "import importlib.metadata as m, json;"
    " print(json.dumps(sorted((d.metadata['Name'], d.version) for d in m.distributions())))"
)

Versions = dict[str, str]


def git_head() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def locked(role: str) -> Versions:
    """The pins of the requirements file the role's image was built from (name -> version)."""
    text = (REPO / "deploy" / ".wheelhouse" / f"requirements-{role}.txt").read_text()
    pins = [line.split(" ", 1)[0] for line in text.splitlines() if "==" in line]
    return {canonicalize_name(name): version for name, version in (p.split("==") for p in pins)}


def own(role: str) -> Versions:
    return {name: project_version() for name in ("aftm-shared", f"aftm-{role}")}


def project_version() -> str:
    uv = str(REPO / ".venv-tools" / "bin" / "uv")
    done = subprocess.run(
        [uv, "version", "--short", "--frozen", "--package", "aftm-shared"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def built() -> str:
    """Builds (from the build cache when unchanged) the images of this checkout, as a user does."""
    env = os.environ | {"AFTM_TAG": TAG, "DOCKER_BUILDKIT": "1"}
    if (image := base_image()) is not None:
        env["AFTM_BASE_IMAGE"] = image
    done = subprocess.run(
        [str(REPO / "deploy" / "scripts" / "build-images.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"build-images.sh failed:\n{done.stdout}{done.stderr}"
    return TAG


@pytest.mark.parametrize("role", ROLES)
def test_the_image_installs_exactly_the_locked_versions(built: str, role: str) -> None:
    listed = docker(
        "run", "--rm", "--entrypoint", "python", f"aftm/{role}:{built}", "-c", INSTALLED
    )
    installed = {canonicalize_name(name): version for name, version in json.loads(listed)}

    assert {n: v for n, v in installed.items() if n not in VENV_SEED} == locked(role) | own(role)


@pytest.mark.parametrize("role", ROLES)
def test_the_image_names_its_commit_version_and_lock(built: str, role: str) -> None:
    config = json.loads(docker("image", "inspect", f"aftm/{role}:{built}"))[0]["Config"]
    labels: dict[str, str] = config["Labels"]
    commit = git_head()
    lock_sha256 = hashlib.sha256((REPO / "uv.lock").read_bytes()).hexdigest()

    assert labels["org.opencontainers.image.revision"] == commit
    assert labels["org.opencontainers.image.version"] == project_version()
    assert labels["org.opencontainers.image.source"] != ""
    assert labels["io.aftm.lock-sha256"] == lock_sha256
    assert "org.opencontainers.image.created" not in labels  # a build time would differ per build
    assert f"AFTM_BUILD_COMMIT={commit}" in config["Env"]


@pytest.mark.parametrize("role", ROLES)
def test_the_sbom_lists_what_the_image_installs(built: str, role: str) -> None:
    sbom = json.loads((REPO / "deploy" / ".sbom" / f"{role}.cdx.json").read_text())
    components = {canonicalize_name(c["name"]): c["version"] for c in sbom["components"]}
    root = sbom["metadata"]["component"]

    assert sbom["bomFormat"] == "CycloneDX"
    assert components == locked(role) | {"aftm-shared": project_version()}
    assert (root["name"], root["version"]) == (f"aftm-{role}", project_version())
    assert "serialNumber" not in sbom  # reproducible: two builds give the same file
