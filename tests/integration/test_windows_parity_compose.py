"""The Windows compose override keeps docker-compose.yml's promises: the same services, settings
names, published ports, secrets, healthchecks and mounts, with Windows paths where paths differ.

Both files are read as Compose resolves them (`docker compose config --format json`), so anchors,
`!override` and defaults are applied. This needs only the docker CLI with its Compose plugin, no
engine and no Windows host: nothing is built or run. The Dockerfiles' own check is
tests/unit/test_windows_parity.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.dockerfiles import Platform, RoleFacts, is_non_root, parse, role_facts

ROOT = Path(__file__).resolve().parents[2]
LINUX_COMPOSE = "docker-compose.yml"
WINDOWS_OVERRIDE = "deploy/windows/docker-compose.windows.yml"
LINUX_DOCKERFILE = "deploy/docker/Dockerfile"

# Services the Windows stack leaves out unless `--profile linux` is given, each with the reason.
LINUX_ONLY_SERVICES = {
    "prometheus": "a Linux image: on a second (Linux) host, or here with --profile linux",
    "alertmanager": "a Linux image (Debian's package); the same as Prometheus",
}
# Mounts only the Windows services have, by (service, target), each with the reason.
WINDOWS_ONLY_MOUNTS = {
    ("gateway", "C:/aftm/dll"): "the Windows gateway is the .NET Framework image that loads the"
    " vendor DLL; the default Linux gateway is lean and loads none",
}

pytestmark = pytest.mark.skipif(
    shutil.which("docker") is None and not os.environ.get("AFTM_REQUIRE_DOCKER"),
    reason="the compose check needs the docker CLI with its Compose plugin (docker compose config)",
)

Service = dict[str, Any]


def compose_config(*files: str, profiles: tuple[str, ...] = ()) -> dict[str, Service]:
    arguments = [argument for file in files for argument in ("-f", file)]
    arguments += [argument for profile in profiles for argument in ("--profile", profile)]
    done = subprocess.run(
        ["docker", "compose", *arguments, "config", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    services: dict[str, Service] = json.loads(done.stdout)["services"]
    return services


def image_facts(service: Service, platform: Platform) -> RoleFacts:
    build = service["build"]
    return role_facts(
        parse((ROOT / build["dockerfile"]).read_text()), build["target"], platform, build["args"]
    )


def mounts(service: Service) -> dict[str, Service]:
    """The service's mounts by what they mount: a named volume's name or a host folder."""
    return {mount["source"]: mount for mount in service.get("volumes", [])}


def differences(name: str, linux: Service, windows: Service) -> list[str]:
    """Every way the Windows service breaks the Linux one's promises, one line each."""
    linux_image, windows_image = image_facts(linux, "linux"), image_facts(windows, "windows")
    linux_env, windows_env = linux.get("environment", {}), windows.get("environment", {})
    found: list[str] = []
    if windows["build"]["dockerfile"] != f"deploy/windows/Dockerfile.{linux['build']['target']}":
        found.append(f"built from {windows['build']['dockerfile']}")
    if set(linux_env) != set(windows_env):
        found.append(f"environment: linux {sorted(linux_env)}, windows {sorted(windows_env)}")
    for fact in ("ports", "healthcheck"):
        if linux.get(fact) != windows.get(fact):
            found.append(f"{fact}: linux {linux.get(fact)}, windows {windows.get(fact)}")
    if (linux.get("entrypoint") or [None])[:3] != (windows.get("entrypoint") or [None])[:3]:
        found.append(f"entrypoint: linux {linux['entrypoint']}, windows {windows['entrypoint']}")
    linux_user = is_non_root(linux.get("user", linux_image.user), "linux")
    if linux_user != is_non_root(windows.get("user", windows_image.user), "windows"):
        found.append(f"user: linux {linux.get('user')}, windows {windows.get('user')}")
    found += secret_differences(linux, windows, windows_image)
    linux_mounts = mounts(linux)
    windows_mounts = {
        source: mount
        for source, mount in mounts(windows).items()
        if (name, mount["target"]) not in WINDOWS_ONLY_MOUNTS
    }
    if set(linux_mounts) != set(windows_mounts):
        found.append(f"mounts: linux {sorted(linux_mounts)}, windows {sorted(windows_mounts)}")
    for source in set(linux_mounts) & set(windows_mounts):
        found += mount_differences(
            (linux_mounts[source], linux_env, linux_image),
            (windows_mounts[source], windows_env, windows_image),
        )
    return found


def secret_differences(linux: Service, windows: Service, windows_image: RoleFacts) -> list[str]:
    """Same secrets; on Windows each lands in the folder the image's AFTM_SECRETS_DIR names."""
    linux_secrets = {s["source"]: s["target"] for s in linux.get("secrets", [])}
    windows_secrets = {s["source"]: s["target"] for s in windows.get("secrets", [])}
    secrets_dir = windows_image.settings.get("AFTM_SECRETS_DIR")
    expected = {source: f"{secrets_dir}/{target}" for source, target in linux_secrets.items()}
    if windows_secrets != expected:
        return [f"secrets: windows {windows_secrets}, expected {expected}"]
    return []


Side = tuple[Service, dict[str, str], RoleFacts]


def mount_differences(linux: Side, windows: Side) -> list[str]:
    """A mount's target is where the image keeps its state, or where a setting points."""
    (linux_mount, linux_env, linux_image), (windows_mount, windows_env, windows_image) = (
        linux,
        windows,
    )
    source = linux_mount["source"]
    found: list[str] = []
    if linux_mount.get("read_only") != windows_mount.get("read_only"):
        found.append(f"mount {source}: read-only differs")
    if linux_mount["type"] == "volume" and (
        linux_mount["target"] not in linux_image.volumes
        or windows_mount["target"] not in windows_image.volumes
    ):
        found.append(f"volume {source}: mounted away from the images' state volumes")
    for variable, value in linux_env.items():
        if value == linux_mount["target"] and windows_env.get(variable) != windows_mount["target"]:
            found.append(f"mount {source}: windows {variable} is not {windows_mount['target']}")
    return found


@pytest.fixture(scope="module")
def linux() -> dict[str, Service]:
    return compose_config(LINUX_COMPOSE)


@pytest.fixture(scope="module")
def windows() -> dict[str, Service]:
    return compose_config(LINUX_COMPOSE, WINDOWS_OVERRIDE)


def test_windows_runs_the_same_services_except_the_linux_images(
    linux: dict[str, Service], windows: dict[str, Service]
) -> None:
    assert set(windows) == set(linux) - set(LINUX_ONLY_SERVICES)
    with_linux_profile = compose_config(LINUX_COMPOSE, WINDOWS_OVERRIDE, profiles=("linux",))
    assert set(with_linux_profile) == set(linux)


def test_every_project_image_service_is_compared(linux: dict[str, Service]) -> None:
    project = {
        name
        for name, s in linux.items()
        if s.get("build", {}).get("dockerfile") == LINUX_DOCKERFILE
    }

    assert project == {"keys", "gateway", "strategy", "executor"}


@pytest.mark.parametrize("name", ["keys", "gateway", "strategy", "executor"])
def test_windows_service_keeps_the_linux_services_promises(
    name: str, linux: dict[str, Service], windows: dict[str, Service]
) -> None:
    assert differences(name, linux[name], windows[name]) == []


def test_a_port_published_only_on_linux_is_reported(
    linux: dict[str, Service], windows: dict[str, Service]
) -> None:
    changed = json.loads(json.dumps(linux["strategy"]))
    changed["ports"][0]["published"] = "5567"

    found = differences("strategy", changed, windows["strategy"])

    assert len(found) == 1
    assert found[0].startswith("ports: linux")


def test_a_setting_only_on_linux_is_reported(
    linux: dict[str, Service], windows: dict[str, Service]
) -> None:
    changed = json.loads(json.dumps(linux["executor"]))
    changed["environment"]["AFTM_EXECUTOR_NEW_SETTING"] = "1"

    found = differences("executor", changed, windows["executor"])

    assert len(found) == 1
    assert found[0].startswith("environment: linux ['AFTM_EXECUTOR_ACCOUNT',")
    assert "AFTM_EXECUTOR_NEW_SETTING" in found[0]


def test_a_windows_keys_folder_away_from_its_mount_is_reported(
    linux: dict[str, Service], windows: dict[str, Service]
) -> None:
    changed = json.loads(json.dumps(windows["executor"]))
    changed["environment"]["AFTM_EXECUTOR_KEYS_DIR"] = "C:/elsewhere"

    found = differences("executor", linux["executor"], changed)

    assert len(found) == 1
    assert found[0].endswith(": windows AFTM_EXECUTOR_KEYS_DIR is not C:/aftm/keys")
