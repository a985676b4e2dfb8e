"""The PFCF test double (tests/dotnet/*.cs): compiled with Mono's mcs, configured, and read back.

The DLL is built once per test session into a temporary folder and never committed. Tests that
need it are skipped, with the reason, only when Mono (mcs, mono) is not installed; a missing
pythonnet is a broken environment and fails loudly instead (the dev group in pyproject.toml has it).
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[1] / "dotnet"
DLL_NAME = "PFCFAPI.dll"
USER = PASSWORD = "sim"
ACCOUNT = "SIM-0001"
COMPILE_TIMEOUT_S = 120


@dataclass(frozen=True)
class DoubleOrder:
    """One order as the double's state file holds it: the broker's truth."""

    broker_order_id: str
    client_order_id: str
    side: str
    quantity: int
    status: str
    account: str = ""
    symbol: str = ""


@dataclass(frozen=True)
class DoubleFill:
    """One fill as the double's state file holds it (an F line)."""

    broker_order_id: str
    match_seq: int
    price: int
    quantity: int


def missing_mono() -> str | None:
    """Why the double cannot run here, or None."""
    absent = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
    if absent:
        return (
            f"Mono is not installed ({', '.join(absent)} not found): run"
            " deploy/scripts/prepare-mono.sh to test the PFCF adapter"
        )
    return None


def compile_double(folder: Path) -> Path:
    """Compile the double into `folder`; CalledProcessError with mcs's output if it fails."""
    folder.mkdir(parents=True, exist_ok=True)
    dll = folder / DLL_NAME
    sources = sorted(str(path) for path in SOURCES.glob("*.cs"))
    subprocess.run(
        ["mcs", "-target:library", "-nologo", "-warnaserror+", f"-out:{dll}", *sources],
        check=True,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
    )
    return dll


@functools.cache
def double_dll() -> Path:
    """The compiled double for this test session (skips the test when Mono is absent)."""
    reason = missing_mono()
    if reason is not None:
        pytest.skip(reason)
    if importlib.util.find_spec("pythonnet") is None:
        pytest.fail("pythonnet is not installed: `make sync` installs the dev group")
    folder = Path(tempfile.mkdtemp(prefix="aftm-pfcf-double-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    try:
        return compile_double(folder)
    except subprocess.CalledProcessError as failed:
        pytest.fail(f"the PFCF double does not compile:\n{failed.stdout}{failed.stderr}")


def double_env(state_path: Path, *, ticks_per_s: float = 200, **extra: str) -> dict[str, str]:
    """PFCF_DOUBLE_* settings for a double keeping its state in `state_path`."""
    return {
        "PFCF_DOUBLE_STATE_PATH": str(state_path),
        "PFCF_DOUBLE_USER": USER,
        "PFCF_DOUBLE_PASSWORD": PASSWORD,
        "PFCF_DOUBLE_ACCOUNTS": ACCOUNT,
        "PFCF_DOUBLE_TICKS_PER_S": str(ticks_per_s),
        **{f"PFCF_DOUBLE_{name.upper()}": value for name, value in extra.items()},
    }


def gateway_env(
    dll: Path, state_path: Path, *, ticks_per_s: float = 200, **extra: str
) -> dict[str, str]:
    """A gateway process on the double (AFTM_GATEWAY_* and PFCF_DOUBLE_*)."""
    return {
        "AFTM_GATEWAY_BROKER": "pfcf",
        "AFTM_GATEWAY_PFCF_DLL_PATH": str(dll),
        "AFTM_GATEWAY_PFCF_RUNTIME": "mono",
        "AFTM_GATEWAY_PFCF_SERVER": "127.0.0.1",
        "AFTM_GATEWAY_USER": USER,
        "AFTM_GATEWAY_PASSWORD": PASSWORD,
        **double_env(state_path, ticks_per_s=ticks_per_s, **extra),
    }


def read_taken(state_path: Path) -> list[str]:
    """The client order ids of every order call the double took, in order (held ones too)."""
    if not state_path.exists():
        return []
    lines = state_path.read_text(encoding="utf-8").splitlines()
    return [fields[2] for fields in (line.split("\t") for line in lines) if fields[0] == "R"]


def read_orders(state_path: Path) -> list[DoubleOrder]:
    """The double's orders, oldest first, each in its latest state."""
    if not state_path.exists():
        return []
    latest: dict[str, DoubleOrder] = {}
    for line in state_path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if fields[0] == "O" and len(fields) == 14:
            number, note, account, symbol, side, quantity = fields[1:7]
            latest[number] = DoubleOrder(
                number, note, side, int(quantity), fields[10], account, symbol
            )
    return list(latest.values())


def read_fills(state_path: Path) -> list[DoubleFill]:
    """The double's fills, oldest first."""
    if not state_path.exists():
        return []
    rows = (line.split("\t") for line in state_path.read_text(encoding="utf-8").splitlines())
    return [
        DoubleFill(fields[1], int(fields[2]), int(fields[3]), int(fields[4]))
        for fields in rows
        if fields[0] == "F" and len(fields) == 5
    ]
