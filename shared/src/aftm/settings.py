"""Settings from the environment (AFTM_<SERVICE>_<FIELD>), a .env file and a secrets directory.

Each service declares its own `BaseSettings` subclass with an `env_prefix`; `load` builds it in
`main()` (never at import) and turns a validation error into exit code 2 with a message that
names the environment variable to fix.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

SECRETS_DIR_ENV = "AFTM_SECRETS_DIR"
DEFAULT_SECRETS_DIR = Path("/run/secrets")
EXIT_BAD_SETTINGS = 2

S = TypeVar("S", bound=BaseSettings)

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
_TCP_ENDPOINT = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5}|\*)")


def check_endpoint(value: str, *, binding: bool) -> str:
    """Refuse an endpoint ZeroMQ would reject only at startup, or one that cannot work.

    For pydantic validators: raises ValueError, which `load` reports against the variable.
    """
    value = value.strip()
    if value.startswith(("ipc://", "inproc://")) and value.partition("://")[2]:
        return value
    match = _TCP_ENDPOINT.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an endpoint like tcp://127.0.0.1:5555")
    host, port = match["host"], match["port"]
    if not binding and (host == "*" or port == "*"):
        raise ValueError(f"{value!r}: a connect endpoint needs a concrete host and port")
    if port != "*" and not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r}: port must be between 1 and 65535")
    return value


def check_log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def secrets_dir() -> Path | None:
    """Docker secrets live in /run/secrets; elsewhere AFTM_SECRETS_DIR may point at a folder."""
    configured = os.environ.get(SECRETS_DIR_ENV)
    path = Path(configured) if configured else DEFAULT_SECRETS_DIR
    return path if path.is_dir() else None


def describe(error: ValidationError, prefix: str) -> str:
    """One line per bad field, each naming the variable a person sets."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "?"
        variable = f"{prefix}{field}".upper()
        lines.append(f"invalid setting {variable}: {problem['msg']}")
    return "; ".join(lines)


def load(settings_class: type[S], program: str) -> S:
    """Build `settings_class` or exit with code 2 and a message naming the variable."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    try:
        return settings_class(_secrets_dir=secrets_dir())
    except ValidationError as error:
        print(f"{program}: {describe(error, prefix)}", file=sys.stderr)  # noqa: T201
        raise SystemExit(EXIT_BAD_SETTINGS) from None
