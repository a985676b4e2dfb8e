"""Write the third-party requirements of each role image, read from the projects' pyproject files.

Usage: python3 deploy/scripts/requirements.py OUT_DIR

Writes OUT_DIR/requirements-<role>.txt for gateway, gateway-pfcf, strategy and executor;
OUT_DIR/requirements-build.txt (the build backend the images need to install the project's own
distributions from source); and OUT_DIR/requirements-all.txt (everything: what the wheelhouse
downloads). The project's own distributions (aftm-*) are followed to their folders, never listed.
Output is sorted, so an unchanged project gives unchanged files.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCAL = {"aftm-shared": REPO / "shared"} | {
    f"aftm-{role}": REPO / "services" / role for role in ("gateway", "strategy", "executor")
}
ROLES = {
    "gateway": ("aftm-gateway", ()),
    # The PFCF adapter loads the vendor .NET DLL through pythonnet; only this variant has it.
    "gateway-pfcf": ("aftm-gateway", ("pfcf",)),
    "strategy": ("aftm-strategy", ()),
    "executor": ("aftm-executor", ()),
}
# Used until services/gateway declares the extra itself ([project.optional-dependencies] pfcf).
DEFAULT_PFCF = ("pythonnet>=3.0",)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def pyproject(distribution: str) -> dict[str, Any]:
    return tomllib.loads((LOCAL[distribution] / "pyproject.toml").read_text())


def project_name(requirement: str) -> str:
    match = _NAME.match(requirement.strip())
    if match is None:
        raise ValueError(f"unreadable requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def third_party(distribution: str, extras: tuple[str, ...]) -> set[str]:
    """Every non-local requirement of `distribution` (with `extras`), following local ones."""
    project = pyproject(distribution)["project"]
    wanted = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        wanted += optional.get(extra, DEFAULT_PFCF if extra == "pfcf" else ())
    found: set[str] = set()
    for requirement in wanted:
        name = project_name(requirement)
        if name in LOCAL:
            found |= third_party(name, ())
        else:
            found.add(requirement.strip())
    return found


def build_backends() -> set[str]:
    found: set[str] = set()
    for distribution in LOCAL:
        found |= set(pyproject(distribution)["build-system"]["requires"])
    return found


def write_lines(path: Path, requirements: set[str]) -> None:
    path.write_text("".join(f"{requirement}\n" for requirement in sorted(requirements)))


def main(out_dir: str) -> int:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    union = build_backends()
    write_lines(folder / "requirements-build.txt", union)
    for role, (distribution, extras) in ROLES.items():
        requirements = third_party(distribution, extras)
        union |= requirements
        write_lines(folder / f"requirements-{role}.txt", requirements)
    write_lines(folder / "requirements-all.txt", union)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__ or "")
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1]))
