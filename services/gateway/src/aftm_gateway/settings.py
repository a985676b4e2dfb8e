"""Gateway settings: AFTM_GATEWAY_<FIELD> from the environment, a .env file or the secrets dir.

The password may come from a secrets-dir file named `aftm_gateway_password` (Docker secrets).
Lists (symbols, accounts, items) are comma-separated. Anything unsafe is refused at start, with
exit code 2 and a message naming the variable (see aftm.settings.load).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from aftm.domain.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_ORDER_QUANTITY,
    MAX_PASSWORD_LENGTH,
    MAX_PRICE,
    MAX_USER_LENGTH,
    MIN_PRICE,
    check_account,
    check_credential,
)
from aftm.errors import InvalidInput
from aftm.market.products import DEFAULT_SYMBOLS, product_of
from aftm.security.settings import KeySettings
from aftm.settings import check_endpoint, check_file_path, check_host, check_log_level

SIMULATED_BROKERS = ("sim", "replay")
SIM_CREDENTIAL = "sim"  # the simulated brokers' user and password when none is configured

Names = Annotated[tuple[str, ...], NoDecode]
# NaN passes every bound (each comparison with it is false), so a float is finite first.
PositiveRate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}")
# The longest the gateway waits on anything (a broker call, a login): ten minutes.
MAX_WAIT_MS = 600_000


class GatewaySettings(KeySettings):
    model_config = SettingsConfigDict(env_prefix="AFTM_GATEWAY_", env_file=".env", extra="ignore")

    broker: Literal["sim", "replay", "pfcf"] = "sim"
    pub_bind: str = "tcp://127.0.0.1:5555"
    router_bind: str = "tcp://127.0.0.1:5556"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    log_level: str = "INFO"
    log_json: bool = False
    journal_path: Path = Path("var/gateway-journal.sqlite")
    # The fill ledger (fill_ledger.py); empty: beside the journal, "<journal name>-fills.sqlite".
    fill_ledger_path: Path | None = None
    sim_state_path: Path = Path("var/sim-exchange.sqlite")
    heartbeat_s: PositiveRate = Field(default=1.0, le=60)
    health_event_age_s: PositiveRate = Field(default=5.0, le=3600)
    broker_timeout_ms: int = Field(default=5000, ge=1, le=MAX_WAIT_MS)
    user: str | None = Field(default=None, validate_default=True)
    password: SecretStr | None = Field(default=None, validate_default=True)
    auto_login: bool = True
    sim_symbols: Names = DEFAULT_SYMBOLS
    sim_accounts: Names = ("SIM-0001",)
    items: Annotated[tuple[str, ...] | None, NoDecode] = Field(default=None, validate_default=True)
    sim_ticks_per_s: PositiveRate = Field(default=20.0, le=1_000_000)
    sim_seed: int = Field(default=1, ge=INT64_MIN, le=INT64_MAX)
    sim_start_price: int = Field(default=23_000, ge=MIN_PRICE, le=MAX_PRICE)
    sim_max_order_quantity: int = Field(default=100, ge=1, le=MAX_ORDER_QUANTITY)
    # "always_open": the sim trades at any hour (demos); "taifex": by TAIFEX's sessions,
    # holidays and daily price limits (simulated/hours.py), at AFTM_MARKET_CLOCK_START's clock.
    sim_calendar: Literal["always_open", "taifex"] = "always_open"
    replay_file: Path | None = Field(default=None, validate_default=True)
    replay_speed: PositiveRate = Field(default=1.0, le=1_000_000_000)
    # pfcf: the vendor's .NET DLL through pythonnet (see aftm_gateway.pfcf and the README).
    pfcf_runtime: Literal["netfx", "mono"] = "netfx" if sys.platform == "win32" else "mono"
    pfcf_dll_path: Path | None = Field(default=None, validate_default=True)
    pfcf_namespace: str = "PFCF"  # the DLL's namespace holding PFCFAPI and DTrade
    pfcf_server: str = Field(default="", validate_default=True)  # PFCLogin's address argument
    pfcf_login_timeout_ms: int = Field(default=15_000, ge=1, le=MAX_WAIT_MS)
    # An order query must begin this long after an order was sent before "not listed" proves
    # the broker never got it (then the gateway may place it); until then the answer is
    # UNAVAILABLE. Too short risks a second order for one client order id.
    pfcf_not_found_grace_ms: int = Field(
        default=30_000, ge=1, le=24 * 3_600_000, validate_default=True
    )
    fault_reject_orders: bool = False
    fault_delay_ms: int = Field(default=0, ge=0, le=MAX_WAIT_MS)
    fault_drop_replies: int = Field(default=0, ge=0, le=INT64_MAX)

    @field_validator("pub_bind", "router_bind")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint(value, binding=True)

    @field_validator("metrics_host")
    @classmethod
    def _metrics_host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("journal_path", "sim_state_path", "fill_ledger_path")
    @classmethod
    def _file(cls, value: Path | None) -> Path | None:
        return None if value is None else check_file_path(value)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        return check_log_level(value)

    @field_validator("user", "password")
    @classmethod
    def _credential(cls, value: object, info: ValidationInfo) -> object:
        broker = info.data.get("broker")
        if broker is None:  # AFTM_GATEWAY_BROKER itself is wrong, and named already
            return value
        if isinstance(value, str):
            value = value.strip()
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text:
            limit = MAX_USER_LENGTH if info.field_name == "user" else MAX_PASSWORD_LENGTH
            try:  # the limits a Login request is held to, so a login at start can pass them
                check_credential(text, str(info.field_name), max_length=limit)
            except InvalidInput as error:
                raise ValueError(error.message) from None
            return value
        if broker in SIMULATED_BROKERS:  # unset or empty: the simulators' own credential
            return SIM_CREDENTIAL if info.field_name == "user" else SecretStr(SIM_CREDENTIAL)
        # An empty one too: a broker would only refuse it at the first login, after start.
        raise ValueError(f"is required for broker {broker}, and must not be empty")

    @field_validator("sim_symbols", "sim_accounts", "items", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("sim_symbols")
    @classmethod
    def _symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one symbol")
        for symbol in value:
            try:
                product_of(symbol)
            except InvalidInput as error:
                raise ValueError(error.message) from None
        return tuple(dict.fromkeys(value))

    @field_validator("sim_accounts")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one account")
        for account in value:
            try:
                check_account(account)
            except InvalidInput as error:
                raise ValueError(error.message) from None
        return tuple(dict.fromkeys(value))

    @field_validator("items")
    @classmethod
    def _items(cls, value: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...]:
        symbols: tuple[str, ...] = info.data.get("sim_symbols", ())
        if value is None:
            return symbols
        if info.data.get("broker") == "pfcf":  # the broker lists its own; checked at register
            for item in value:
                try:
                    product_of(item)
                except InvalidInput as error:
                    raise ValueError(error.message) from None
            return tuple(dict.fromkeys(value))
        unknown = [item for item in value if item not in symbols]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not in AFTM_GATEWAY_SIM_SYMBOLS")
        return tuple(dict.fromkeys(value))

    @field_validator("replay_file")
    @classmethod
    def _replay_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("broker") != "replay":
            return value
        if value is None:
            raise ValueError("is required when AFTM_GATEWAY_BROKER=replay")
        if not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @field_validator("pfcf_dll_path")
    @classmethod
    def _pfcf_dll_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("broker") != "pfcf":
            return value
        if value is None:
            raise ValueError("is required when AFTM_GATEWAY_BROKER=pfcf")
        if not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @field_validator("pfcf_namespace")
    @classmethod
    def _pfcf_namespace(cls, value: str) -> str:
        # Only the .NET loader reads it, at start: refused here, it names the variable.
        name = value.strip()
        if not _DOTTED_NAME.fullmatch(name):
            raise ValueError(f"{name[:80]!r} is not a .NET namespace such as PFCF")
        return name

    @field_validator("pfcf_server")
    @classmethod
    def _pfcf_server(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("broker") == "pfcf" and not value.strip():
            raise ValueError("is required when AFTM_GATEWAY_BROKER=pfcf (the broker's address)")
        return value.strip()

    @field_validator("pfcf_not_found_grace_ms")
    @classmethod
    def _pfcf_not_found_grace_ms(cls, value: int, info: ValidationInfo) -> int:
        timeout_ms = info.data.get("broker_timeout_ms")
        if timeout_ms is not None and value < 2 * timeout_ms:
            raise ValueError(
                f"must be at least twice AFTM_GATEWAY_BROKER_TIMEOUT_MS ({timeout_ms}): an"
                " order's acknowledgement may come later than the gateway waits for it"
            )
        return value

    @property
    def faults(self) -> dict[str, object]:
        """The fault injections switched on (tests only), for a warning at start."""
        active = {
            "reject_orders": self.fault_reject_orders,
            "delay_ms": self.fault_delay_ms,
            "drop_replies": self.fault_drop_replies,
        }
        return {name: value for name, value in active.items() if value}

    @property
    def fills_path(self) -> Path:
        if self.fill_ledger_path is not None:
            return self.fill_ledger_path
        journal = self.journal_path
        return journal.with_name(f"{journal.stem}-fills{journal.suffix}")
