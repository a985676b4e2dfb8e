"""The market line of `aftm run`'s live view: always open, TAIFEX's phases, or a replay's."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from aftm.market.sessions import TAIPEI
from aftm.wire.protocol import MarketSession, ProductSession
from aftm_console.run.view import Picture, market_line, screen

S = 1_000_000_000


def at_ns(taipei_time: str) -> int:
    return round(datetime.fromisoformat(taipei_time).replace(tzinfo=TAIPEI).timestamp()) * S


def a_session(calendar: str, *products: ProductSession) -> MarketSession:
    return MarketSession(calendar, products, 1)


@pytest.mark.parametrize(
    ("session", "line"),
    [
        (None, "no word from the gateway yet"),
        (
            a_session("always_open", ProductSession("TXF", "regular", 0, 0)),
            "always open (simulated; AFTM_GATEWAY_SIM_CALENDAR=taifex follows TAIFEX's sessions)",
        ),
        (
            a_session(
                "taifex",
                ProductSession(
                    "MXF", "regular", at_ns("2026-12-02T15:00"), at_ns("2026-12-02T13:45")
                ),
                ProductSession("TXF", "closed", at_ns("2026-12-02T15:00"), 0),
                ProductSession(
                    "TMF", "pre_open", at_ns("2026-12-02T15:00"), at_ns("2026-12-03T05:00")
                ),
            ),
            "MXF regular until 12-02 13:45  TXF closed, opens 12-02 15:00"
            "  TMF pre-open, opens 12-02 15:00",
        ),
        (
            a_session(
                "replay",
                ProductSession(
                    "TXF", "after_hours", at_ns("2026-12-03T08:45"), at_ns("2026-12-03T05:00")
                ),
            ),
            "replay, at the recorded time: TXF after-hours until 12-03 05:00",
        ),
        (a_session("replay"), "replay: session unknown"),
    ],
)
def test_the_market_line(session: MarketSession | None, line: str) -> None:
    assert market_line(session) == line


def test_the_screen_shows_the_market_line() -> None:
    picture = Picture(
        time="12:00:00",
        prices={},
        conditions=(),
        orders=(),
        executor=None,
        state_dir=Path("var/run"),
        market=a_session("always_open", ProductSession("TXF", "regular", 0, 0)),
    )

    assert "market     always open (simulated; AFTM_GATEWAY_SIM_CALENDAR=taifex" in screen(picture)
