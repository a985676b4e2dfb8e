"""Tick CSV reading: accepted forms, exact timestamps, and errors that point at the spot."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from aftm.domain.market import Tick
from aftm.errors import AftmError
from aftm.tickfile import MAX_COLUMNS, TickFile, TickFileError, longest_line, parse_ts

# 2025-01-02T00:45:00Z, worked out by hand: 20,090 days from 1970-01-01 to 2025-01-02
# (55 years, 14 of them leap: 1972..2024), plus 45 minutes.
JAN_2_0045_UTC_NS = (20_090 * 86_400 + 45 * 60) * 1_000_000_000


def write(tmp_path: Path, text: str | bytes, name: str = "ticks.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def read_all(path: Path) -> list[Tick]:
    with TickFile(path) as ticks:
        return list(ticks)


@pytest.mark.parametrize(
    ("text", "ts_ns"),
    [
        ("0", 0),
        ("1735778700000000001", 1_735_778_700_000_000_001),
        ("2025-01-02T08:45:00", JAN_2_0045_UTC_NS),  # naive: Taiwan time, UTC+08:00
        ("2025-01-02 08:45:00", JAN_2_0045_UTC_NS),
        ("2025-01-02T00:45:00Z", JAN_2_0045_UTC_NS),
        ("2025-01-02T00:45:00+00:00", JAN_2_0045_UTC_NS),
        ("2025-01-02T09:45:00+09:00", JAN_2_0045_UTC_NS),
        ("2025-01-02T08:45:00.5", JAN_2_0045_UTC_NS + 500_000_000),
        ("2025-01-02T08:45:00.123456789", JAN_2_0045_UTC_NS + 123_456_789),  # past microseconds
        ("2025-01-02T08:45:00.000000001+08:00", JAN_2_0045_UTC_NS + 1),
        (" 2025-01-02T08:45:00 ", JAN_2_0045_UTC_NS),
    ],
)
def test_timestamps_are_exact_nanoseconds(text: str, ts_ns: int) -> None:
    assert parse_ts(text) == ts_ns


def test_columns_in_any_order_with_extras_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "qty,note,price,symbol,ts\n"
        "3,open,23000,TXFL6,1\n"
        "0,,23001.0,MXFL6 ,2025-01-02T08:45:00\n"
        "\n",  # a trailing blank line is not a row
    )

    assert read_all(path) == [
        Tick(symbol="TXFL6", price=23000, qty=3, ts_ns=1),
        Tick(symbol="MXFL6", price=23001, qty=0, ts_ns=JAN_2_0045_UTC_NS),
    ]


def test_bom_crlf_and_header_case_are_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfTS,Symbol,Price,QTY\r\n5,TXFL6,23000,1\r\n")

    assert read_all(path) == [Tick(symbol="TXFL6", price=23000, qty=1, ts_ns=5)]


def test_position_counts_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    header, row = "ts,symbol,price,qty\n", "1,TXFL6,23000,1\n"
    path = write(tmp_path, header + row * 3)

    with TickFile(path) as ticks:
        positions = [ticks.position for _ in ticks]
        assert ticks.size == len(header) + 3 * len(row)

    assert positions == [len(header) + n * len(row) for n in (1, 2, 3)]


def test_rows_are_read_lazily(tmp_path: Path) -> None:
    # A fault far down the file is only met when reading gets there: nothing is loaded ahead.
    path = write(tmp_path, "ts,symbol,price,qty\n1,TXFL6,23000,1\n2,TXFL6,oops,1\n")

    with TickFile(path) as ticks:
        rows = iter(ticks)
        assert next(rows).price == 23000
        with pytest.raises(TickFileError):
            next(rows)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "ts,symbol,qty\n1,TXFL6,1\n",
            "ticks.csv: line 1: missing column 'price'; "
            "the header must name ts, symbol, price, qty",
            id="missing-column",
        ),
        pytest.param(
            "ts,symbol,price,price,qty\n",
            "ticks.csv: line 1: column 'price' appears twice",
            id="duplicate-column",
        ),
        pytest.param(
            "", "ticks.csv: is empty; expected a header naming ts, symbol, price, qty", id="empty"
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,A,1,1\n2,A,1,1\n3,A,1,1\n\n4,A,abc,1\n",
            "ticks.csv: row 3 (line 6): field 'price': 'abc' is not a number",
            id="price-not-a-number",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,23000.5,1\n",
            "ticks.csv: row 0 (line 2): field 'price': '23000.5' is not a whole number of points",
            id="fractional-price",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,0,1\n",
            "ticks.csv: row 0 (line 2): field 'price': must be 1 to 1000000 points, got 0",
            id="zero-price",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,1000001,1\n",
            "ticks.csv: row 0 (line 2): field 'price': must be 1 to 1000000 points, got 1000001",
            id="absurd-price",
        ),
        pytest.param(
            f"ts,symbol,price,qty\n1,TXFL6,{'9' * 100},1\n",
            f"ticks.csv: row 0 (line 2): field 'price': {'9' * 40!r} does not fit 64 bits",
            id="100-digit-price",
        ),
        pytest.param(
            f"ts,symbol,price,qty\n1,TXFL6,{'9' * 5000},1\n",
            "ticks.csv: line 2: is longer than 383 bytes, the longest a legal line can be",
            id="5000-digit-price",
        ),
        pytest.param(
            ",".join(f"c{i}" for i in range(61)) + ",ts,symbol,price,qty\n",
            "ticks.csv: line 1: names 65 columns, more than 64",
            id="65-columns",
        ),
        pytest.param(
            f"ts,symbol,price,qty\n{2**63},TXFL6,23000,1\n",
            f"ticks.csv: row 0 (line 2): field 'ts': must be 0 to {2**63 - 1}, got {2**63}",
            id="ts-over-64-bits",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,23000,-1\n",
            "ticks.csv: row 0 (line 2): field 'qty': must be 0 to 9223372036854775807, got -1",
            id="negative-qty",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,23000,1.5\n",
            "ticks.csv: row 0 (line 2): field 'qty': '1.5' is not a whole number of points",
            id="fractional-qty",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1, ,23000,1\n",
            "ticks.csv: row 0 (line 2): field 'symbol': is empty",
            id="empty-symbol",
        ),
        pytest.param(
            "ts,symbol,price,qty\nyesterday,TXFL6,23000,1\n",
            "ticks.csv: row 0 (line 2): field 'ts': 'yesterday' is neither integer nanoseconds "
            "nor an ISO-8601 time",
            id="bad-ts",
        ),
        pytest.param(
            "ts,symbol,price,qty\n2025-01-02T08:45:00.1234567891,TXFL6,23000,1\n",
            "ticks.csv: row 0 (line 2): field 'ts': '2025-01-02T08:45:00.1234567891' is finer "
            "than a nanosecond",
            id="sub-nanosecond-ts",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,23000\n",
            "ticks.csv: row 0 (line 2): has 3 cells but the header has 4",
            id="short-row",
        ),
        pytest.param(
            "ts,symbol,price,qty\n1,TXFL6,23000,1,extra\n",
            "ticks.csv: row 0 (line 2): has 5 cells but the header has 4",
            id="long-row",
        ),
        pytest.param(
            b"ts,symbol,price,qty\n1,TXFL6,23000,1\n2,TX\xff,23000,1\n",
            "ticks.csv: line 3: is not UTF-8 text (byte 0xff); save the file as UTF-8",
            id="not-utf8",
        ),
        pytest.param(
            b"ts,symbol,price,qty\n1,TXFL6,23000,1\n2,TXFL6,23000,1\xe5\x8f",
            "ticks.csv: line 3: is not UTF-8 text (a character is cut off at the end); "
            "save the file as UTF-8",
            id="truncated-utf8",
        ),
    ],
)
def test_errors_name_file_row_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | bytes, message: str
) -> None:
    monkeypatch.chdir(tmp_path)  # so the file is named as a user would type it
    write(tmp_path, content)

    with pytest.raises(TickFileError) as raised:
        read_all(Path("ticks.csv"))

    assert str(raised.value) == message
    assert isinstance(raised.value, AftmError)


def test_error_carries_its_coordinates(tmp_path: Path) -> None:
    path = write(tmp_path, "ts,symbol,price,qty\n1,TXFL6,23000,1\n2,TXFL6,x,1\n")

    with pytest.raises(TickFileError) as raised:
        read_all(path)

    error = raised.value
    assert (error.path, error.row, error.line, error.field) == (str(path), 1, 3, "price")


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        TickFile(tmp_path / "nope.csv")


# --- lines longer than any legal line --------------------------------------------------------

COLUMNS = ["ts", "symbol", "price", "qty"]


def padded_row(length: int) -> str:
    """A legal row of exactly `length` bytes with its newline: cells are stripped of blanks."""
    row = "1735778700000000000,TXFL6,23000,1"
    return row + " " * (length - len(row) - 1) + "\n"


def test_a_line_as_long_as_the_longest_legal_one_is_read(tmp_path: Path) -> None:
    longest = longest_line(COLUMNS)
    path = write(tmp_path, "ts,symbol,price,qty\n" + padded_row(longest))

    assert read_all(path) == [Tick("TXFL6", 23000, 1, 1_735_778_700_000_000_000)]


def test_one_byte_more_fails_naming_the_line_before_any_row(tmp_path: Path) -> None:
    longest = longest_line(COLUMNS)
    path = write(tmp_path, "ts,symbol,price,qty\n" + padded_row(longest + 1))

    with TickFile(path) as ticks, pytest.raises(TickFileError) as raised:
        next(iter(ticks))

    assert raised.value.line == 2
    assert f"is longer than {longest} bytes" in str(raised.value)


def test_the_longest_legal_line_holds_every_column_at_its_widest() -> None:
    widest = [
        "2099-12-31T23:59:59.999999999+08:00",  # wider than 19 digits of nanoseconds
        "\uff34" * 64,  # an ignored or symbol cell: 64 characters of 3 UTF-8 bytes each
        "1000000.000000000",
        f"{2**63 - 1}.000000000",
    ]
    line = ",".join(f'"  {cell}  "' for cell in widest) + "\r\n"

    assert len(line.encode()) <= longest_line(COLUMNS)
    assert longest_line(COLUMNS) < 1024  # yet small: a line is a few hundred bytes


def test_a_header_with_no_line_break_is_refused_at_its_bound(tmp_path: Path) -> None:
    header_bound = longest_line(["x"] * MAX_COLUMNS)
    path = write(tmp_path, "ts,symbol,price,qty," + "x" * header_bound)

    with pytest.raises(TickFileError) as raised:
        TickFile(path)

    assert str(raised.value).endswith(
        f"line 1: is longer than {header_bound} bytes, the longest a legal line can be"
    )


@pytest.mark.parametrize("line", [2, 1], ids=["data-line", "header"])
def test_a_multi_megabyte_line_is_never_held_in_memory(tmp_path: Path, line: int) -> None:
    path = tmp_path / "ticks.csv"
    with path.open("w", encoding="ascii") as out:
        out.write("ts,symbol,price,qty\n1,TXFL6," if line == 2 else "ts,symbol,")
        for _ in range(32):
            out.write("9" * 1_000_000)
        out.write(",1\n")

    tracemalloc.start()
    try:
        with pytest.raises(TickFileError) as raised:
            read_all(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert raised.value.line == line
    # Reading the 32 MB line whole would hold its bytes, then as much again decoded.
    assert peak < 1_000_000, f"peak {peak:,} bytes"
