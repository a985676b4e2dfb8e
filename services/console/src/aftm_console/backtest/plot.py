"""The equity curve of a backtest as a PNG.

matplotlib is imported inside the function: it takes about a second to load and only `--plot`
needs it. The Agg canvas is used directly (no pyplot), so no GUI backend or global figure state
is ever touched, on a server or in a test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from aftm.tickfile import TAIWAN
from aftm_console.backtest.report import Trade, equity_curve

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def write_equity_png(
    trades: Sequence[Trade], out: BinaryIO, *, span: tuple[int, int] | None, title: str
) -> None:
    """Draw realised equity in TWD against exit time, from the first to the last tick.

    With no trades the curve is a flat line at 0 over the ticks' time span.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    curve = equity_curve(trades)
    times, equity = _steps(curve, span)
    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.step(times, equity, where="post", color="tab:blue", linewidth=1.5)
    wins = [trade.pnl_twd > 0 for trade in trades]
    exits, values = _moments([ts for ts, _ in curve]), [value for _, value in curve]
    axes.scatter(exits, values, s=16, zorder=3, c=["tab:green" if w else "tab:red" for w in wins])
    axes.axhline(0, color="grey", linewidth=0.8, linestyle="--")
    final = curve[-1][1] if curve else 0
    axes.set_title(f"{title}\n{len(trades)} trades, P&L {final:+,} TWD")
    axes.set_xlabel("exit time (Taiwan, UTC+08:00)")
    axes.set_ylabel("realised equity (TWD)")
    # Times are plotted as UTC datetime64; the axis shows them in Taiwan time.
    locator = AutoDateLocator(tz=TAIWAN)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    formatter = ConciseDateFormatter(locator, tz=TAIWAN)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(formatter)
    axes.grid(alpha=0.3)
    figure.savefig(out, format="png")


def _steps(
    curve: list[tuple[int, int]], span: tuple[int, int] | None
) -> tuple[NDArray[np.datetime64], list[int]]:
    """Points of a step line that starts at 0 at the first tick and holds to the last one."""
    exits = [ts for ts, _ in curve]
    start = min([span[0], *exits]) if span else min(exits, default=0)
    end = max([span[1], *exits]) if span else max(exits, default=0)
    points = [(start, 0), *curve, (end, curve[-1][1] if curve else 0)]
    return _moments([ts for ts, _ in points]), [value for _, value in points]


def _moments(ts_ns: list[int]) -> NDArray[np.datetime64]:
    import numpy as np

    # datetime64[ns] holds epoch nanoseconds exactly, with no time zone (UTC by convention).
    return np.array(ts_ns, dtype="datetime64[ns]")
