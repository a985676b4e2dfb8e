"""What a role's image promises at run time, read from its Dockerfile, and the Linux/Windows gaps.

The Dockerfiles are read with the `dockerfile` package, a Python binding of buildkit's own parser,
so continuations, the `# escape=` directive and the JSON and shell forms are read as Docker reads
them. A role is a build target (a stage name). Its facts are those of the image the target
produces: the stage's own instructions on top of the stages it is built FROM, followed through
`FROM <stage> AS <name>` chains (ENV, EXPOSE and VOLUME accumulate; USER, HEALTHCHECK and
ENTRYPOINT are replaced, as in the image config Docker carries from base to child). A FROM that
names a build argument (`FROM gateway-${GATEWAY_DOTNET}`) is resolved with the ARG defaults
declared before the first FROM, overridden by the `build_args` given, so each variant can be
checked; a FROM that names no earlier stage is an external image and ends the chain, so facts
that image might carry are unknown here (the reason USER must be set in the Dockerfile itself).

What "the same" means, fact by fact (Windows runs Python differently, so some facts are
normalised before they are compared):
- entrypoint: the module run with `python -m MODULE` and the arguments after it; the
  interpreter's spelling (`python`, `python.exe`, `C:\\Python\\python.exe`) and the instruction's
  form are ignored.
- exposed ports: the set of EXPOSE ports, `5555` read as `5555/tcp`.
- settings: the names of the `AFTM_*` ENV variables; their values must match too, except
  `*_PATH` settings, which must name the same file relative to the state volume.
- state volume: exactly one VOLUME per image (the paths differ by platform).
- healthcheck: the URL the probe opens, the ENV variable that supplies its port, and the
  options (interval, timeout, start period, retries).
- user: never compared for equality (`aftm` vs `ContainerUser`): each must be a non-root account
  of its own platform.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Literal

import dockerfile

Platform = Literal["linux", "windows"]

SETTINGS_PREFIX = "AFTM_"
# Accounts that hold administrator rights in a container, by platform (names compared lowercased).
ROOT_USERS: Mapping[Platform, frozenset[str]] = {
    "linux": frozenset({"root", "0"}),
    "windows": frozenset({"containeradministrator", "nt authority\\system"}),
}
_BUILD_ARG = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_URL = re.compile(r"https?://[^'\"\s]+")
_ENVIRON_KEY = re.compile(r"os\.environ\[\s*['\"](\w+)['\"]\s*\]")


@dataclass(frozen=True)
class HealthProbe:
    """What a HEALTHCHECK asks: the URL it opens and the variable that supplies its port."""

    url: str | None
    port_variable: str | None
    options: tuple[str, ...]


@dataclass(frozen=True)
class RoleFacts:
    """One role's image as its Dockerfile declares it; `settings` holds only AFTM_* variables."""

    platform: Platform
    entrypoint: str | None
    exposed_ports: frozenset[str]
    settings: Mapping[str, str]
    healthcheck: HealthProbe | None
    user: str | None
    volumes: tuple[str, ...]


@dataclass
class _Stage:
    parent: _Stage | None
    commands: list[dockerfile.Command]


def parse(text: str) -> tuple[dockerfile.Command, ...]:
    commands: tuple[dockerfile.Command, ...] = dockerfile.parse_string(text)
    return commands


def role_facts(
    commands: Sequence[dockerfile.Command],
    target: str,
    platform: Platform,
    build_args: Mapping[str, str] | None = None,
) -> RoleFacts:
    """The facts of the image `target` builds (see the module docstring for the rules)."""
    chain: list[_Stage] = []
    stages = _stages(commands, build_args or {})
    if target.lower() not in stages:
        raise ValueError(f"no stage named {target}: {sorted(stages)}")
    stage: _Stage | None = stages[target.lower()]
    while stage is not None:
        chain.insert(0, stage)
        stage = stage.parent
    settings: dict[str, str] = {}
    ports: set[str] = set()
    volumes: list[str] = []
    user: str | None = None
    health: HealthProbe | None = None
    entrypoint: str | None = None
    for command in (command for stage in chain for command in stage.commands):
        if command.cmd == "ENV":
            pairs = dict(zip(command.value[::2], command.value[1::2], strict=True))
            settings.update({k: v for k, v in pairs.items() if k.startswith(SETTINGS_PREFIX)})
        elif command.cmd == "EXPOSE":
            ports.update(port if "/" in port else f"{port}/tcp" for port in command.value)
        elif command.cmd == "VOLUME":
            volumes.extend(command.value)
        elif command.cmd == "USER":
            user = command.value[0]
        elif command.cmd == "HEALTHCHECK":
            health = _probe(command)
        elif command.cmd == "ENTRYPOINT":
            entrypoint = _module(_argv(command.value, command.json))
    return RoleFacts(platform, entrypoint, frozenset(ports), settings, health, user, tuple(volumes))


def differences(
    linux: RoleFacts, windows: RoleFacts, windows_only_settings: Collection[str] = ()
) -> list[str]:
    """Every way `windows` fails to match `linux`, one line each; empty when in step."""
    found: list[str] = []
    if linux.entrypoint != windows.entrypoint:
        found.append(f"entrypoint: linux runs {linux.entrypoint}, windows {windows.entrypoint}")
    if linux.exposed_ports != windows.exposed_ports:
        only_linux = sorted(linux.exposed_ports - windows.exposed_ports)
        only_windows = sorted(windows.exposed_ports - linux.exposed_ports)
        found.append(f"exposed ports: only linux {only_linux}, only windows {only_windows}")
    if linux.healthcheck != windows.healthcheck:
        found.append(f"healthcheck: linux {linux.healthcheck}, windows {windows.healthcheck}")
    found += _setting_differences(linux, windows, set(windows_only_settings))
    for facts in (linux, windows):
        if not is_non_root(facts.user, facts.platform):
            found.append(f"user: {facts.platform} runs as {facts.user!r}, not a non-root account")
        if len(facts.volumes) != 1:
            found.append(f"volumes: {facts.platform} declares {list(facts.volumes)}, not one")
    return found


def is_non_root(user: str | None, platform: Platform) -> bool:
    """No USER means the base image's user: root on Linux, unknown on Windows; both refused."""
    if user is None:
        return False
    account = user.split(":")[0] if platform == "linux" else user
    return account.lower() not in ROOT_USERS[platform]


def state_file(facts: RoleFacts, path: str) -> str | None:
    """`path` relative to the image's only volume, or None when it lies outside (or no volume)."""
    if len(facts.volumes) != 1:
        return None
    if facts.platform == "windows":
        volume_parts = [part.lower() for part in PureWindowsPath(facts.volumes[0]).parts]
        path_parts = list(PureWindowsPath(path).parts)
        folded = [part.lower() for part in path_parts]
    else:
        volume_parts = list(PurePosixPath(facts.volumes[0]).parts)
        path_parts = folded = list(PurePosixPath(path).parts)
    inside = folded[: len(volume_parts)] == volume_parts and len(path_parts) > len(volume_parts)
    return "/".join(path_parts[len(volume_parts) :]) if inside else None


def _setting_differences(linux: RoleFacts, windows: RoleFacts, windows_only: set[str]) -> list[str]:
    found: list[str] = []
    windows_names = set(windows.settings) - windows_only
    if only_linux := sorted(set(linux.settings) - windows_names):
        found.append(f"settings only on linux: {only_linux}")
    if only_windows := sorted(windows_names - set(linux.settings)):
        found.append(f"settings only on windows: {only_windows}")
    for name in sorted(set(linux.settings) & windows_names):
        linux_value, windows_value = linux.settings[name], windows.settings[name]
        if name.endswith("_PATH"):
            linux_file, windows_file = (
                state_file(linux, linux_value),
                state_file(windows, windows_value),
            )
            if linux_file is None or linux_file != windows_file:
                found.append(
                    f"setting {name}: linux {linux_value!r} and windows {windows_value!r}"
                    " are not the same file in the state volume"
                )
        elif linux_value != windows_value:
            found.append(f"setting {name}: linux {linux_value!r}, windows {windows_value!r}")
    return found


def _stages(
    commands: Sequence[dockerfile.Command], overrides: Mapping[str, str]
) -> dict[str, _Stage]:
    build_args: dict[str, str] = {}
    stages: dict[str, _Stage] = {}
    current: _Stage | None = None
    for command in commands:
        if command.cmd == "ARG" and current is None:
            name, _, default = command.value[0].partition("=")
            build_args[name] = overrides.get(name, default)
        elif command.cmd == "FROM":
            base = _substitute(command.value[0], build_args)
            name = command.value[2] if len(command.value) == 3 else f"#{len(stages)}"
            current = stages[name.lower()] = _Stage(stages.get(base.lower()), [])
        elif current is not None:
            current.commands.append(command)
    return stages


def _substitute(text: str, build_args: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in build_args:
            raise ValueError(f"FROM {text}: build argument {name} has no value")
        return build_args[name]

    return _BUILD_ARG.sub(value, text)


def _argv(value: tuple[str, ...], is_json: bool) -> list[str]:
    return list(value) if is_json else shlex.split(" ".join(value))


def _is_python(program: str) -> bool:
    return PureWindowsPath(program).name.lower().removesuffix(".exe") in {"python", "python3"}


def _module(argv: list[str]) -> str:
    """`python -m MODULE ARGS...` as `MODULE ARGS...` (the interpreter's spelling and its own
    options aside; the arguments are part of what the image runs); any other command as written."""
    if argv and _is_python(argv[0]) and "-m" in argv[1:-1]:
        return " ".join(argv[argv.index("-m") + 1 :])
    return " ".join(argv)


def _probe(command: dockerfile.Command) -> HealthProbe | None:
    if command.value[0].upper() == "NONE":
        return None
    # The JSON form arrives as ("CMD", arg, ...), the shell form as ("CMD", "the whole line").
    argv = _argv(command.value[1:], command.json)
    is_python_code = argv and _is_python(argv[0]) and "-c" in argv[1:-1]
    code = argv[argv.index("-c") + 1] if is_python_code else " ".join(argv)
    url = _URL.search(code)
    port_variable = _ENVIRON_KEY.search(code)
    return HealthProbe(
        url.group(0) if url else None,
        port_variable.group(1) if port_variable else None,
        tuple(sorted(command.flags)),
    )
