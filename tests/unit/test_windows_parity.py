"""The Windows Dockerfiles promise what the Linux ones do: entrypoint, ports, settings, healthcheck,
a non-root user and one state volume (tests/support/dockerfiles.py says what "the same" means).

The Windows images cannot be built on this project's Linux machines; this is the only check
that keeps them in step. The compose override: tests/integration/test_windows_parity_compose.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dockerfiles import RoleFacts, differences, parse, role_facts

ROOT = Path(__file__).resolve().parents[2]
LINUX_DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
ROLES = ("gateway", "strategy", "executor")
# The Linux gateway's build-arg variants: each must keep the same promises.
GATEWAY_DOTNET = ("none", "mono")

# Settings only the Windows images set, each with the reason.
WINDOWS_ONLY_SETTINGS: dict[str, dict[str, str]] = {
    "gateway": {
        "AFTM_SECRETS_DIR": "Docker on Windows mounts secrets under C:\\ProgramData\\Docker\\"
        "secrets, not the /run/secrets the services read by default",
    },
    "strategy": {},
    "executor": {},
}


def linux_facts(path: Path, role: str, gateway_dotnet: str = "none") -> RoleFacts:
    return role_facts(parse(path.read_text()), role, "linux", {"GATEWAY_DOTNET": gateway_dotnet})


def windows_facts(role: str) -> RoleFacts:
    text = (ROOT / "deploy" / "windows" / f"Dockerfile.{role}").read_text()
    return role_facts(parse(text), role, "windows")


def parity(linux_dockerfile: Path, role: str, gateway_dotnet: str = "none") -> list[str]:
    """The check every test here makes: the role's Linux image against its Windows image."""
    return differences(
        linux_facts(linux_dockerfile, role, gateway_dotnet),
        windows_facts(role),
        WINDOWS_ONLY_SETTINGS[role],
    )


@pytest.mark.parametrize(
    ("role", "gateway_dotnet"),
    [
        *(("gateway", variant) for variant in GATEWAY_DOTNET),
        ("strategy", "none"),
        ("executor", "none"),
    ],
)
def test_windows_image_promises_what_the_linux_image_does(role: str, gateway_dotnet: str) -> None:
    assert parity(LINUX_DOCKERFILE, role, gateway_dotnet) == []


@pytest.mark.parametrize("role", ROLES)
def test_the_facts_compared_are_the_ones_the_images_declare(role: str) -> None:
    # Guards the reader: parity of two empty fact sets would prove nothing.
    facts = linux_facts(LINUX_DOCKERFILE, role)

    assert facts.entrypoint == f"aftm_{role}"
    assert facts.user == "aftm"
    assert facts.volumes == ("/var/lib/aftm",)
    assert facts.healthcheck is not None
    assert facts.healthcheck.url == "http://127.0.0.1:%s/health"
    assert facts.healthcheck.port_variable == f"AFTM_{role.upper()}_METRICS_PORT"
    assert f"AFTM_{role.upper()}_LOG_JSON" in facts.settings
    assert len(facts.exposed_ports) >= 2


def test_the_gateway_target_follows_the_build_arg_chosen_stage_to_its_settings() -> None:
    none, mono = (linux_facts(LINUX_DOCKERFILE, "gateway", variant) for variant in GATEWAY_DOTNET)

    assert none == mono
    assert none.settings["AFTM_GATEWAY_METRICS_PORT"] == "9101"


def mutated(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the Linux Dockerfile with one change, which must be found in the original."""
    text = LINUX_DOCKERFILE.read_text()
    assert old in text
    copy = tmp_path / "Dockerfile"
    copy.write_text(text.replace(old, new))
    return copy


def test_a_changed_linux_entrypoint_alone_is_reported(tmp_path: Path) -> None:
    changed = mutated(
        tmp_path,
        'ENTRYPOINT ["python", "-m", "aftm_gateway"]',
        'ENTRYPOINT ["python", "-m", "aftm_gateway.app"]',
    )

    assert parity(changed, "gateway") == [
        "entrypoint: linux runs aftm_gateway.app, windows aftm_gateway"
    ]
    assert parity(changed, "strategy") == []


def test_an_argument_added_to_a_linux_entrypoint_alone_is_reported(tmp_path: Path) -> None:
    # The module alone is not the promise: an argument after it changes what the image runs.
    changed = mutated(
        tmp_path,
        'ENTRYPOINT ["python", "-m", "aftm_strategy"]',
        'ENTRYPOINT ["python", "-m", "aftm_strategy", "--log-json"]',
    )

    assert parity(changed, "strategy") == [
        "entrypoint: linux runs aftm_strategy --log-json, windows aftm_strategy"
    ]
    assert parity(changed, "executor") == []


def test_a_changed_linux_port_alone_is_reported(tmp_path: Path) -> None:
    changed = mutated(tmp_path, "EXPOSE 5555 5556 9101", "EXPOSE 5565 5556 9101")

    assert parity(changed, "gateway") == [
        "exposed ports: only linux ['5565/tcp'], only windows ['5555/tcp']"
    ]


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        ("USER aftm\nWORKDIR /var/lib/aftm\nVOLUME /var/lib/aftm\nEXPOSE 5558",
         "USER root\nWORKDIR /var/lib/aftm\nVOLUME /var/lib/aftm\nEXPOSE 5558",
         "user: linux runs as 'root', not a non-root account"),
        ("AFTM_EXECUTOR_JOURNAL_PATH=/var/lib/aftm/executor-journal.sqlite",
         "AFTM_EXECUTOR_JOURNAL_PATH=/tmp/executor-journal.sqlite",
         "setting AFTM_EXECUTOR_JOURNAL_PATH: linux '/tmp/executor-journal.sqlite' and windows"
         " 'C:/aftm/state/executor-journal.sqlite' are not the same file in the state volume"),
        ("AFTM_EXECUTOR_METRICS_PORT=9103", "AFTM_EXECUTOR_METRICS_PORT=9113",
         "setting AFTM_EXECUTOR_METRICS_PORT: linux '9113', windows '9103'"),
        ("os.environ['AFTM_EXECUTOR_METRICS_PORT']", "os.environ['AFTM_EXECUTOR_PORT']",
         "healthcheck: linux HealthProbe(url='http://127.0.0.1:%s/health',"
         " port_variable='AFTM_EXECUTOR_PORT'"),
        # Every role's healthcheck changes; the executor's is the one compared here.
        ("--retries=3", "--retries=5", "healthcheck: linux HealthProbe("),
    ],
)  # fmt: skip
def test_other_linux_only_changes_to_the_executor_are_reported(
    tmp_path: Path, old: str, new: str, reported: str
) -> None:
    found = parity(mutated(tmp_path, old, new), "executor")

    assert len(found) == 1
    assert found[0].startswith(reported)


def test_a_renamed_linux_setting_is_reported_on_both_sides(tmp_path: Path) -> None:
    changed = mutated(tmp_path, "AFTM_EXECUTOR_LOG_JSON=true", "AFTM_EXECUTOR_LOG_FORMAT=json")

    assert parity(changed, "executor") == [
        "settings only on linux: ['AFTM_EXECUTOR_LOG_FORMAT']",
        "settings only on windows: ['AFTM_EXECUTOR_LOG_JSON']",
    ]


def test_a_second_linux_volume_is_reported_and_leaves_the_state_files_unplaced(
    tmp_path: Path,
) -> None:
    changed = mutated(
        tmp_path, "VOLUME /var/lib/aftm\nEXPOSE 5558", "VOLUME /var/lib/aftm /tmp\nEXPOSE 5558"
    )

    found = parity(changed, "executor")

    assert found[-1] == "volumes: linux declares ['/var/lib/aftm', '/tmp'], not one"
    assert [line.split(":")[0] for line in found[:-1]] == ["setting AFTM_EXECUTOR_JOURNAL_PATH"]
