"""The PFCF broker adapter: the vendor's .NET DLL through pythonnet (AFTM_GATEWAY_BROKER=pfcf).

loader.py (the only importer of pythonnet/clr), translate.py (every vendor name, pure),
reports.py (order state from reports, pure), callbacks.py (the DLL's threads: translate and
queue), session.py (login, connections, query answers) and broker.py (`PfcfBroker`).
Importing this package does not load pythonnet; `open_pfcf_broker` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aftm_gateway.pfcf.broker import PfcfBroker, PfcfConfig
from aftm_gateway.pfcf.loader import VendorLoadError, headline, load

if TYPE_CHECKING:
    from aftm_gateway.settings import GatewaySettings

__all__ = ["PfcfBroker", "PfcfConfig", "VendorLoadError", "open_pfcf_broker"]


def open_pfcf_broker(settings: GatewaySettings) -> PfcfBroker:
    """Load the DLL named by the settings and wrap a new API object; VendorLoadError if not."""
    if settings.pfcf_dll_path is None:
        raise VendorLoadError("AFTM_GATEWAY_PFCF_DLL_PATH is not set")
    vendor = load(settings.pfcf_runtime, settings.pfcf_dll_path, settings.pfcf_namespace)
    config = PfcfConfig(
        server=settings.pfcf_server,
        timeout_ms=settings.broker_timeout_ms,
        login_timeout_ms=settings.pfcf_login_timeout_ms,
        not_found_grace_ms=settings.pfcf_not_found_grace_ms,
    )
    try:
        return PfcfBroker(vendor.new_api(), vendor, config)
    except Exception as failure:  # e.g. a DLL without one of the events the adapter needs
        raise VendorLoadError(
            f"the PFCFAPI object could not be created and wired: {headline(failure)}"
        ) from failure
