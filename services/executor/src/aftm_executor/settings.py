"""Executor settings: AFTM_EXECUTOR_<FIELD> from the environment, .env or the secrets folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from aftm.domain.limits import INT64_MAX, MAX_MARKET_ORDER_QUANTITY, check_account
from aftm.errors import InvalidInput
from aftm.security.settings import KeySettings
from aftm.settings import (
    check_endpoint,
    check_endpoints,
    check_file_path,
    check_host,
    check_log_level,
)
from aftm_executor.protection import DEFAULT_POINTS, parse_points

# Comma-separated in the environment (not JSON): one endpoint per strategy shard.
Endpoints = Annotated[tuple[str, ...], NoDecode]


class ExecutorSettings(KeySettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_EXECUTOR_", env_file=".env", extra="ignore")

    signal_bind: str = "tcp://127.0.0.1:5558"
    control_bind: str = "tcp://127.0.0.1:5559"
    gateway_connect: str = "tcp://127.0.0.1:5556"
    gateway_pub_connect: str = "tcp://127.0.0.1:5555"
    # Every strategy shard's control endpoint: the resync asks each for what it emitted.
    strategy_connect: Endpoints = ("tcp://127.0.0.1:5557",)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9103, ge=0, le=65535)
    log_level: str = "INFO"
    log_json: bool = False
    journal_path: Path = Path("var/executor-journal.sqlite")
    # One executor per account (a desk's stack): the account is AFTM_EXECUTOR_ACCOUNT, always;
    # the console cannot select another and manual orders for another are refused.
    account_fixed: bool = False
    # Without account_fixed: used until the console selects one (the selection is journaled
    # and wins after that).
    account: str = Field(default="", validate_default=True)
    # At most TAIFEX's limit for market orders, which also bounds protected (limit) ones.
    max_lots_per_order: int = Field(default=10, ge=1, le=MAX_MARKET_ORDER_QUANTITY)
    max_net_position: int = Field(default=20, ge=1, le=INT64_MAX)
    max_orders_per_minute: int = Field(default=60, ge=1, le=INT64_MAX)
    # Per account over every symbol, a lot weighted by its point value over TX's.
    max_account_lots_tx: float = Field(default=40.0, gt=0, le=10_000, allow_inf_nan=False)
    # An entry older than this when it would be sent (or sent again) is refused as stale:
    # the market it was meant for is gone. Exits are never stale.
    max_entry_age_s: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    # Realised plus marked-to-market loss in a Taipei day at which the executor switches to
    # REDUCING (exits only) with an alarm; 0 turns the check off.
    daily_loss_limit_twd: float = Field(default=200_000.0, ge=0, le=1e9, allow_inf_nan=False)
    # Done trades (their orders, signals and fills) are forgotten after this many days.
    retention_days: float = Field(default=30.0, ge=1, le=3650, allow_inf_nan=False)
    heartbeat_timeout_s: float = Field(default=3.0, gt=0, le=60, allow_inf_nan=False)
    request_timeout_ms: int = Field(default=2000, ge=50, le=60_000)
    resync_interval_s: float = Field(default=30.0, ge=1, le=3600, allow_inf_nan=False)
    # How often the book is compared with the broker (also at start, after a gateway restart
    # or a broker login); a difference must stand `reconcile_settle_s` to halt entries.
    reconcile_interval_s: float = Field(default=10.0, ge=1, le=3600, allow_inf_nan=False)
    reconcile_settle_s: float = Field(default=2.0, ge=0.5, le=60, allow_inf_nan=False)
    # TAIFEX's sessions and holidays (by the market clock, AFTM_MARKET_CLOCK_START in tests)
    # refuse entries and hold exits while the market is closed. The default is the one real
    # money needs; the simulated exchange trades at any hour, so whatever runs the executor
    # against it (aftm run, compose, the test rigs) says always_open explicitly.
    market_rules: Literal["taifex", "always_open"] = "taifex"
    # Entries are refused this many minutes before a session closes (0: up to the close).
    no_entry_before_close_min: int = Field(default=5, ge=0, le=60)
    # Signal orders as market orders, or protected: an IOC limit at the gateway's last price
    # plus (buy) or minus (sell) the product's points, never chased (manual orders and
    # flattens stay market orders).
    order_type: Literal["market", "protected"] = "market"
    protection_points: str = DEFAULT_POINTS  # per product code: TXF=20,MXF=20,TMF=20

    @field_validator("protection_points")
    @classmethod
    def _protection(cls, value: str) -> str:
        try:
            parse_points(value)
        except InvalidInput as error:
            raise ValueError(error.message) from None
        return value

    @property
    def protection(self) -> dict[str, int] | None:
        """Points per product when orders go out protected; None for market orders."""
        return parse_points(self.protection_points) if self.order_type == "protected" else None

    @field_validator("signal_bind", "control_bind")
    @classmethod
    def _bind_endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=True)

    @field_validator("gateway_connect", "gateway_pub_connect")
    @classmethod
    def _connect_endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=False)

    @field_validator("strategy_connect", mode="before")
    @classmethod
    def _strategy_endpoints(cls, value: object) -> object:
        """The shared rule for endpoint lists: none empty (a stray comma is a typo, not a
        shard), none twice (one shard asked twice would share one resync cursor), at most
        MAX_ENDPOINTS."""
        if isinstance(value, tuple | list) and all(isinstance(part, str) for part in value):
            value = ",".join(value)
        if isinstance(value, str):
            return check_endpoints(value, binding=False)
        return value

    @field_validator("metrics_host")
    @classmethod
    def _metrics_host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("journal_path")
    @classmethod
    def _journal_file(cls, value: Path) -> Path:
        return check_file_path(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        return check_log_level(value)

    @field_validator("account")
    @classmethod
    def _account(cls, value: str, info: ValidationInfo) -> str:
        account = value.strip()
        if account:
            try:
                check_account(account)
            except InvalidInput as error:
                raise ValueError(error.message) from None
        elif info.data.get("account_fixed"):  # unfixed, empty: none until the console selects
            raise ValueError("is required when AFTM_EXECUTOR_ACCOUNT_FIXED is true")
        return account
