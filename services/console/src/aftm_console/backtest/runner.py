"""One backtest: conditions and a tick file in; signals, a report and a plot out.

Ticks stream from the file through the same `ConditionEngine` the strategy service runs, one at a
time: nothing here keeps a tick, so memory depends on the number of conditions, not of ticks.
Each signal is written to the signals file as soon as it fires, so a long run can be watched
(`tail -f`) and a run stopped half-way still leaves the signals it produced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Never, TextIO, TypeVar

from tqdm import tqdm

from aftm.domain.signals import Signal
from aftm.errors import AftmError
from aftm.market.costs import CostSchedule
from aftm.tickfile import TickFile
from aftm_console.backtest.conditions_file import load_conditions
from aftm_console.backtest.report import DEFAULT_POINT_VALUES, Report, Stats, UnknownPointValue
from aftm_strategy.engine import ConditionEngine

# Progress is updated every this many ticks: often enough to look live, rarely enough to cost
# nothing next to the engine.
_PROGRESS_EVERY = 1 << 14
F = TypeVar("F", bound=IO[Any])


class BacktestError(AftmError):
    """The request cannot run as given (e.g. an output would overwrite an input). Fix and rerun."""


@dataclass(frozen=True, slots=True)
class Backtest:
    """What to run: input and output paths and the accounting assumptions."""

    ticks: Path
    conditions: Path
    signals: Path
    report: Path | None = None
    plot: Path | None = None
    slippage: int = 0
    point_values: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_POINT_VALUES))
    costs: CostSchedule = field(default_factory=CostSchedule)  # the transaction tax at least
    progress: bool = False


@dataclass(frozen=True, slots=True)
class Summary:
    ticks: int
    signals: int
    total: Stats
    open_positions: int


@dataclass(slots=True)
class _Run:
    """What the tick loop learns besides the report: counts and the time span covered."""

    ticks: int = 0
    signals: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None


def run(backtest: Backtest, *, progress_to: TextIO | None = None) -> Summary:
    """Run `backtest`; raise `AftmError` or `OSError` for bad input before or while reading.

    Everything that can be checked without ticks (conditions, point values, output paths) is
    checked first, so a mistake fails in a second rather than after a long file.
    """
    _refuse_clashes(backtest)
    conditions = load_conditions(backtest.conditions)
    try:
        report = Report(conditions, backtest.point_values, backtest.slippage, backtest.costs)
    except UnknownPointValue as error:
        raise BacktestError(
            f"{backtest.conditions}: condition {error.condition_id!r}: field 'symbol': {error}; "
            "add --point-value PRODUCT=TWD"
        ) from None
    engine = ConditionEngine(conditions)
    with ExitStack() as stack:
        ticks = stack.enter_context(TickFile(backtest.ticks))
        outputs = _open_outputs(stack, backtest)
        bar = stack.enter_context(_progress_bar(ticks, backtest.progress, progress_to))
        outcome = _stream(ticks, engine, report, outputs.signals, bar)
        if outputs.report is not None and backtest.report is not None:
            with naming(backtest.report):
                json.dump(_report_document(backtest, report, outcome), outputs.report, indent=2)
                outputs.report.write("\n")
        if outputs.plot is not None and backtest.plot is not None:
            from aftm_console.backtest.plot import write_equity_png  # matplotlib is slow to load

            span = _span(outcome)
            with naming(backtest.plot):
                write_equity_png(report.trades, outputs.plot, span=span, title=_title(backtest))
    return Summary(outcome.ticks, outcome.signals, report.total(), len(report.open_positions))


def signal_record(tick_index: int, signal: Signal) -> dict[str, object]:
    """One line of the signals file. `tick_index` is the 0-based data row of the tick file."""
    return {
        "tick_index": tick_index,
        "ts_ns": signal.ts_ns,
        "id": signal.id,
        "condition_id": signal.condition_id,
        "symbol": signal.symbol,
        "side": signal.side.value,
        "kind": signal.kind.value,
        "quantity": signal.quantity,
        "price": signal.price,
    }


def _stream(
    ticks: TickFile, engine: ConditionEngine, report: Report, out: TextIO, bar: tqdm[Never]
) -> _Run:
    outcome = _Run()
    shown, index, tick = 0, -1, None
    for index, tick in enumerate(ticks):
        fired = engine.on_tick(tick)
        if fired:
            with naming(Path(out.name)):
                for signal in fired:
                    out.write(json.dumps(signal_record(index, signal)) + "\n")
                    report.apply(signal)
                out.flush()
            outcome.signals += len(fired)
        if index % _PROGRESS_EVERY == 0:
            if index == 0:
                outcome.first_ts_ns = tick.ts_ns
            bar.update(ticks.position - shown)
            shown = ticks.position
    bar.update(ticks.position - shown)
    outcome.ticks = index + 1
    outcome.last_ts_ns = None if tick is None else tick.ts_ns
    return outcome


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Name the file in an error while writing it: a full disk only says "No space left"."""
    try:
        yield
    except OSError as error:
        if error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from None


@dataclass(frozen=True, slots=True)
class _Outputs:
    signals: TextIO
    report: TextIO | None
    plot: BinaryIO | None


def _open_outputs(stack: ExitStack, backtest: Backtest) -> _Outputs:
    """Open every output before the long part, so that an unwritable path fails at once."""
    for path in (backtest.signals, backtest.report, backtest.plot):
        if path is not None:  # `out/signals.jsonl` should not need a mkdir first
            path.parent.mkdir(parents=True, exist_ok=True)
    report, plot = backtest.report, backtest.plot
    return _Outputs(
        signals=_closed_by(stack, backtest.signals, open(backtest.signals, "w", encoding="utf-8")),
        report=_closed_by(stack, report, open(report, "w", encoding="utf-8")) if report else None,
        plot=_closed_by(stack, plot, open(plot, "wb")) if plot else None,
    )


def _closed_by(stack: ExitStack, path: Path, file: F) -> F:
    """`file`, closed when `stack` is: its last buffered write happens then, named too."""
    stack.callback(_close, path, file)
    return file


def _close(path: Path, file: IO[Any]) -> None:
    with naming(path):
        file.close()


def _progress_bar(ticks: TickFile, enabled: bool, stream: TextIO | None) -> tqdm[Never]:
    """A byte-based bar: rows vary in length, but bytes are known up front from the file size."""
    return tqdm(
        total=ticks.size,
        desc=Path(ticks.path).name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=stream,
        disable=not enabled,
        mininterval=0.5,
    )


def _refuse_clashes(backtest: Backtest) -> None:
    """Refuse an output that is an input or another output: it would be truncated unread."""
    named = {
        "--ticks": backtest.ticks,
        "--conditions": backtest.conditions,
        "--signals": backtest.signals,
        "--report": backtest.report,
        "--plot": backtest.plot,
    }
    seen: dict[str, str] = {}
    for option, path in named.items():
        if path is None:
            continue
        resolved = os.path.realpath(path)
        if resolved in seen:
            raise BacktestError(f"{option} {path} is the same file as {seen[resolved]}")
        seen[resolved] = option


def _report_document(backtest: Backtest, report: Report, outcome: _Run) -> dict[str, object]:
    return {
        "ticks_file": str(backtest.ticks),
        "conditions_file": str(backtest.conditions),
        "ticks": outcome.ticks,
        "signals": outcome.signals,
        "first_ts_ns": outcome.first_ts_ns,
        "last_ts_ns": outcome.last_ts_ns,
        "point_values_twd": dict(backtest.point_values),
        **report.to_dict(),
    }


def _span(outcome: _Run) -> tuple[int, int] | None:
    if outcome.first_ts_ns is None or outcome.last_ts_ns is None:
        return None
    return outcome.first_ts_ns, outcome.last_ts_ns


def _title(backtest: Backtest) -> str:
    return f"Backtest equity: {backtest.conditions.name} on {backtest.ticks.name}"
