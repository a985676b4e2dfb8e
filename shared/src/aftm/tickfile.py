"""Tick CSV files, read one row at a time so that a file of any length fits in memory.

Format: a header row naming at least `ts`, `symbol`, `price` and `qty`, in any order (extra
columns are ignored), then one trade per row:

- `ts`: integer nanoseconds since the Unix epoch, or ISO-8601 text (`datetime.fromisoformat`,
  plus up to nine fractional digits). A time without an offset is Taiwan time, a fixed UTC+08:00:
  TAIFEX trades on local time and Taiwan has no daylight saving, so the offset never changes.
- `price`: whole points, written as an integer or as integral decimal text (`23000.0`); a fraction
  is refused rather than rounded, because a rounded price would move a trigger.
- `qty`: a non-negative whole number; `symbol`: non-empty text.

Errors name the file, the data row (0-based, the same index a consumer gets from
`enumerate(ticks)`), the file line and the field, so a person can open the file at the spot.

A line is read no further than the longest legal line of its file can reach (`longest_line`),
so a file without line breaks, or with one vast cell, fails at once instead of being read into
memory whole.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import BinaryIO

from aftm.domain.limits import INT64_MAX, MAX_ID_LENGTH, MAX_PRICE, check_int, check_price
from aftm.domain.market import Tick
from aftm.errors import AftmError, InvalidInput
from aftm.market.prices import whole_points

TAIWAN = timezone(timedelta(hours=8), "UTC+08:00")
COLUMNS = ("ts", "symbol", "price", "qty")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The widest text a cell of each column holds with its value in range (limits.py), in bytes: a
# time in ISO-8601 with nanoseconds and an offset (wider than 19 digits of nanoseconds); a price
# or a lot count as integral decimal text with up to nine zero decimals; a symbol, and any
# column that is ignored, as long as an id in characters of up to 4 UTF-8 bytes.
_DECIMALS = len(".000000000")
WIDEST_CELL = {
    "ts": len("2099-12-31T23:59:59.999999999+08:00"),
    "price": len(str(MAX_PRICE)) + _DECIMALS,
    "qty": len(str(INT64_MAX)) + _DECIMALS,
}
WIDEST_OTHER_CELL = 4 * MAX_ID_LENGTH
# Around each cell: quotes, a separator and some blanks (cells are stripped).
_CELL_SLACK = 2 + 1 + 8
_LINE_END = len("\r\n")
# A header names the four columns and may name more, up to this many (a header cell is a name,
# as wide as an ignored cell), so the header line is bounded before its columns are known.
MAX_COLUMNS = 64
# fromisoformat keeps microseconds only; the fraction is taken out and added back exactly.
_FRACTION = re.compile(r"(?<=:\d\d)[.,](\d+)")


class TickFileError(AftmError):
    """A tick file cannot be read as ticks. Do not retry: fix the file at the named spot."""

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        where = [path]
        if row is not None:
            where.append(f"row {row} (line {line})")
        elif line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join([*where, message]))
        self.path, self.line, self.row, self.field = path, line, row, field


class TickFile:
    """An open tick file: iterate it for `Tick`s; `position` says how many bytes are consumed.

    Opening reads and checks the header, so a wrong file fails before any work is done. Use it
    as a context manager (or call `close`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self._position = 0
            self._longest = longest_line(["" for _ in range(MAX_COLUMNS)])
            self._rows = csv.reader(self._lines())
            names = self._read_header()
            self._ts, self._symbol, self._price, self._qty = (names.index(c) for c in COLUMNS)
            self._width = len(names)
            self._longest = longest_line(names)
        except BaseException:
            self._file.close()
            raise

    @property
    def position(self) -> int:
        """Bytes consumed so far, for progress (the reader runs at most one line ahead)."""
        return self._position

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TickFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Tick]:
        row_index = 0
        for cells in self._guarded_rows():
            if not cells:  # a blank line, e.g. at the end of the file: not a row
                continue
            yield self._tick(cells, row_index)
            row_index += 1

    def _lines(self) -> Iterator[str]:
        # Lines are decoded one by one (not through a TextIOWrapper) so that `position` is
        # exact and a bad byte is reported on its own line rather than somewhere in a chunk.
        decode = codecs.getincrementaldecoder("utf-8-sig")().decode  # a BOM is not a column name
        number = 0
        while raw := self._file.readline(self._longest + 1):
            number += 1
            if len(raw) > self._longest:
                message = f"is longer than {self._longest} bytes, the longest a legal line can be"
                raise TickFileError(self.path, message, line=number)
            self._position += len(raw)
            try:
                yield decode(raw)
            except UnicodeDecodeError as error:
                raise self._not_utf8(raw, error, number) from None
        try:
            decode(b"", final=True)  # a multi-byte character cut off at the end of the file
        except UnicodeDecodeError as error:
            raise self._not_utf8(b"", error, number) from None

    def _not_utf8(self, raw: bytes, error: UnicodeDecodeError, line: int) -> TickFileError:
        if raw:
            detail = f"byte 0x{error.object[error.start : error.start + 1].hex()}"
        else:
            detail = "a character is cut off at the end"
        message = f"is not UTF-8 text ({detail}); save the file as UTF-8"
        return TickFileError(self.path, message, line=line)

    def _guarded_rows(self) -> Iterator[list[str]]:
        try:
            yield from self._rows
        except csv.Error as error:
            line = self._rows.line_num
            raise TickFileError(self.path, f"is not valid CSV: {error}", line=line) from None

    def _read_header(self) -> list[str]:
        header = next(self._guarded_rows(), None)
        if header is None:
            raise TickFileError(
                self.path, "is empty; expected a header naming " + ", ".join(COLUMNS)
            )
        names = [name.strip().lower() for name in header]
        line = self._rows.line_num
        for column in COLUMNS:
            if column not in names:
                expected = ", ".join(COLUMNS)
                message = f"missing column {column!r}; the header must name {expected}"
                raise TickFileError(self.path, message, line=line)
            if names.count(column) > 1:
                raise TickFileError(self.path, f"column {column!r} appears twice", line=line)
        if len(names) > MAX_COLUMNS:
            message = f"names {len(names)} columns, more than {MAX_COLUMNS}"
            raise TickFileError(self.path, message, line=line)
        return names

    def _tick(self, cells: list[str], row: int) -> Tick:
        line = self._rows.line_num
        if len(cells) != self._width:
            message = f"has {len(cells)} cells but the header has {self._width}"
            raise TickFileError(self.path, message, line=line, row=row)
        try:
            symbol = cells[self._symbol].strip()
            if not symbol:
                raise InvalidInput("symbol", "is empty")
            return Tick(
                symbol=symbol,
                price=_price(cells[self._price]),
                qty=_quantity(cells[self._qty]),
                ts_ns=parse_ts(cells[self._ts]),
            )
        except InvalidInput as error:
            raise TickFileError(
                self.path, error.message, line=line, row=row, field=error.field
            ) from None


def longest_line(columns: list[str]) -> int:
    """Bytes in the longest legal line of a file with these (lower-case) column names."""
    cells = sum(WIDEST_CELL.get(name, WIDEST_OTHER_CELL) + _CELL_SLACK for name in columns)
    return cells + _LINE_END


def parse_ts(text: str) -> int:
    """Integer nanoseconds, or ISO-8601 text (naive means Taiwan time) to epoch nanoseconds."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return check_int(_digits(text, "ts"), "ts", minimum=0)
    fraction_ns = 0
    match = _FRACTION.search(text)
    if match is not None:
        digits = match.group(1)
        if len(digits) > 9:
            raise InvalidInput("ts", f"{text!r} is finer than a nanosecond")
        fraction_ns = int(digits.ljust(9, "0"))
        text = text[: match.start()] + text[match.end() :]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        message = f"{text!r} is neither integer nanoseconds nor an ISO-8601 time"
        raise InvalidInput("ts", message) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TAIWAN)
    elapsed = moment - _EPOCH
    seconds = elapsed.days * 86_400 + elapsed.seconds
    return seconds * 1_000_000_000 + elapsed.microseconds * 1_000 + fraction_ns


def _price(text: str) -> int:
    # Plain digits are by far the common case; Decimal parsing is kept for the rest.
    plain = text.isascii() and text.isdigit()
    return check_price(_digits(text, "price") if plain else whole_points(text, "price"))


def _quantity(text: str) -> int:
    plain = text.isascii() and text.isdigit()
    qty = _digits(text, "qty") if plain else whole_points(text, "qty")
    return check_int(qty, "qty", minimum=0)


def _digits(text: str, field: str) -> int:
    """Plain digits as an int; more than 64 bits can hold is refused before int() reads them."""
    if len(text.lstrip("0")) > len(str(INT64_MAX)):
        raise InvalidInput(field, f"{text[:40]!r} does not fit 64 bits")
    return int(text)
