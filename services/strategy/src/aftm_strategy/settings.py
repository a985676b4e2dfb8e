"""The strategy's settings: AFTM_STRATEGY_<FIELD> from the environment, .env or a secrets dir."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from aftm.domain import limits
from aftm.errors import InvalidInput
from aftm.security.settings import KeySettings
from aftm.settings import (
    check_endpoint,
    check_endpoints,
    check_file_path,
    check_host,
    check_log_level,
)

# More than TAIFEX lists in index futures (3 products x a few months), few enough that a pasted
# blob is refused: each symbol is a SUB subscription.
MAX_SHARD_SYMBOLS = 256


class StrategySettings(KeySettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_STRATEGY_", env_file=".env", extra="ignore")

    tick_connect: str = "tcp://127.0.0.1:5555"  # the gateway's PUB
    # Every executor's PULL, comma-separated: each receives every signal (see fanout.py).
    signal_connect: str = "tcp://127.0.0.1:5558"
    # This strategy's shard name ("": the single unsharded strategy, owning every symbol) and
    # the symbols it owns, comma-separated (required with a name). See shard.py.
    shard: str = Field(default="", validate_default=True)
    symbols: Annotated[tuple[str, ...], NoDecode] = Field(default=(), validate_default=True)
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

    @field_validator("tick_connect")
    @classmethod
    def _connect_endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=False)

    @field_validator("signal_connect")
    @classmethod
    def _connect_endpoints(cls, value: str) -> str:
        return ",".join(check_endpoints(value, binding=False))

    @property
    def signal_endpoints(self) -> tuple[str, ...]:
        return tuple(self.signal_connect.split(","))

    @field_validator("shard")
    @classmethod
    def _shard_name(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                limits.check_shard(value)
            except InvalidInput as invalid:
                raise ValueError(invalid.message) from None
        return value

    @field_validator("symbols", mode="before")
    @classmethod
    def _owned_symbols(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",")) if value.strip() else ()
        if not isinstance(value, tuple | list):
            return value  # pydantic names the type
        if "shard" not in info.data:
            return value  # the shard's own error is the one to read
        return _check_symbols(tuple(value), info.data["shard"])

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


def _check_symbols(symbols: tuple[object, ...], shard: str) -> tuple[str, ...]:
    """A named shard owns 1 to MAX_SHARD_SYMBOLS distinct symbols; the unnamed one owns all."""
    if not shard:
        if symbols:
            raise ValueError("symbols need a shard name: set AFTM_STRATEGY_SHARD too")
        return ()
    if not symbols:
        raise ValueError(f"shard {shard!r} must own at least one symbol, e.g. TXFL6,MXFL6")
    if len(symbols) > MAX_SHARD_SYMBOLS:
        raise ValueError(f"lists {len(symbols)} symbols; at most {MAX_SHARD_SYMBOLS}")
    checked: list[str] = []
    for number, symbol in enumerate(symbols, start=1):
        if symbol == "":
            raise ValueError(f"symbol {number} of {len(symbols)} is empty")
        try:
            limits.check_symbol(symbol, "symbols")
        except InvalidInput as invalid:
            raise ValueError(invalid.message) from None
        if symbol in checked:
            raise ValueError(f"{symbol!r} is listed twice")
        checked.append(str(symbol))
    return tuple(checked)
