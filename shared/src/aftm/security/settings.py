"""The two settings every process shares for CURVE: where its keys are, and the insecure switch.

A service's settings class inherits `KeySettings`, so each reads `AFTM_<SERVICE>_KEYS_DIR` and
`AFTM_<SERVICE>_INSECURE`. Neither set is refused at start: a service never falls back to plain
TCP on its own. `security_from` turns valid settings into the process's `Security`, warning
loudly when a person chose plain TCP.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings

from aftm.security.curve import OnRefused
from aftm.security.roles import Role
from aftm.security.transport import Curve, Security

NO_KEYS = (
    "no CURVE keys: point it at a folder made by `aftm keys init` (the role's .key_secret and"
    " every role's .key), or set the insecure switch to run on plain TCP"
)


class KeySettings(BaseSettings):
    # Declared before keys_dir: keys_dir's check reads it.
    insecure: bool = False
    keys_dir: Path | None = Field(default=None, validate_default=True)

    @field_validator("keys_dir", mode="before")
    @classmethod
    def _blank_keys_dir(cls, value: object) -> object:
        # Path("") is ".", the working folder: an empty setting must not mean "here".
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"is empty ({NO_KEYS})")
        return value

    @field_validator("keys_dir")
    @classmethod
    def _keys_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("insecure"):
            return value
        if value is None or not str(value).strip():
            raise ValueError(NO_KEYS)
        if not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a folder ({NO_KEYS})")
        return value


def security_from(
    settings: KeySettings, role: Role, on_refused: OnRefused | None = None
) -> Security:
    """The process's Security; KeyFileError when a key file is missing or bad."""
    if settings.insecure:
        logger.warning(
            "CURVE off: {} runs on plain TCP because its INSECURE switch is set; any process"
            " that reaches its ports can talk to it",
            role,
        )
        return Security(None, on_refused)
    assert settings.keys_dir is not None  # noqa: S101 - the validator refused a missing one
    return Security(Curve.load(settings.keys_dir, role), on_refused)
