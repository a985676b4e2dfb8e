"""Backtest accounting: signals folded into round-trip trades, P&L and drawdown. Pure.

Fills are assumed at the signal's price moved by `slippage` whole points against the trader: a
buy fills at price + slippage, a sell at price - slippage. P&L in points is already multiplied by
the lots; TWD is points times the product's point value. Drawdown is measured on realised equity
(closed trades in exit order, starting from 0), because that is all a signal stream can tell.
A trade with zero P&L counts as neither a win nor a loss.

Costs (aftm.market.costs): when a schedule is given, each trade also carries its commission and
futures transaction tax, both sides, and its net P&L, what the trader's statement will show.
Wins, losses and drawdown stay on the price move (gross), as before; totals carry both.

A condition enters once and exits once, so memory is bounded by the number of conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from aftm.domain.conditions import Condition
from aftm.domain.signals import Signal, SignalKind
from aftm.domain.types import Side
from aftm.errors import AftmError, InvalidInput
from aftm.market.costs import FUTURES_TAX_RATE, CostSchedule

# TWD per point of TAIFEX index futures: TAIEX (TX/TXF), mini (MTX/MXF), micro (TMF).
DEFAULT_POINT_VALUES: Mapping[str, int] = {"TX": 200, "TXF": 200, "MTX": 50, "MXF": 50, "TMF": 10}


class UnknownPointValue(AftmError):
    """A condition trades a symbol that matches no product in the point-value table.

    Stop before reading ticks: add the product's point value and run again.
    """

    def __init__(self, condition_id: str, symbol: str, products: Iterable[str]) -> None:
        known = ", ".join(sorted(products)) or "none"
        super().__init__(f"no point value for symbol {symbol!r} (known products: {known})")
        self.condition_id = condition_id
        self.symbol = symbol


def point_value(symbol: str, table: Mapping[str, int]) -> int | None:
    """TWD per point for `symbol`: the longest product in `table` that the symbol starts with.

    Longest wins so that a more specific product (`TXF`) overrides a shorter one (`TX`).
    """
    matches = [product for product in table if symbol.startswith(product)]
    return table[max(matches, key=len)] if matches else None


def fill_price(side: Side, price: int, slippage: int) -> int:
    """Where an order at `price` is assumed to fill: `slippage` points worse for the trader."""
    return price + side.sign * slippage


@dataclass(frozen=True, slots=True)
class OpenPosition:
    condition_id: str
    symbol: str
    side: Side  # the entry side
    quantity: int
    entry_price: int  # the assumed fill, slippage included
    entry_ts_ns: int


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip of one condition."""

    condition_id: str
    symbol: str
    side: Side  # the entry side: buy means long
    quantity: int
    entry_price: int
    entry_ts_ns: int
    exit_price: int
    exit_ts_ns: int
    exit_kind: SignalKind
    pnl_points: int  # points x lots
    pnl_twd: int
    costs_twd: int = 0  # commission and transaction tax, entry and exit

    @property
    def net_pnl_twd(self) -> int:
        return self.pnl_twd - self.costs_twd


@dataclass(frozen=True, slots=True)
class Stats:
    trades: int = 0
    wins: int = 0
    losses: int = 0
    pnl_points: int = 0
    pnl_twd: int = 0
    max_drawdown_twd: int = 0
    costs_twd: int = 0

    @property
    def net_pnl_twd(self) -> int:
        return self.pnl_twd - self.costs_twd


def equity_curve(trades: Iterable[Trade]) -> list[tuple[int, int]]:
    """(exit time, realised equity in TWD after that exit), in the order the trades closed."""
    equity, curve = 0, []
    for trade in trades:
        equity += trade.pnl_twd
        curve.append((trade.exit_ts_ns, equity))
    return curve


def summarize(trades: Sequence[Trade]) -> Stats:
    """Counts, P&L and the largest peak-to-trough fall of realised equity (0 before any trade)."""
    peak = drawdown = 0
    for _, equity in equity_curve(trades):
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
    return Stats(
        trades=len(trades),
        wins=sum(1 for t in trades if t.pnl_twd > 0),
        losses=sum(1 for t in trades if t.pnl_twd < 0),
        pnl_points=sum(t.pnl_points for t in trades),
        pnl_twd=sum(t.pnl_twd for t in trades),
        max_drawdown_twd=drawdown,
        costs_twd=sum(t.costs_twd for t in trades),
    )


class Report:
    """Folds the signals of a run, in emission order, into trades and open positions."""

    def __init__(
        self,
        conditions: Iterable[Condition],
        point_values: Mapping[str, int] = DEFAULT_POINT_VALUES,
        slippage: int = 0,
        costs: CostSchedule | None = None,
    ) -> None:
        if isinstance(slippage, bool) or not isinstance(slippage, int) or slippage < 0:
            raise InvalidInput("slippage", f"must be a whole number of points >= 0, got {slippage}")
        self.slippage = slippage
        self._costs = costs
        self._conditions = {condition.id: condition for condition in conditions}
        self._point_values: dict[str, int] = {}
        for condition in self._conditions.values():
            value = point_value(condition.symbol, point_values)
            if value is None:
                raise UnknownPointValue(condition.id, condition.symbol, point_values)
            self._point_values[condition.id] = value
        self._open: dict[str, OpenPosition] = {}
        self._trades: list[Trade] = []

    @property
    def trades(self) -> Sequence[Trade]:
        """Closed trades in the order they closed."""
        return self._trades

    @property
    def open_positions(self) -> list[OpenPosition]:
        return list(self._open.values())

    def apply(self, signal: Signal) -> Trade | None:
        """Record one signal; return the trade it closes, if it is an exit."""
        fill = fill_price(signal.side, signal.price, self.slippage)
        if not signal.kind.is_exit:
            self._open[signal.condition_id] = OpenPosition(
                signal.condition_id, signal.symbol, signal.side, signal.quantity, fill, signal.ts_ns
            )
            return None
        entry = self._open.pop(signal.condition_id, None)
        if entry is None:  # the engine exits only what it entered: this is a bug, not bad input
            raise ValueError(f"exit signal {signal.id!r} without an entry")
        pnl_points = (fill - entry.entry_price) * entry.side.sign * entry.quantity
        point_value_twd = self._point_values[signal.condition_id]
        pnl_twd = pnl_points * point_value_twd
        costs_twd = 0
        if self._costs is not None:
            for price in (entry.entry_price, fill):
                side = self._costs.side(entry.symbol, price, entry.quantity, point_value_twd)
                costs_twd += side.total_twd
        trade = Trade(
            condition_id=entry.condition_id,
            symbol=entry.symbol,
            side=entry.side,
            quantity=entry.quantity,
            entry_price=entry.entry_price,
            entry_ts_ns=entry.entry_ts_ns,
            exit_price=fill,
            exit_ts_ns=signal.ts_ns,
            exit_kind=signal.kind,
            pnl_points=pnl_points,
            pnl_twd=pnl_twd,
            costs_twd=costs_twd,
        )
        self._trades.append(trade)
        return trade

    def total(self) -> Stats:
        return summarize(self._trades)

    def by_condition(self) -> dict[str, Stats]:
        """Stats for every condition, traded or not, in the conditions' order."""
        grouped: dict[str, list[Trade]] = {condition_id: [] for condition_id in self._conditions}
        for trade in self._trades:
            grouped[trade.condition_id].append(trade)
        return {condition_id: summarize(trades) for condition_id, trades in grouped.items()}

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready values."""
        conditions = {
            condition_id: {
                "symbol": self._conditions[condition_id].symbol,
                "point_value_twd": self._point_values[condition_id],
                **_with_net(stats),
            }
            for condition_id, stats in self.by_condition().items()
        }
        costs = None
        if self._costs is not None:
            costs = {
                "commission_twd_per_lot_and_side": dict(self._costs.commission_twd),
                "transaction_tax_rate_per_side": str(FUTURES_TAX_RATE),
            }
        return {
            "slippage_points": self.slippage,
            "costs": costs,
            "total": _with_net(self.total()),
            "conditions": conditions,
            "trades": [_with_net(trade) for trade in self._trades],
            "open_positions": [asdict(position) for position in self._open.values()],
        }


def _with_net(record: Stats | Trade) -> dict[str, object]:
    """The record's fields and its net P&L (a property, so asdict leaves it out)."""
    return {**asdict(record), "net_pnl_twd": record.net_pnl_twd}
