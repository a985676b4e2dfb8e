"""Console settings: AFTM_CONSOLE_<FIELD> from the environment, a .env file or the secrets dir.

Only the live commands load them (in their handler, never at import), so `aftm backtest` works
whatever these say. A bad value exits 2 naming the variable (aftm.settings.load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from aftm.errors import InvalidInput
from aftm.market.costs import CostSchedule
from aftm.security.settings import KeySettings
from aftm.settings import check_endpoint, check_endpoints


class ConsoleSettings(KeySettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_CONSOLE_", env_file=".env", extra="ignore")

    # The folder `aftm keys init` writes by default, and where the compose stack's keys service
    # puts the console's pair. Read only when a command talks to a service (services.py), so
    # `aftm run` and `aftm keys init` work before any key exists.
    keys_dir: Path | None = Path("var/keys")

    gateway_connect: str = "tcp://127.0.0.1:5556"  # the gateway's ROUTER: requests
    gateway_pub_connect: str = "tcp://127.0.0.1:5555"  # the gateway's PUB: ticks for `aftm run`
    # The control ROUTERs of the strategy shards and of the executors, comma-separated: the
    # console routes a condition to the shard owning its symbol, an executor command to the
    # executor trading --account, and lists across them all.
    strategy_connect: str = "tcp://127.0.0.1:5557"
    executor_connect: str = "tcp://127.0.0.1:5559"
    # The broker's commission per lot and side by product, "TXF=50,MXF=20": `aftm trades` shows
    # each trade's costs (this and the futures transaction tax) and its net P&L.
    commission: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    timeout_ms: int = Field(default=3000, ge=50, le=120_000)

    @field_validator("keys_dir", mode="before")
    @classmethod
    def _keys_dir_given(cls, value: object, info: ValidationInfo) -> object:
        # Before it is a Path: an empty value would become ".", the working folder.
        if not info.data.get("insecure") and isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give the folder `aftm keys init` made, or unset it")
        return value

    @field_validator("commission", mode="before")
    @classmethod
    def _commission(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parsed: dict[str, int] = {}
        for pair in filter(None, (part.strip() for part in value.split(","))):
            product, sep, twd = pair.partition("=")
            if not sep or not product.strip().isalnum() or not twd.strip().isdigit():
                raise ValueError(f"{pair[:30]!r} is not PRODUCT=TWD, e.g. TXF=50")
            parsed[product.strip()] = int(twd.strip())
        try:
            CostSchedule(parsed)
        except InvalidInput as invalid:
            raise ValueError(invalid.message) from None
        return parsed

    @field_validator("keys_dir")
    @classmethod
    def _keys_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("insecure") or value is None or not value.exists():
            return value  # a folder not made yet is named when the keys are loaded
        if not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a folder")
        return value

    @field_validator("gateway_connect", "gateway_pub_connect")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=False)

    @field_validator("strategy_connect", "executor_connect")
    @classmethod
    def _endpoints(cls, value: str) -> str:
        return ",".join(check_endpoints(value, binding=False))
