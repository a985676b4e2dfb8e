"""What must not be in the strategy and executor: the broker's credentials (in the running
containers: environment and files) and any .NET piece (in their images: pythonnet, Mono or .NET,
any DLL). No container holds another role's CURVE secret key, and no log or environment holds
any. DESIGN.md principle 7, "Roles and keys", and the layout note on per-service dependencies."""

from __future__ import annotations

import json

import pytest
from testcontainers.core.container import DockerContainer

from aftm.security.roles import Role
from tests.containers.stack import Stack, docker

pytestmark = pytest.mark.slow
SECRET_FILE = "/run/secrets/aftm_gateway_password"
KEYS_IN_CONTAINER = "/run/aftm/keys"
DONE = "scan finished"
# Files (as root, whole filesystem but the kernel's) whose content holds the text given as $1.
GREP_FILES = (
    f'grep -rlsF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e "$1" /; echo "{DONE}"'
)
DOTNET_FILES = (
    r"find / -xdev \( -iname '*.dll' -o -iname '*pythonnet*' -o -iname 'clr_loader*'"
    r" -o -name 'clr.py' -o -iname 'mono' -o -iname 'mono-*' -o -iname 'libmono*'"
    r" -o -iname 'dotnet' -o -iname 'mscorlib*' \) -print;"
    " python -c 'import importlib.util as u;"
    ' [print("importable", m) for m in ("pythonnet", "clr", "clr_loader") if u.find_spec(m)]\';'
    f' echo "{DONE}"'
)


def files_holding(container: str, text: str) -> list[str]:
    found = docker("exec", "--user", "0", container, "sh", "-c", GREP_FILES, "sh", text).split()
    assert found[-2:] == DONE.split(), f"the scan did not finish: {found}"
    return found[:-2]


@pytest.mark.parametrize("service", ["strategy", "executor"])
def test_broker_password_is_in_neither_environment_nor_files(stack: Stack, service: str) -> None:
    container = stack.container_id(service)
    inspected = docker("inspect", container)
    environment = json.loads(inspected)[0]["Config"]["Env"]

    assert stack.password not in inspected
    assert [v for v in environment if "PASSWORD" in v.partition("=")[0].upper()] == []
    assert files_holding(container, stack.password) == []


def test_only_the_gateway_holds_the_password_as_a_secret_file(stack: Stack) -> None:
    # Also proves the file scan above finds the password where it is.
    gateway = stack.container_id("gateway")

    assert files_holding(gateway, stack.password) == [SECRET_FILE]
    assert stack.password not in docker("inspect", gateway)


def test_no_service_logs_the_password(stack: Stack) -> None:
    assert stack.password not in stack.logs()


@pytest.mark.parametrize("service", ["strategy", "executor"])
def test_image_has_no_pythonnet_no_dotnet_and_no_dll(stack: Stack, service: str) -> None:
    # As root, so no folder is left unread; `sleep` keeps it up for the scan.
    image = DockerContainer(stack.image(service)).with_kwargs(user="0", entrypoint=["sleep", "600"])
    with image as box:
        result = box.exec(["sh", "-c", DOTNET_FILES])

    lines = result.output.decode().splitlines()
    assert result.exit_code == 0, lines
    assert lines == [DONE]


def secret_key(stack: Stack, role: Role) -> str:
    return stack.curve(role).own.secret.decode()


@pytest.mark.parametrize("service", ["gateway", "strategy", "executor"])
def test_each_service_holds_its_own_secret_key_and_no_other(stack: Stack, service: str) -> None:
    container = stack.container_id(service)
    own = Role(service)
    listed = docker("exec", container, "ls", KEYS_IN_CONTAINER).split()
    assert sorted(listed) == sorted([f"{own}.key_secret", *(f"{role}.key" for role in Role)])

    for role in Role:
        holding = files_holding(container, secret_key(stack, role))
        if role is own:
            assert holding == [f"{KEYS_IN_CONTAINER}/{own}.key_secret"]  # the scan finds it
        else:
            assert holding == [], f"the {service} holds the {role}'s secret key: {holding}"
    assert not any(secret_key(stack, role) in docker("inspect", container) for role in Role)


def test_no_service_logs_a_secret_key(stack: Stack) -> None:
    logs = stack.logs()
    assert "curve=on" in logs
    for role in Role:
        assert secret_key(stack, role) not in logs
