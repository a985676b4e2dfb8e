"""The strategy's settings: AFTM_STRATEGY_<FIELD> from the environment, .env or a secrets dir."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aftm.security.settings import KeySettings
from aftm.settings import check_endpoint, check_file_path, check_host, check_log_level


class StrategySettings(KeySettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_STRATEGY_", env_file=".env", extra="ignore")

    tick_connect: str = "tcp://127.0.0.1:5555"  # the gateway's PUB
    signal_connect: str = "tcp://127.0.0.1:5558"  # the executor's PULL
    control_bind: str = "tcp://127.0.0.1:5557"  # conditions, for the console and the executor
    store_path: Path = Path("var/strategy.sqlite")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    heartbeat_timeout_s: float = Field(default=3.0, gt=0, le=3600, allow_inf_nan=False)
    # A new condition on a contract whose last trading day is this many calendar days away or
    # fewer is logged as a warning and counted (aftm_strategy_conditions_near_expiry); 0: off.
    expiry_warning_days: int = Field(default=3, ge=0, le=366)
    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("tick_connect", "signal_connect")
    @classmethod
    def _connect_endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=False)

    @field_validator("control_bind")
    @classmethod
    def _bind_endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=True)

    @field_validator("store_path")
    @classmethod
    def _store_file(cls, value: Path) -> Path:
        return check_file_path(value)

    @field_validator("metrics_host")
    @classmethod
    def _metrics_host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        return check_log_level(value)
