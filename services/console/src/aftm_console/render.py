"""Output: aligned tables for people, JSON for scripts, one `say` that always flushes.

stdout may be a pipe (a test, `aftm run` under a supervisor), where Python would otherwise hold
lines back in its buffer; every line is flushed as it is written.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum

from aftm.wire.protocol import OrderSnapshot


def say(text: str = "") -> None:
    """Print `text`: its own line breaks are kept, every other control character escaped."""
    sys.stdout.write(_lines(text) + "\n")
    sys.stdout.flush()


def warn(text: str) -> None:
    """A remark that is not the command's result: stderr, so `--json` output stays parseable."""
    sys.stderr.write(f"aftm: {_lines(text)}\n")
    sys.stderr.flush()


def printable(text: str) -> str:
    """`text` with control characters escaped (a line feed too): text from a service or the
    broker, shown on a terminal, must not move the cursor, clear the screen or forge a line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.split("\n"))


def jsonable(value: object) -> object:
    """Plain JSON values: dataclasses as objects, enums as their value, Decimals as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def say_json(value: object) -> None:
    say(json.dumps(jsonable(value), ensure_ascii=False, indent=2))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, and so is a missing value
    (-) in a column of numbers."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [width(header) for header in headers]
    for row in cells:
        widths = [max(w, width(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [_is_numeric([row[i] for row in rows]) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = (
            _pad(value, room, right=is_number)
            for value, room, is_number in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def say_table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
    say(table(headers, rows) if rows else empty)


def _is_numeric(column: Sequence[object]) -> bool:
    present = [value for value in column if value is not None]
    return bool(present) and all(isinstance(value, int | Decimal) for value in present)


def width(text: str) -> int:
    """Terminal columns: CJK characters (product names such as 臺股期貨) take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, room: int, *, right: bool) -> str:
    fill = " " * (room - width(text))
    return fill + text if right else text + fill


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return printable(str(value.value))
    return printable(str(value))


ORDER_HEADERS = ("account", "symbol", "side", "qty", "filled", "avg price", "status", "reason")


def order_row(order: OrderSnapshot) -> tuple[object, ...]:
    """One order as a table row under ("<id column>", *ORDER_HEADERS)."""
    return (
        order.client_order_id,
        order.account,
        order.symbol,
        order.side,
        order.quantity,
        order.filled_quantity,
        order.average_price,
        order.status,
        order.reason or None,
    )
