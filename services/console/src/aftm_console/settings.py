"""Console settings: AFTM_CONSOLE_<FIELD> from the environment, a .env file or the secrets dir.

Only the live commands load them (in their handler, never at import), so `aftm backtest` works
whatever these say. A bad value exits 2 naming the variable (aftm.settings.load).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from aftm.security.settings import KeySettings
from aftm.settings import check_endpoint


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
        return check_endpoint(value, binding=False)
