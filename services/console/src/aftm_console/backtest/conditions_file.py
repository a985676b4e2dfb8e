"""CONDITIONS.json: a JSON list of condition objects, as a trader writes them by hand.

Each object takes the fields of `aftm.domain.conditions.Condition` (unknown ones are refused).
A condition without an `id` is named after its 1-based position: `c1`, `c2`, ... Errors name the
file, the condition's position and the field, so the trader can find the mistake.

The file is hostile until checked: its size is bounded before it is read, its nesting before it
is decoded (Python's decoder recurses once per level), and numbers too long for any field are
kept out of int() (which refuses over 4,300 digits with an error of its own).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from aftm.domain.conditions import Condition, condition_from_fields
from aftm.domain.limits import INT64_MAX
from aftm.errors import AftmError, InvalidInput

# A condition is ~150 bytes of JSON: this holds a hundred thousand, far more than a strategy
# follows, and keeps a wrong file (a tick file, /dev/zero) from being read whole.
MAX_FILE_BYTES = 16 * 1024 * 1024
# A list of flat objects nests 2 deep. A field holding a list or an object is refused by that
# field's own check, which names it, so a little more is let through to reach that check.
MAX_NESTING = 4
# More digits than any 64-bit integer has: no field can hold such a number.
_MAX_INT_TEXT = len(str(-INT64_MAX)) + 1
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class ConditionsFileError(AftmError):
    """The conditions file is not a valid list of conditions. Fix the file; do not retry."""


class _Object(dict[str, object]):
    """A decoded JSON object that remembers a key it held twice (json keeps the last one)."""

    repeated: str | None = None


class _TooLong:
    """A JSON integer with more digits than any field holds, kept as its length only."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"<a number of {self.digits} digits>"


def load_conditions(path: str | os.PathLike[str]) -> list[Condition]:
    """Read and validate every condition in `path`; raise `ConditionsFileError` on the first fault.

    `OSError` (missing or unreadable file) is left to the caller, which reports it like any
    other unreadable file.
    """
    name = os.fspath(path)
    items = _json_list(name, _read(Path(path), name))
    conditions: list[Condition] = []
    first_use: dict[str, int] = {}
    for position, item in enumerate(items, start=1):
        where = f"{name}: condition {position}"
        if not isinstance(item, dict):
            raise ConditionsFileError(f"{where}: must be a JSON object, got {_kind(item)}")
        try:
            condition = condition_from_fields(_checked_object(item), default_id=f"c{position}")
        except InvalidInput as error:
            raise ConditionsFileError(f"{where}: {error}") from None
        if condition.id in first_use:
            earlier = first_use[condition.id]
            message = f"field 'id': {condition.id!r} is already used by condition {earlier}"
            raise ConditionsFileError(f"{where}: {message}")
        first_use[condition.id] = position
        conditions.append(condition)
    return conditions


def _read(path: Path, name: str) -> bytes:
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        raise ConditionsFileError(f"{name}: is larger than {limit} MiB; is it a conditions file?")
    return data


def _json_list(name: str, data: bytes) -> list[object]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConditionsFileError(
            f"{name}: is not UTF-8 text (byte offset {error.start}); save the file as UTF-8"
        ) from None
    if _nests_deeper_than(MAX_NESTING, text):
        raise ConditionsFileError(
            f"{name}: nests deeper than {MAX_NESTING} lists and objects; "
            "a conditions file is a list of flat objects"
        )
    try:
        document = json.loads(text, object_pairs_hook=_object, parse_int=_int)
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


def _nests_deeper_than(limit: int, text: str) -> bool:
    """Whether lists and objects nest deeper than `limit`, brackets inside strings aside.

    Iterative and linear, so any depth is measured without the recursion it would cost json.
    """
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _object(pairs: list[tuple[str, object]]) -> _Object:
    decoded = _Object()
    for key, value in pairs:
        if key in decoded and decoded.repeated is None:
            decoded.repeated = key
        decoded[key] = value
    return decoded


def _int(text: str) -> int | _TooLong:
    return _TooLong(text) if len(text) > _MAX_INT_TEXT else int(text)


def _checked_object(item: dict[str, object]) -> dict[str, object]:
    """Refuse what json let pass: a key given twice, a number too long for any field."""
    if isinstance(item, _Object) and item.repeated is not None:
        raise InvalidInput(item.repeated, "appears twice in one condition")
    for field, value in item.items():
        if isinstance(value, _TooLong):
            raise InvalidInput(field, f"a number of {value.digits} digits does not fit 64 bits")
    return item


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
