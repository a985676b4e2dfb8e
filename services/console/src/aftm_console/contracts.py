"""What the console tells about a contract from TAIFEX's rules (aftm.market): its last trading
day and its session now, whether it expires soon, and how conditions roll to a later month.
Pure but for the holiday file, which the caller loads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from aftm.domain import limits
from aftm.errors import AftmError, InvalidInput
from aftm.market.calendar import Calendar
from aftm.market.contracts import Contract, contract_of, last_trading_day
from aftm.market.expiry import expiry_of
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


# --- expiring contracts and rolling conditions to the next one --------------------------------

EXPIRY_WARNING_DAYS = 3  # as the strategy's AFTM_STRATEGY_EXPIRY_WARNING_DAYS by default
ROLLED_MARK = ".r"  # a rolled condition's id: the old id, ".r" and the contract it moved to


def expiry_warning(
    calendar: Calendar, symbol: str, now: datetime, within_days: int = EXPIRY_WARNING_DAYS
) -> str:
    """One line telling that `symbol` expires soon and how to roll it, or "" when it does not
    (or the rules do not cover it)."""
    try:
        expiry = expiry_of(calendar, symbol, now)
    except AftmError:
        return ""
    if not expiry.is_near(within_days):
        return ""
    days = expiry.days_left
    when = "today" if days == 0 else f"in {days} day{'' if days == 1 else 's'}"
    return (
        f"{symbol} expires on {expiry.last_trading_day.isoformat()} ({when}): roll it with "
        f"aftm conditions roll --from {symbol} --to {expiry.next_symbol}"
    )


def check_roll(symbol_from: str, symbol_to: str, today: date) -> None:
    """InvalidInput unless `symbol_to` is a later month of the same product as `symbol_from`."""
    old, new = _contract(symbol_from, "from", today), _contract(symbol_to, "to", today)
    if new.product != old.product:
        raise InvalidInput(
            "to", f"{symbol_to} is not a {old.product.code} contract like {symbol_from}"
        )
    if new.delivery <= old.delivery:
        raise InvalidInput("to", f"{symbol_to} does not expire after {symbol_from}")


def rolled_id(condition_id: str, symbol_to: str) -> str:
    """The id a condition gets when rolled to `symbol_to`: always the same for the same two, so
    a roll run again after a crash finds the copy it made and does not make another. An id too
    long for the suffix keeps its start and a digest of the whole, within the id limit."""
    suffix = f"{ROLLED_MARK}{symbol_to}"
    if len(condition_id) + len(suffix) <= limits.MAX_CONDITION_ID_LENGTH:
        return condition_id + suffix
    digest = hashlib.sha256(condition_id.encode()).hexdigest()[:8]
    keep = limits.MAX_CONDITION_ID_LENGTH - len(suffix) - len(digest) - 1
    return f"{condition_id[:keep]}.{digest}{suffix}"


def _contract(symbol: str, field: str, today: date) -> Contract:
    limits.check_symbol(symbol, field)
    try:
        return contract_of(symbol, today)
    except InvalidInput as unknown:  # a product the rules do not know
        raise InvalidInput(field, unknown.message) from None
