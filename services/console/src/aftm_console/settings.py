"""Console settings: AFTM_CONSOLE_<FIELD> from the environment, a .env file or the secrets dir.

Only the live commands load them (in their handler, never at import), so `aftm backtest` works
whatever these say. A bad value exits 2 naming the variable (aftm.settings.load).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from aftm.security.settings import KeySettings

# A connect endpoint needs a concrete host and port: a wildcard can only be bound.
_CONNECT = re.compile(r"tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})|(ipc|inproc)://.+")


class ConsoleSettings(KeySettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_CONSOLE_", env_file=".env", extra="ignore")

    # The folder `aftm keys init` writes by default, and where the compose stack's keys service
    # puts the console's pair. Read only when a command talks to a service (services.py), so
    # `aftm run` and `aftm keys init` work before any key exists.
    keys_dir: Path | None = Path("var/keys")

    gateway_connect: str = "tcp://127.0.0.1:5556"  # the gateway's ROUTER: requests
    gateway_pub_connect: str = "tcp://127.0.0.1:5555"  # the gateway's PUB: ticks for `aftm run`
    strategy_connect: str = "tcp://127.0.0.1:5557"  # the strategy's control ROUTER
    executor_connect: str = "tcp://127.0.0.1:5559"  # the executor's control ROUTER
    timeout_ms: int = Field(default=3000, ge=50, le=120_000)

    @field_validator("keys_dir")
    @classmethod
    def _keys_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return value  # checked when the keys are loaded: a missing file is named then

    @field_validator(
        "gateway_connect", "gateway_pub_connect", "strategy_connect", "executor_connect"
    )
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = value.strip()
        match = _CONNECT.fullmatch(value)
        if match is None:
            raise ValueError(f"{value!r} is not an endpoint like tcp://127.0.0.1:5556")
        port = match.group(2)
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r}: port must be between 1 and 65535")
        return value
