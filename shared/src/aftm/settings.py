"""Settings from the environment (AFTM_<SERVICE>_<FIELD>), a .env file and a secrets directory.

Each service declares its own `BaseSettings` subclass with an `env_prefix`; `load` builds it in
`main()` (never at import) and turns a validation error into exit code 2 with a message that
names the environment variable to fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from pathlib import Path
from typing import NoReturn, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

SECRETS_DIR_ENV = "AFTM_SECRETS_DIR"
DEFAULT_SECRETS_DIR = Path("/run/secrets")
EXIT_BAD_SETTINGS = 2

S = TypeVar("S", bound=BaseSettings)

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
_TCP_ENDPOINT = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5}|\*)")
# A host name (an IP address is checked as one): no blanks, no scheme, no port.
_HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
# A comma-separated endpoint list (several strategy shards, several executors) holds at most this
# many: far more than a desk runs, few enough that a pasted blob is refused, not connected to.
MAX_ENDPOINTS = 64


def check_endpoint(value: str, *, binding: bool) -> str:
    """Refuse an endpoint ZeroMQ would reject only at startup, or one that cannot work.

    For pydantic validators: raises ValueError, which `load` reports against the variable.
    """
    value = value.strip()
    if not value.isprintable() or any(char.isspace() for char in value):
        raise ValueError(f"{value[:80]!r} holds blanks or control characters")
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


def check_endpoints(value: str, *, binding: bool) -> tuple[str, ...]:
    """A comma-separated list of 1 to MAX_ENDPOINTS endpoints, each checked by check_endpoint;
    one element is a plain endpoint. Refuses an empty element and a repeat, which would connect
    twice to one peer (two copies of every signal, two answers to count)."""
    parts = value.split(",")
    if len(parts) > MAX_ENDPOINTS:
        raise ValueError(f"lists {len(parts)} endpoints; at most {MAX_ENDPOINTS}")
    endpoints: list[str] = []
    for number, part in enumerate(parts, start=1):
        if not part.strip():
            raise ValueError(f"endpoint {number} of {len(parts)} is empty")
        endpoint = check_endpoint(part, binding=binding)
        if endpoint in endpoints:
            raise ValueError(f"{endpoint!r} is listed twice")
        endpoints.append(endpoint)
    return tuple(endpoints)


def check_host(value: str) -> str:
    """A host to bind a listener to. Empty is refused: Python's servers take "" for every
    interface, which would expose what was meant for one; 0.0.0.0 says so on purpose."""
    host = value.strip()
    if not host:
        raise ValueError("is empty; give an address such as 127.0.0.1 (0.0.0.0: every one)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise ValueError(f"{host[:80]!r} is not a host name or an IP address") from None
    return host


def check_file_path(value: Path) -> Path:
    """A file a service creates or opens: named, and not a folder."""
    if not str(value).strip():
        raise ValueError("is empty; give a file path")
    if value.is_dir():
        raise ValueError(f"{str(value)!r} is a folder; give a file path")
    return value


def check_log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


class BadSecretsDir(ValueError):
    """AFTM_SECRETS_DIR names something that is not a folder: fix or unset it."""


def secrets_dir() -> Path | None:
    """Docker secrets live in /run/secrets; elsewhere AFTM_SECRETS_DIR may point at a folder.

    /run/secrets is used when it exists. A folder set on purpose must be one: a typo, or a
    secret file named in its place, would otherwise drop every secret in it without a word (the
    broker password with them).
    """
    configured = os.environ.get(SECRETS_DIR_ENV, "").strip()
    if not configured:
        return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None
    path = Path(configured)
    if not path.exists():
        raise BadSecretsDir(f"{configured[:200]!r} does not exist; create the folder or unset it")
    if not path.is_dir():
        raise BadSecretsDir(f"{configured[:200]!r} is not a folder")
    return path


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
        secrets = secrets_dir()
    except BadSecretsDir as error:
        _refuse(program, f"invalid setting {SECRETS_DIR_ENV}: {error}")
    try:
        return settings_class(_secrets_dir=secrets)
    except ValidationError as error:
        _refuse(program, describe(error, prefix))
    except SettingsError as error:  # a secret file that cannot be read
        _refuse(program, _unreadable_secret(error, prefix, secrets))
    except (OSError, UnicodeDecodeError) as error:  # the .env file: nothing else is read
        env_file = settings_class.model_config.get("env_file")
        _refuse(program, f"invalid settings file {env_file}: {_why(error)}")


def _refuse(program: str, problem: str) -> NoReturn:
    print(f"{program}: {problem}", file=sys.stderr)  # noqa: T201
    raise SystemExit(EXIT_BAD_SETTINGS)


def _unreadable_secret(error: SettingsError, prefix: str, secrets: Path | None) -> str:
    field = re.search(r'field "(\w+)"', str(error))
    if field is None:
        return f"invalid settings: {error}"
    variable = f"{prefix}{field.group(1)}".upper()
    why = _why(error.__cause__) if error.__cause__ is not None else str(error)
    return f"invalid setting {variable}: its file in {secrets} cannot be read: {why}"


def _why(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text (byte offset {error.start}); save it as UTF-8"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return str(error)
