"""The market as the trade model sees it: is the trade's contract trading, and when not, why.

Pure: `MarketView` is read elsewhere (sessions.py, from the market clock and TAIFEX's rules in
`aftm.market`) and handed to `decide` beside the gateway state; the two functions here say what
the view means for an entry and for an exit. The executor's orders are IOC, which match only
against a book that trades, so the ten minutes of pre-open before an open (when TAIFEX already
takes orders into its opening auction) count as closed here: an entry is refused there and an
exit waits for the open itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

# How an exit held only by a closed market is told apart (journal, metrics, alerts).
MARKET_CLOSED_HOLD = "held: market closed"


class MarketRules(StrEnum):
    TAIFEX = "taifex"  # TAIFEX's sessions and holidays, by the market clock
    ALWAYS_OPEN = "always_open"  # the simulated exchange's default: trades at any hour


class Rule(StrEnum):
    """Why the market stops an order: the `reason` label of the refused/held counter."""

    CLOSED = "closed"
    CLOSING = "closing"  # within the no-entry window before a close
    UNKNOWN = "unknown"  # the rules cannot say (calendar not covering, contract expired)


@dataclass(frozen=True, slots=True)
class MarketView:
    """The state of one contract's market at an instant (Taipei time)."""

    is_trading: bool
    at: datetime | None = None
    next_open: datetime | None = None  # when not trading
    closes: datetime | None = None  # the close of the session in progress
    closing_window_min: int = 0  # when trading and within this many minutes of `closes`
    unknown: str = ""  # why the rules could not be read; nothing goes out then


ALWAYS_OPEN = MarketView(is_trading=True)


class Sessions(Protocol):
    """Where a contract's market stands now (TaifexSessions, or AlwaysOpen)."""

    def view(self, symbol: str) -> MarketView: ...


class AlwaysOpen:
    """No market rules: the simulated exchange trades at any hour."""

    def view(self, symbol: str) -> MarketView:
        return ALWAYS_OPEN


@dataclass(frozen=True, slots=True)
class Stop:
    rule: Rule
    reason: str


def entry_stop(view: MarketView) -> Stop | None:
    """Why an entry may not be placed now (it is refused, the trade done), or None."""
    if view.unknown:
        return Stop(Rule.UNKNOWN, f"market rules unknown: {view.unknown}")
    if not view.is_trading:
        return Stop(Rule.CLOSED, f"market closed: next open {_when(view.next_open, view.at)}")
    if view.closing_window_min and view.closes is not None:
        close = view.closes.strftime("%H:%M")
        return Stop(Rule.CLOSING, f"within {view.closing_window_min} min of the {close} close")
    return None


def exit_stop(view: MarketView) -> Stop | None:
    """Why an exit must wait (held, then sent by the sweep once trading), or None."""
    if view.unknown:
        return Stop(Rule.UNKNOWN, f"held: market rules unknown: {view.unknown}")
    if not view.is_trading:
        return Stop(Rule.CLOSED, f"{MARKET_CLOSED_HOLD} until {_when(view.next_open, view.at)}")
    return None


def _when(moment: datetime | None, at: datetime | None) -> str:
    """A time of day when it falls on the day of `at`, else the date too."""
    if moment is None:
        return "unknown"
    if at is not None and moment.date() == at.date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")
