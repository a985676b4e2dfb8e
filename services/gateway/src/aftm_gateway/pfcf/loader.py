"""Loads the vendor's .NET DLL through pythonnet: the only module that imports pythonnet or clr.

The runtime comes from settings: `netfx` (.NET Framework, Windows: production) or `mono` (Linux:
the test double, or a vendor DLL that runs on Mono). On Mono, MONO_THREADS_SUSPEND=preemptive
is set before the runtime starts: without it, the DLL's threads calling into Python can
deadlock against the garbage collector (seen in 5 of 20 runs). A process hosts one runtime;
loading again reuses it.

pythonnet objects are untyped: `Vendor` is where `Any` meets the typed code.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aftm.errors import AftmError
from aftm_gateway.pfcf.translate import DecimalValue, EnumValue, FieldValue

RUNTIMES = ("netfx", "mono")


class VendorLoadError(AftmError):
    """pythonnet, the .NET runtime or the vendor DLL could not be loaded.

    Retrying will not help: fix the installation or AFTM_GATEWAY_PFCF_* and start again.
    """


def default_runtime() -> str:
    return "netfx" if sys.platform == "win32" else "mono"


@dataclass(frozen=True, slots=True)
class Vendor:
    """The vendor's types: the API class, DTrade (order types, enumerations), System.Decimal."""

    api_type: Any
    trade: Any
    decimal: Any
    culture: Any  # InvariantCulture: "23000.5" must parse the same on any machine

    def new_api(self) -> Any:
        return self.api_type()

    def order_object(self, fields: Mapping[str, FieldValue]) -> Any:
        return self._build(self.trade.OrderObject(), fields)

    def replace_object(self, fields: Mapping[str, FieldValue]) -> Any:
        return self._build(self.trade.ReplaceObject(), fields)

    def _build(self, target: Any, fields: Mapping[str, FieldValue]) -> Any:
        for name, value in fields.items():
            setattr(target, name, self._value(value))
        return target

    def _value(self, value: FieldValue) -> Any:
        if isinstance(value, EnumValue):
            return getattr(getattr(self.trade, value.enum), value.member)
        if isinstance(value, DecimalValue):
            return self.decimal.Parse(value.text, self.culture)
        return value


def load(runtime: str, dll_path: Path, namespace: str) -> Vendor:
    """Start `runtime` (once per process), load the DLL and return its types."""
    _start(runtime)
    clr = importlib.import_module("clr")
    try:
        clr.AddReference(str(dll_path.resolve()))
        module = importlib.import_module(namespace)
        system = importlib.import_module("System")
        globalization = importlib.import_module("System.Globalization")
        return Vendor(
            api_type=module.PFCFAPI,
            trade=module.DTrade,
            decimal=system.Decimal,
            culture=globalization.CultureInfo.InvariantCulture,
        )
    except Exception as failure:  # pythonnet raises .NET exceptions too
        raise VendorLoadError(
            f"could not load PFCFAPI and DTrade from namespace {namespace} in {dll_path}:"
            f" {headline(failure)}"
        ) from failure


def _start(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise VendorLoadError(f"unknown .NET runtime {runtime!r}, expected one of {RUNTIMES}")
    try:
        pythonnet = importlib.import_module("pythonnet")
    except ImportError:
        raise VendorLoadError(
            "pythonnet is not installed: pip install 'aftm-gateway[pfcf]'"
        ) from None
    if pythonnet.get_runtime_info() is not None:
        return
    if runtime == "mono":
        os.environ.setdefault("MONO_THREADS_SUSPEND", "preemptive")
    with warnings.catch_warnings():
        # clr_loader warns about Mono before 6.12; Debian 12's 6.8 is what the tests verified.
        warnings.simplefilter("ignore", UserWarning)
        try:
            pythonnet.load(runtime)
        except Exception as failure:
            raise VendorLoadError(
                f"could not start the {runtime} runtime: {headline(failure)}"
            ) from failure
    # pythonnet's exit hook (registered by load) runs Python's cyclic GC over the whole heap
    # several times: about 2 s in a gateway, past the 1 s a clean stop may take. Freezing the
    # heap first (this hook runs before it: last registered, first run) makes that ~50 ms;
    # nothing needs collecting at exit anyway.
    atexit.register(gc.freeze)


def headline(failure: Exception) -> str:
    """The first line of an error: a .NET exception's text goes on with its whole stack."""
    lines = str(failure).strip().splitlines()
    return lines[0] if lines else type(failure).__name__
