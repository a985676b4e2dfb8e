"""Market rules in the trade model: entries refused outside a session and before a close,
exits held while closed and sent once trading, read from TAIFEX's rules by the market clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from aftm.domain.types import Side
from aftm.market.calendar import load_calendar
from aftm.market.clock import MarketClock
from aftm.market.sessions import TAIPEI
from aftm_console.run.wiring import child_env
from aftm_executor import decisions, market, trades
from aftm_executor.decisions import Hold, Place, Refuse
from aftm_executor.market import MarketView, Rule
from aftm_executor.sessions import TaifexSessions
from aftm_executor.settings import ExecutorSettings
from tests.unit.test_trades import NOW, SIDES, a_situation, an_entry_trade, exit_wanted, open_trade

AT = datetime(2026, 12, 2, 13, 50, tzinfo=TAIPEI)  # Wednesday, between the two sessions
CLOSED = MarketView(is_trading=False, at=AT, next_open=AT.replace(hour=15, minute=0))
CLOSING = MarketView(
    is_trading=True, at=AT, closes=AT.replace(hour=13, minute=45), closing_window_min=5
)
TRADING = MarketView(is_trading=True, at=AT, closes=AT.replace(hour=13, minute=45))


@SIDES
@pytest.mark.parametrize(
    ("view", "reason", "rule"),
    [
        (CLOSED, "market closed: next open 15:00", Rule.CLOSED),
        (CLOSING, "within 5 min of the 13:45 close", Rule.CLOSING),
        (MarketView(False, unknown="no calendar"), "market rules unknown: no calendar", "unknown"),
    ],
)
def test_an_entry_is_refused_outside_a_session_and_before_a_close(
    side: Side, view: MarketView, reason: str, rule: Rule
) -> None:
    decision = decisions.decide(an_entry_trade(side), a_situation(market=view))

    assert decision == Refuse(reason, rule)
    assert trades.refused(an_entry_trade(side), decision.reason, NOW).is_done


@SIDES
def test_an_exit_is_held_while_closed_and_sent_once_trading(side: Side) -> None:
    trade = exit_wanted(open_trade(side)[0])

    decision = decisions.decide(trade, a_situation(market=CLOSED))
    assert decision == Hold("held: market closed until 15:00", Rule.CLOSED)
    held = trades.held(trade, decision.reason, NOW)
    assert held.is_waiting  # the sweep decides it again
    assert held.is_unclosed  # shown and alarmed meanwhile

    sent = decisions.decide(held, a_situation(market=TRADING))
    assert isinstance(sent, Place)
    assert (sent.order.side, sent.order.quantity) == (side.opposite, 2)


def test_an_exit_goes_out_in_the_last_minutes_before_a_close() -> None:
    trade = exit_wanted(open_trade()[0])
    assert isinstance(decisions.decide(trade, a_situation(market=CLOSING)), Place)


def test_a_person_s_flatten_waits_for_the_open_too() -> None:
    trade = trades.wants_exit(open_trade()[0], "flatten", NOW, flatten=True)
    assert isinstance(decisions.decide(trade, a_situation(market=CLOSED)), Hold)


def _view(at: str, symbol: str = "TXFL6", window_min: int = 5) -> MarketView:
    clock = MarketClock(datetime.fromisoformat(at), monotonic=lambda: 0.0)
    return TaifexSessions(load_calendar(), clock, window_min).view(symbol)


@pytest.mark.parametrize(
    ("at", "window_min", "entry", "exit_"),
    [
        ("2026-12-02T13:39:59+08:00", 5, None, None),
        ("2026-12-02T13:40:00+08:00", 5, "within 5 min of the 13:45 close", None),
        ("2026-12-02T13:44:30+08:00", 5, "within 5 min of the 13:45 close", None),
        ("2026-12-02T13:44:30+08:00", 0, None, None),
        ("2026-12-02T13:45:00+08:00", 5, "market closed: next open 15:00", "until 15:00"),
        # Pre-open: TAIFEX takes orders into its opening auction; IOC orders wait for the open.
        ("2026-12-02T14:55:00+08:00", 5, "market closed: next open 15:00", "until 15:00"),
        ("2026-12-02T15:00:00+08:00", 5, None, None),
        ("2026-12-03T04:56:00+08:00", 5, "within 5 min of the 05:00 close", None),
        # A holiday (National Day, a Friday): no evening session; Monday opens.
        ("2026-10-09T23:00:00+08:00", 5, "next open 2026-10-12 08:45", "until 2026-10-12 08:45"),
        # TXFL6's last trading day: it closes 13:30 and has no evening session.
        ("2026-12-16T13:26:00+08:00", 5, "within 5 min of the 13:30 close", None),
        ("2026-12-16T15:30:00+08:00", 5, "market rules unknown", "market rules unknown"),
    ],
)
def test_taifex_sessions_give_the_view_the_model_decides_on(
    at: str, window_min: int, entry: str | None, exit_: str | None
) -> None:
    view = _view(at, window_min=window_min)

    entry_stop, exit_stop = market.entry_stop(view), market.exit_stop(view)
    assert (entry_stop is None) == (entry is None), entry_stop
    assert (exit_stop is None) == (exit_ is None), exit_stop
    assert entry is None or entry_stop is None or entry in entry_stop.reason
    assert exit_ is None or exit_stop is None or exit_ in exit_stop.reason


def test_a_date_beyond_the_holiday_file_sends_nothing() -> None:
    view = _view("2031-03-03T10:00:00+08:00", symbol="TXFH1")
    assert view.unknown
    assert not view.is_trading


def test_real_money_follows_taifex_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTM_EXECUTOR_MARKET_RULES")
    settings = ExecutorSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.market_rules, settings.no_entry_before_close_min) == ("taifex", 5)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AFTM_EXECUTOR_MARKET_RULES", "sometimes"),
        ("AFTM_EXECUTOR_NO_ENTRY_BEFORE_CLOSE_MIN", "61"),
        ("AFTM_EXECUTOR_NO_ENTRY_BEFORE_CLOSE_MIN", "-1"),
    ],
)
def test_market_rule_settings_out_of_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        ExecutorSettings(_env_file=None)  # type: ignore[call-arg]


def test_aftm_run_trades_the_sim_at_any_hour_unless_told_to_follow_taifex(tmp_path: Path) -> None:
    assert child_env({}, tmp_path)["AFTM_EXECUTOR_MARKET_RULES"] == "always_open"
    told = child_env({"AFTM_EXECUTOR_MARKET_RULES": "taifex"}, tmp_path)
    assert told["AFTM_EXECUTOR_MARKET_RULES"] == "taifex"
