"""A role's locked requirements for one target platform, and whether the lock has its wheels.

    python deploy/scripts/platform_requirements.py narrow TARGET EXPORTED > OUT
    python deploy/scripts/platform_requirements.py check-wheels TARGET uv.lock REQUIREMENTS...

TARGET is `linux` (CPython 3.11, glibc x86_64: the Linux images) or `windows` (CPython 3.11,
win_amd64: the Windows images).

`narrow` reads a file written by `uv export` (pins, environment markers, hashes) and writes the
requirements that apply on TARGET, without markers and with their hashes. pip evaluates markers
for the host it runs on, not for the `--platform` it downloads for: without this, a Linux host
would leave loguru's Windows-only dependencies out of the Windows wheelhouse, and an SBOM would
list packages the image never installs.

`check-wheels` says, for every pin in REQUIREMENTS, whether uv.lock records a wheel that installs
on TARGET (built for it, or pure Python); it names each package that has none and exits 1. The
Windows images cannot be built here, so this is how a change that would break them is seen.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

# Marker variables that differ between the targets; the rest (Python 3.11, CPython) are shared.
ENVIRONMENTS: Mapping[str, Mapping[str, str]] = {
    "linux": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
    },
    "windows": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "os_name": "nt",
        "platform_machine": "AMD64",
    },
}
COMMON = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.2",  # Debian 12's, as in the images' base
}
PLATFORM_TAGS: Mapping[str, tuple[str, ...]] = {
    # The manylinux levels pip downloads for (deploy/scripts/build-wheelhouse.sh), newest first.
    "linux": (
        *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)),
        "manylinux2014_x86_64",
        "manylinux2010_x86_64",
        "manylinux1_x86_64",
    ),
    "windows": ("win_amd64",),
}


# How many of a package's unusable wheels an error names (some packages have dozens).
SHOWN_WHEELS = 3


@dataclass(frozen=True)
class Pin:
    """One exported requirement: `name==version`, its marker (if any) and its hashes."""

    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> str:
        (specifier,) = self.requirement.specifier  # `uv export` writes exactly one `==`
        return specifier.version

    def applies_to(self, target: str) -> bool:
        marker = self.requirement.marker
        return marker is None or marker.evaluate(dict(COMMON) | dict(ENVIRONMENTS[target]))


def logical_lines(text: str) -> Iterator[str]:
    """Lines with backslash continuations joined, comments and blank lines left out."""
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            yield joined
    if pending.strip():
        yield pending.strip()


def read_pins(text: str) -> list[Pin]:
    pins = []
    for line in logical_lines(text):
        spec, *options = line.split(" --")
        hashes = tuple(option.removeprefix("hash=") for option in options)
        if any(not option.startswith("hash=") for option in options):
            raise ValueError(f"unexpected option in {line!r}: only --hash is understood")
        requirement = Requirement(spec)
        if len(requirement.specifier) != 1 or next(iter(requirement.specifier)).operator != "==":
            raise ValueError(f"{spec!r} is not pinned with ==: export it from uv.lock")
        pins.append(Pin(requirement, hashes))
    return pins


def narrow(target: str, exported: str) -> str:
    lines = [f"# Locked requirements for {target} (from uv.lock via `uv export`, markers applied)"]
    for pin in read_pins(exported):
        if pin.applies_to(target):
            hashes = "".join(f" \\\n    --hash={value}" for value in pin.hashes)
            lines.append(f"{pin.requirement.name}=={pin.version}{hashes}")
    return "\n".join(lines) + "\n"


def supported_tags(target: str) -> frozenset[Tag]:
    platforms = list(PLATFORM_TAGS[target])
    return frozenset(cpython_tags((3, 11), platforms=platforms)) | frozenset(
        compatible_tags((3, 11), "cp311", platforms=platforms)
    )


def locked_wheels(lock: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """Each locked (name, version) and the file names of the wheels the lock records for it."""
    wheels: dict[tuple[str, str], list[str]] = {}
    for package in lock.get("package", []):
        key = (canonicalize_name(package["name"]), str(package.get("version", "")))
        urls = [wheel.get("url") or wheel.get("path", "") for wheel in package.get("wheels", [])]
        wheels[key] = [url.rsplit("/", 1)[-1] for url in urls]
    return wheels


def missing_wheels(target: str, lock: Mapping[str, Any], pins: list[Pin]) -> list[str]:
    """One line per pin that has no wheel for `target` in the lock."""
    tags = supported_tags(target)
    recorded = locked_wheels(lock)
    problems = []
    for pin in pins:
        files = recorded.get((pin.name, pin.version))
        if files is None:
            problems.append(f"{pin.name}=={pin.version}: not in uv.lock")
        elif not any(tags & parse_wheel_filename(name)[3] for name in files):
            found = ", ".join(files[:SHOWN_WHEELS]) if files else "no wheels at all (source only)"
            if len(files) > SHOWN_WHEELS:
                found += f" and {len(files) - SHOWN_WHEELS} more"
            problems.append(f"{pin.name}=={pin.version}: no {target} wheel for cp311 ({found})")
    return problems


def check_wheels(target: str, lock_path: str, requirement_paths: list[str]) -> int:
    lock = tomllib.loads(Path(lock_path).read_text())
    problems: list[str] = []
    count = 0
    for path in requirement_paths:
        pins = read_pins(Path(path).read_text())
        count += len(pins)
        problems += [f"{Path(path).name}: {line}" for line in missing_wheels(target, lock, pins)]
    for line in problems:
        sys.stderr.write(f"[wheels] {line}\n")
    if problems:
        sys.stderr.write(f"[wheels] {len(problems)} requirement(s) cannot install on {target}\n")
        return 1
    sys.stdout.write(f"[wheels] {count} {target} requirements: each has a wheel in uv.lock\n")
    return 0


def main(argv: list[str]) -> int:
    command, target, *paths = [*argv, "", ""][: max(len(argv), 2)]
    if target in ENVIRONMENTS and command == "narrow" and len(paths) == 1:
        sys.stdout.write(narrow(target, Path(paths[0]).read_text()))
        return 0
    if target in ENVIRONMENTS and command == "check-wheels" and len(paths) >= 2:
        return check_wheels(target, paths[0], paths[1:])
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except (ValueError, OSError, tomllib.TOMLDecodeError) as error:
        sys.stderr.write(f"[wheels] error: {error}\n")
        raise SystemExit(2) from None
