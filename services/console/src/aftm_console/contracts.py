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
from aftm.market.products import PRODUCTS
from aftm.market.sessions import (
    REGULAR_OPEN,
    TAIPEI,
    Phase,
    contract_state_at,
    next_close,
    next_open,
    state_at,
)


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

_SATURDAY = 5
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


# --- the market now, for aftm status ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketOutlook:
    """The products' session now (TX, MTX and TMF keep the same hours) and what comes next.

    `closes` is when the session in progress ends (None in pre-open or closed); `opens` when
    the next one opens and `opening` which one it is; `reason` why it is closed."""

    products: tuple[str, ...]
    phase: Phase
    closes: datetime | None
    opens: datetime
    opening: Phase
    reason: str | None  # holiday (with its name), weekend, or between sessions


def market_outlook(calendar: Calendar, now: datetime) -> MarketOutlook:
    """CalendarNotCovering when the next open lies beyond the holiday file."""
    state = state_at(calendar, now)
    opens = next_open(calendar, now)  # in pre-open: the session about to open
    in_session = state.phase in {Phase.REGULAR, Phase.AFTER_HOURS}
    local = now.astimezone(TAIPEI)
    return MarketOutlook(
        products=tuple(PRODUCTS),
        phase=state.phase,
        closes=next_close(calendar, now) if in_session else None,
        opens=opens,
        opening=Phase.REGULAR if opens.time() == REGULAR_OPEN else Phase.AFTER_HOURS,
        reason=_closed_because(calendar, local.date()) if state.phase is Phase.CLOSED else None,
    )


def describe_market(outlook: MarketOutlook, now: datetime) -> str:
    """One line: "TXF, MXF, TMF: regular session until 13:45 (Taiwan); next open 15:00
    (after-hours)"; a time on another day than `now`'s carries its date."""
    today = now.astimezone(TAIPEI).date()
    products = ", ".join(outlook.products)
    when, opening = _when(outlook.opens, today), _SESSION_NAMES[outlook.opening]
    if outlook.phase is Phase.PRE_OPEN:
        return f"{products}: pre-open (orders accepted); {opening} session opens {when} (Taiwan)"
    if outlook.closes is None:
        return f"{products}: closed ({outlook.reason}); next open {when} (Taiwan, {opening})"
    name = _SESSION_NAMES[outlook.phase]
    # An after-hours session ends the next morning: its close needs no date to be understood.
    until = f"{outlook.closes:%H:%M}"
    return f"{products}: {name} session until {until} (Taiwan); next open {when} ({opening})"


def outlook_json(outlook: MarketOutlook) -> dict[str, object]:
    return {
        "products": list(outlook.products),
        "phase": str(outlook.phase),
        "reason": outlook.reason,
        "closes": None if outlook.closes is None else outlook.closes.isoformat(),
        "next_open": outlook.opens.isoformat(),
        "next_open_session": str(outlook.opening),
    }


_SESSION_NAMES = {Phase.REGULAR: "regular", Phase.AFTER_HOURS: "after-hours"}


def _closed_because(calendar: Calendar, day: date) -> str:
    holiday = calendar.holidays.get(day)
    if holiday is not None:
        return f"holiday: {holiday.name}"
    return "weekend" if day.weekday() >= _SATURDAY else "between sessions"


def _when(at: datetime, today: date) -> str:
    return f"{at:%H:%M}" if at.date() == today else f"{at:%Y-%m-%d %H:%M}"
