"""`aftm backtest` as a user runs it: a real subprocess on files written here.

The expected signals are worked out by hand from the rules in DESIGN.md ("Support/resistance
semantics"), not by running the engine, so these tests check the engine and the command together.

Reference conditions (turning 15, take profit 90, stop loss 30, quantity 2, slippage 1):
  buy  TXFL6 trigger 23000: order 23015, take profit 23105, stop loss 22985
  sell MXFL6 trigger 23000: order 22985, take profit 22895, stop loss 23015
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

AFTM = [sys.executable, "-m", "aftm_console"]
BASE_NS = 1_735_778_700_000_000_000  # 2025-01-02T08:45:00 Taiwan time
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BUY_PRICES = [23010, 23000, 22990, 23010, 23015, 23096, 23105, 22900]
SELL_PRICES = [22990, 23000, 23010, 22990, 22985, 23014, 23015, 23100]


def aftm(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AFTM, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def write_ticks(path: Path, rows: Sequence[tuple[object, str, object, int]]) -> Path:
    lines = ["ts,symbol,price,qty", *(",".join(str(cell) for cell in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def a_condition(symbol: str, action: str, *, following: bool = False) -> dict[str, object]:
    return {
        "symbol": symbol,
        "action": action,
        "trigger_price": 23000,
        "quantity": 2,
        "is_following": following,
    }


def backtest(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run on ticks.csv and conds.json in tmp_path, writing signals.jsonl and report.json."""
    files = ["--ticks", "ticks.csv", "--conditions", "conds.json", "--signals", "signals.jsonl"]
    return aftm(tmp_path, "backtest", *files, "--report", "report.json", *extra)


def read_signals(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "signals.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def a_signal(
    row: int, cid: str, symbol: str, side: str, kind: str, price: int, ts_ns: int | None = None
) -> dict[str, object]:
    return {
        "tick_index": row,
        "ts_ns": BASE_NS + row if ts_ns is None else ts_ns,
        "id": f"{cid}:{'entry' if kind == 'entry' else 'exit'}",
        "condition_id": cid,
        "symbol": symbol,
        "side": side,
        "kind": kind,
        "quantity": 2,
        "price": price,
    }


def stats(
    wins: int, losses: int, pnl_points: int, pnl_twd: int, drawdown: int, costs: int
) -> dict[str, int]:
    return {
        "trades": wins + losses,
        "wins": wins,
        "losses": losses,
        "pnl_points": pnl_points,
        "pnl_twd": pnl_twd,
        "max_drawdown_twd": drawdown,
        "costs_twd": costs,
        "net_pnl_twd": pnl_twd - costs,
    }


# (action, trailing, signals as (tick index, side, kind, price), total stats)
# Fills are 1 point worse than each signal; P&L = points x 2 lots x 200 (TXF) or 50 (MXF) TWD.
# Costs: no commission set, so the transaction tax alone, 0.002 % of each fill's value, each
# side rounded half up: TXF 23016 x 2 x 200 -> 184.128 -> 184, 23104 x 400 -> 184.832 -> 185.
SINGLE_CASES = [
    pytest.param(
        "buy",
        False,
        # triggered at 23000 (1), enters at the order price 23015 (4), take profit 23105 (6)
        [(4, "buy", "entry", 23015), (6, "sell", "take_profit", 23105)],
        stats(1, 0, (23104 - 23016) * 2, 88 * 2 * 200, 0, 184 + 185),
        id="buy",
    ),
    pytest.param(
        "buy",
        True,
        # 22990 (2) trails: order 23005, take profit 23095; enters at 23010 (3), exits 23096 (5)
        [(3, "buy", "entry", 23010), (5, "sell", "take_profit", 23096)],
        stats(1, 0, (23095 - 23011) * 2, 84 * 2 * 200, 0, 184 + 185),
        id="buy-trailing",
    ),
    pytest.param(
        "sell",
        False,
        # triggered at 23000 (1), enters at 22985 (4), stop loss at 23015 (6)
        [(4, "sell", "entry", 22985), (6, "buy", "stop_loss", 23015)],
        stats(0, 1, (22984 - 23016) * 2, -32 * 2 * 50, 3_200, 46 + 46),
        id="sell",
    ),
    pytest.param(
        "sell",
        True,
        # 23010 (2) trails: order 22995, stop loss 23025; enters 22990 (3), stopped at 23100 (7)
        [(3, "sell", "entry", 22990), (7, "buy", "stop_loss", 23100)],
        stats(0, 1, (22989 - 23101) * 2, -112 * 2 * 50, 11_200, 46 + 46),
        id="sell-trailing",
    ),
]


@pytest.mark.parametrize(("action", "trailing", "signals", "total"), SINGLE_CASES)
def test_one_condition_by_hand(
    tmp_path: Path,
    action: str,
    trailing: bool,
    signals: list[tuple[int, str, str, int]],
    total: dict[str, int],
) -> None:
    symbol, prices = ("TXFL6", BUY_PRICES) if action == "buy" else ("MXFL6", SELL_PRICES)
    write_ticks(tmp_path / "ticks.csv", [(BASE_NS + i, symbol, p, 1) for i, p in enumerate(prices)])
    write_json(tmp_path / "conds.json", [a_condition(symbol, action, following=trailing)])

    done = backtest(tmp_path, "--slippage", "1")

    assert (done.returncode, done.stderr) == (0, "")
    assert read_signals(tmp_path) == [
        a_signal(row, "c1", symbol, side, kind, price) for row, side, kind, price in signals
    ]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (report["ticks"], report["signals"], report["slippage_points"]) == (8, 2, 1)
    assert report["total"] == total
    assert report["conditions"]["c1"] == {
        "symbol": symbol,
        "point_value_twd": 200 if symbol == "TXFL6" else 50,
        **total,
    }
    assert report["open_positions"] == []
    assert "ticks read: 8 from ticks.csv" in done.stdout
    assert f"P&L:        {total['pnl_twd']:+,} TWD" in done.stdout


def test_four_conditions_on_interleaved_symbols(tmp_path: Path) -> None:
    # TXFL6 ticks on even rows, MXFL6 on odd rows: a symbol's tick i is row 2i or 2i + 1.
    rows = []
    for i, (buy_price, sell_price) in enumerate(zip(BUY_PRICES, SELL_PRICES, strict=True)):
        rows += [
            (BASE_NS + 2 * i, "TXFL6", buy_price, 1),
            (BASE_NS + 2 * i + 1, "MXFL6", sell_price, 1),
        ]
    write_ticks(tmp_path / "ticks.csv", rows)
    conditions = [
        a_condition("TXFL6", "buy"),
        a_condition("TXFL6", "buy", following=True),
        a_condition("MXFL6", "sell"),
        a_condition("MXFL6", "sell", following=True),
    ]
    write_json(tmp_path / "conds.json", conditions)

    done = backtest(tmp_path, "--slippage", "1")

    assert done.returncode == 0, done.stderr
    assert read_signals(tmp_path) == [
        a_signal(6, "c2", "TXFL6", "buy", "entry", 23010),
        a_signal(7, "c4", "MXFL6", "sell", "entry", 22990),
        a_signal(8, "c1", "TXFL6", "buy", "entry", 23015),
        a_signal(9, "c3", "MXFL6", "sell", "entry", 22985),
        a_signal(10, "c2", "TXFL6", "sell", "take_profit", 23096),
        a_signal(12, "c1", "TXFL6", "sell", "take_profit", 23105),
        a_signal(13, "c3", "MXFL6", "buy", "stop_loss", 23015),
        a_signal(15, "c4", "MXFL6", "buy", "stop_loss", 23100),
    ]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    # Realised equity in exit order: 33,600  68,800  65,600  54,400 -> drawdown 14,400.
    assert report["total"] == stats(2, 2, 168 + 176 - 64 - 224, 54_400, 14_400, 2 * 369 + 2 * 92)
    assert [report["conditions"][c]["pnl_twd"] for c in ("c1", "c2", "c3", "c4")] == [
        35_200,
        33_600,
        -3_200,
        -11_200,
    ]
    assert [t["condition_id"] for t in report["trades"]] == ["c2", "c1", "c3", "c4"]


def test_iso_and_nanosecond_times_and_decimal_prices(tmp_path: Path) -> None:
    # The trailing buy again (enters on row 3, takes profit on row 5), with mixed spellings.
    rows = [
        ("2025-01-02T08:45:00", "TXFL6", "23010.0", 1),  # naive: Taiwan time
        ("2025-01-02T08:45:01+08:00", "TXFL6", "23000", 1),
        ("2025-01-02T00:45:02Z", "TXFL6", "22990.00", 1),
        (str(BASE_NS + 3_000_000_000), "TXFL6", "23010", 1),
        ("2025-01-02T08:45:04.5", "TXFL6", 23015, 1),
        ("2025-01-02T08:45:05.123456789", "TXFL6", "23096.0", 1),
    ]
    write_ticks(tmp_path / "ticks.csv", rows)
    condition = a_condition("TXFL6", "buy", following=True) | {"trigger_price": "23000.0"}
    write_json(tmp_path / "conds.json", [condition])

    done = backtest(tmp_path)

    assert done.returncode == 0, done.stderr
    assert read_signals(tmp_path) == [
        a_signal(3, "c1", "TXFL6", "buy", "entry", 23010, ts_ns=BASE_NS + 3_000_000_000),
        a_signal(5, "c1", "TXFL6", "sell", "take_profit", 23096, ts_ns=BASE_NS + 5_123_456_789),
    ]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["first_ts_ns"] == BASE_NS
    assert report["total"]["pnl_twd"] == (23096 - 23010) * 2 * 200


VALID_TICKS = "ts,symbol,price,qty\n1,TXFL6,23010,1\n2,TXFL6,23000,1\n"
VALID_CONDITION: dict[str, object] = {"symbol": "TXFL6", "action": "buy", "trigger_price": 23000}


def ticks_with(row: str) -> str:
    return f"ts,symbol,price,qty\n1,TXFL6,23010,1\n{row}\n"


def conditions_with(*fields: dict[str, object]) -> str:
    return json.dumps([{**VALID_CONDITION, "quantity": 1, **f} for f in fields])


# (ticks file text, conditions file text, extra arguments, the one line expected on stderr)
ERRORS = [
    pytest.param(
        "ts,symbol,qty\n1,TXFL6,1\n",
        conditions_with({}),
        [],
        "ticks.csv: line 1: missing column 'price'; the header must name ts, symbol, price, qty",
        id="missing-column",
    ),
    pytest.param(
        ticks_with("2,TXFL6,abc,1"),
        conditions_with({}),
        [],
        "ticks.csv: row 1 (line 3): field 'price': 'abc' is not a number",
        id="non-numeric-price",
    ),
    pytest.param(
        ticks_with("2,TXFL6,23000.5,1"),
        conditions_with({}),
        [],
        "ticks.csv: row 1 (line 3): field 'price': '23000.5' is not a whole number of points",
        id="fractional-price",
    ),
    pytest.param(
        ticks_with("2,,23000,1"),
        conditions_with({}),
        [],
        "ticks.csv: row 1 (line 3): field 'symbol': is empty",
        id="tick-without-symbol",
    ),
    pytest.param(
        ticks_with("2,TXFL6,23000"),
        conditions_with({}),
        [],
        "ticks.csv: row 1 (line 3): has 3 cells but the header has 4",
        id="short-row",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({"stop_loss_pont": 5}),
        [],
        "conds.json: condition 1: field 'stop_loss_pont': is not a condition field",
        id="unknown-condition-field",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({"action": "hold"}),
        [],
        "conds.json: condition 1: field 'action': 'hold' is not one of buy, sell",
        id="unknown-action",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({}, {"quantity": 0}),
        [],
        "conds.json: condition 2: field 'quantity': must be at least 1, got 0",
        id="quantity-0",
    ),
    pytest.param(
        VALID_TICKS,
        json.dumps([{"action": "buy", "trigger_price": 23000, "quantity": 1}]),
        [],
        "conds.json: condition 1: field 'symbol': is missing",
        id="condition-without-symbol",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({"id": "a"}, {"id": "a"}),
        [],
        "conds.json: condition 2: field 'id': 'a' is already used by condition 1",
        id="duplicate-id",
    ),
    pytest.param(
        VALID_TICKS,
        '[{"symbol": "TXFL6",\n "action": "buy" "trigger_price": 1}]',
        [],
        "conds.json: invalid JSON at line 2, column 18: Expecting ',' delimiter",
        id="invalid-json",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({"symbol": "ZZZL6"}),
        [],
        "conds.json: condition 'c1': field 'symbol': no point value for symbol 'ZZZL6' "
        "(known products: MTX, MXF, TMF, TX, TXF); add --point-value PRODUCT=TWD",
        id="no-point-value",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({}),
        ["--ticks", "nope.csv"],
        "nope.csv: No such file or directory",
        id="nonexistent-ticks",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({}),
        ["--signals", "."],
        ".: Is a directory",
        id="unwritable-signals",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({}),
        ["--report", "ticks.csv"],
        "--report ticks.csv is the same file as --ticks",
        id="output-over-input",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({}),
        ["--slippage", "0.5"],
        "argument --slippage: '0.5' is not a whole number of points (see 'aftm backtest --help')",
        id="fractional-slippage",
    ),
    pytest.param(
        VALID_TICKS,
        conditions_with({}),
        ["--point-value", "TXF"],
        "argument --point-value: 'TXF' is not PRODUCT=TWD, e.g. TXF=200 "
        "(see 'aftm backtest --help')",
        id="point-value-without-twd",
    ),
]


@pytest.mark.parametrize(("ticks", "conditions", "extra", "message"), ERRORS)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path, ticks: str, conditions: str, extra: list[str], message: str
) -> None:
    (tmp_path / "ticks.csv").write_text(ticks, encoding="utf-8")
    (tmp_path / "conds.json").write_text(conditions, encoding="utf-8")

    done = backtest(tmp_path, *extra)  # later options override the defaults backtest() passes

    assert done.returncode == 2
    assert done.stderr == f"aftm: error: {message}\n"
    assert done.stdout == ""


def test_plot_writes_a_png_with_or_without_trades(tmp_path: Path) -> None:
    write_ticks(
        tmp_path / "ticks.csv", [(BASE_NS + i, "TXFL6", p, 1) for i, p in enumerate(BUY_PRICES)]
    )
    write_json(tmp_path / "conds.json", [a_condition("TXFL6", "buy")])
    (tmp_path / "idle.json").write_text(conditions_with({"trigger_price": 1}), encoding="utf-8")

    traded = backtest(tmp_path, "--plot", "plots/equity.png")
    idle = backtest(tmp_path, "--conditions", "idle.json", "--plot", "plots/idle.png")

    assert (traded.returncode, idle.returncode) == (0, 0), traded.stderr + idle.stderr
    for name in ("equity.png", "idle.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == PNG_SIGNATURE
    assert "plot:       plots/equity.png" in traded.stdout


@pytest.mark.parametrize(
    ("flag", "shown"), [(["--progress"], True), (["--no-progress"], False), ([], False)]
)
def test_progress_bar_on_stderr(tmp_path: Path, flag: list[str], shown: bool) -> None:
    # Without a flag the bar is off here: stderr is a pipe, not a terminal.
    write_ticks(
        tmp_path / "ticks.csv", [(BASE_NS + i, "TXFL6", p, 1) for i, p in enumerate(BUY_PRICES)]
    )
    write_json(tmp_path / "conds.json", [a_condition("TXFL6", "buy")])

    done = backtest(tmp_path, *flag)

    assert done.returncode == 0
    if shown:
        assert "ticks.csv: 100%|" in done.stderr
    else:
        assert done.stderr == ""


def test_no_arguments_prints_help(tmp_path: Path) -> None:
    done = aftm(tmp_path)

    assert done.returncode == 0
    assert "backtest" in done.stdout


# The child runs under a small wrapper that reports the child's own peak RSS, so nothing else
# this test session started can inflate the number.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def peak_rss_mb(tmp_path: Path, ticks: Path) -> float:
    args = ["backtest", "--ticks", str(ticks), "--conditions", "conds.json"]
    args += ["--signals", "signals.jsonl", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *AFTM, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1]) / 1024  # Linux reports kilobytes


def write_walk(path: Path, rows: int) -> None:
    rng = random.Random(7)
    price, chunk = 23_000, []
    with path.open("w", encoding="utf-8") as out:
        out.write("ts,symbol,price,qty,venue\n")
        for i in range(rows):
            price = max(22_000, min(24_000, price + rng.randint(-3, 3)))
            chunk.append(f"{BASE_NS + i},{'TXFL6' if i % 3 else 'MXFL6'},{price},1,X\n")
            if len(chunk) == 50_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_ticks(tmp_path: Path) -> None:
    conditions = [
        {"symbol": symbol, "action": action, "trigger_price": trigger, "quantity": 1}
        for symbol in ("TXFL6", "MXFL6")
        for action in ("buy", "sell")
        for trigger in range(22_800, 23_200, 20)
    ]
    write_json(tmp_path / "conds.json", conditions)
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    write_walk(small, 1_000)
    write_walk(big, 1_000_000)
    assert big.stat().st_size > 30_000_000

    baseline, peak = peak_rss_mb(tmp_path, small), peak_rss_mb(tmp_path, big)

    # Holding the ticks would cost well over 100 MB here (a Tick and its ints alone are ~130 B).
    assert peak < 150
    assert peak - baseline < 25, f"RSS grew from {baseline:.0f} MB to {peak:.0f} MB"
    assert (tmp_path / "signals.jsonl").stat().st_size > 0  # the engine really was busy


def test_a_commission_per_product_is_added_to_the_tax_and_the_net_is_printed(
    tmp_path: Path,
) -> None:
    write_ticks(
        tmp_path / "ticks.csv", [(BASE_NS + i, "TXFL6", p, 1) for i, p in enumerate(BUY_PRICES)]
    )
    write_json(tmp_path / "conds.json", [a_condition("TXFL6", "buy")])

    done = backtest(tmp_path, "--slippage", "1", "--commission", "TXF=50", "--commission", "MXF=20")

    assert (done.returncode, done.stderr) == (0, "")
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    costs = 2 * 50 * 2 + 184 + 185  # 50 TWD a lot and side, 2 lots, both sides; the tax
    assert report["total"] == stats(1, 0, (23104 - 23016) * 2, 88 * 2 * 200, 0, costs)
    assert report["costs"]["commission_twd_per_lot_and_side"] == {"TXF": 50, "MXF": 20}
    assert f"costs:      {costs:,} TWD" in done.stdout
    assert f"net P&L {35_200 - costs:+,} TWD" in done.stdout


@pytest.mark.parametrize("value", ["TXF=-1", "TXF=10001", "TXF=1.5", "TXF", "=5", "TXF=\uff11"])
def test_a_commission_out_of_range_exits_2_in_one_line(tmp_path: Path, value: str) -> None:
    write_ticks(tmp_path / "ticks.csv", [(BASE_NS, "TXFL6", 23000, 1)])
    write_json(tmp_path / "conds.json", [a_condition("TXFL6", "buy")])

    done = backtest(tmp_path, "--commission", value)

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "commission" in done.stderr
