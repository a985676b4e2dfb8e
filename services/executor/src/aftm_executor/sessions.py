"""Reads each contract's `MarketView` from the market clock and TAIFEX's rules (aftm.market).

The only place the executor looks at the market clock; the rules themselves are aftm.market's.
"""

from __future__ import annotations

from datetime import timedelta

from aftm.errors import AftmError, InvalidInput
from aftm.market.calendar import Calendar
from aftm.market.clock import MarketClock
from aftm.market.contracts import contract_of, last_trading_day
from aftm.market.sessions import TAIPEI, Phase, is_closing_within, next_close, next_open, state_at
from aftm_executor.market import MarketView

TRADING = (Phase.REGULAR, Phase.AFTER_HOURS)


class TaifexSessions:
    def __init__(self, calendar: Calendar, clock: MarketClock, no_entry_before_close_min: int):
        self._calendar = calendar
        self._clock = clock
        self._window_min = no_entry_before_close_min

    def view(self, symbol: str) -> MarketView:
        at = self._clock.now().astimezone(TAIPEI)
        try:
            last_day = last_trading_day(self._calendar, contract_of(symbol, at.date()).delivery)
            state = state_at(self._calendar, at, last_day)
            if state.phase not in TRADING:
                opens = next_open(self._calendar, at, last_day)
                return MarketView(is_trading=False, at=at, next_open=opens)
            window = timedelta(minutes=self._window_min)
            closing = self._window_min > 0 and is_closing_within(
                self._calendar, at, window, last_day
            )
            return MarketView(
                is_trading=True,
                at=at,
                closes=next_close(self._calendar, at, last_day),
                closing_window_min=self._window_min if closing else 0,
            )
        except InvalidInput as error:  # an expired contract never opens again
            return MarketView(is_trading=False, at=at, unknown=error.message)
        except AftmError as error:  # CalendarNotCovering: install a newer holiday file
            return MarketView(is_trading=False, at=at, unknown=str(error))
