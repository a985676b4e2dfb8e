"""CONDITIONS.json: a JSON list of condition objects, as a trader writes them by hand.

Each object takes the fields of `aftm.domain.conditions.Condition` (unknown ones are refused).
A condition without an `id` is named after its 1-based position: `c1`, `c2`, ... Errors name the
file, the condition's position and the field, so the trader can find the mistake.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aftm.domain.conditions import Condition, condition_from_fields
from aftm.errors import AftmError, InvalidInput


class ConditionsFileError(AftmError):
    """The conditions file is not a valid list of conditions. Fix the file; do not retry."""


def load_conditions(path: str | os.PathLike[str]) -> list[Condition]:
    """Read and validate every condition in `path`; raise `ConditionsFileError` on the first fault.

    `OSError` (missing or unreadable file) is left to the caller, which reports it like any
    other unreadable file.
    """
    name = os.fspath(path)
    items = _json_list(name, Path(path).read_bytes())
    conditions: list[Condition] = []
    first_use: dict[str, int] = {}
    for position, item in enumerate(items, start=1):
        where = f"{name}: condition {position}"
        if not isinstance(item, dict):
            raise ConditionsFileError(f"{where}: must be a JSON object, got {_kind(item)}")
        try:
            condition = condition_from_fields(item, default_id=f"c{position}")
        except InvalidInput as error:
            raise ConditionsFileError(f"{where}: {error}") from None
        if condition.id in first_use:
            earlier = first_use[condition.id]
            message = f"field 'id': {condition.id!r} is already used by condition {earlier}"
            raise ConditionsFileError(f"{where}: {message}")
        first_use[condition.id] = position
        conditions.append(condition)
    return conditions


def _json_list(name: str, data: bytes) -> list[object]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConditionsFileError(
            f"{name}: is not UTF-8 text (byte offset {error.start}); save the file as UTF-8"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConditionsFileError(
            f"{name}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(document, list):
        raise ConditionsFileError(
            f"{name}: must be a JSON list of conditions, got {_kind(document)}"
        )
    if not document:
        raise ConditionsFileError(f"{name}: contains no conditions")
    return document


def _kind(value: object) -> str:
    """The JSON name of a decoded value's type, for messages a trader can act on."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number"
