"""What the console tells about a contract from TAIFEX's rules (aftm.market): its last trading
day and its session now. Pure but for the holiday file, which the caller loads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aftm.errors import AftmError
from aftm.market.calendar import Calendar
from aftm.market.contracts import contract_of, last_trading_day
from aftm.market.sessions import contract_state_at


@dataclass(frozen=True, slots=True)
class ContractFacts:
    last_trading_day: date | None  # None: a product or a year the rules here do not cover
    session: str | None  # pre_open, regular, after_hours or closed, for this contract now


def contract_facts(calendar: Calendar, symbol: str, now: datetime) -> ContractFacts:
    """`now` must carry its time zone; a symbol of an unknown product, or a date beyond the
    holiday file, gives None rather than a guess."""
    try:
        contract = contract_of(symbol, now.date())
        last = last_trading_day(calendar, contract.delivery)
    except AftmError:
        return ContractFacts(None, None)
    try:
        session: str | None = str(contract_state_at(calendar, symbol, now).phase)
    except AftmError:
        session = None
    return ContractFacts(last, session)
