"""How a reconciliation is shown: the executor's book beside the broker's positions.

For people, a header line (state, local time, what the run did, whether entries are halted,
why), then one row per account and symbol with every row that is not agreed flagged (`DIFFERS`,
or `in flight` while orders still working may explain it), then what to do about it.

For scripts, one JSON document with fixed keys: state, ts (ISO 8601, UTC; null when never run),
ts_ns, detail, fills_applied, orders_asked, entries_halted, adopted, and positions, a list of
{account, symbol, state, book, book_average, broker, broker_average}. Lots are numbers and prices
decimal strings, as in `aftm trades --json`; an average is null for a flat position.

A run that compared nothing (state failed: the gateway did not answer) carries the rows of the
last comparison that did run, as the executor keeps them (none if none ran): they are shown as
such, never as the broker's figures now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from aftm.wire.protocol import PositionCheck, ReconcileState, Reconciliation
from aftm_console.render import say, say_json, table

State = ReconcileState
COMPARED = frozenset({State.AGREED, State.SETTLING, State.DIFFERS})
HEADERS = ("account", "symbol", "book", "book avg", "broker", "broker avg", "check")
FLAGS = {State.AGREED: "ok", State.SETTLING: "in flight", State.DIFFERS: "DIFFERS"}
LABELS = {
    State.NEVER: "not run yet",
    State.AGREED: "agreed",
    State.SETTLING: "settling (orders in flight)",
    State.DIFFERS: "DIFFERS",
    State.FAILED: "FAILED (nothing compared)",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NS_PER_S = 1_000_000_000


class Summary(TypedDict):
    state: str
    ts: str | None
    ts_ns: int
    detail: str
    fills_applied: int
    orders_asked: int
    entries_halted: bool
    adopted: int


class Row(TypedDict):
    account: str
    symbol: str
    state: str
    book: int
    book_average: str | None
    broker: int | None
    broker_average: str | None


class Document(Summary):
    positions: list[Row]


def local_time(ts_ns: int) -> str:
    """Wall-clock time in this machine's time zone, to the second."""
    moment = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def iso_time(ts_ns: int) -> str | None:
    """ISO 8601 in UTC to the microsecond (exact: no float on the way); None for 0 (never)."""
    if not ts_ns:
        return None
    return (EPOCH + timedelta(microseconds=ts_ns // 1000)).isoformat(timespec="microseconds")


def summary(found: Reconciliation) -> Summary:
    return Summary(
        state=found.state.value,
        ts=iso_time(found.ts_ns),
        ts_ns=found.ts_ns,
        detail=found.detail,
        fills_applied=found.fills_applied,
        orders_asked=found.orders_asked,
        entries_halted=found.entries_halted,
        adopted=found.adopted,
    )


def headline(found: Summary) -> str:
    """One line: the state, when, what the run did, whether entries are halted, and why."""
    state = State(found["state"])
    if state is State.NEVER or not found["ts_ns"]:
        return "reconciliation not run yet"
    parts = [
        f"reconciliation {LABELS[state]} at {local_time(found['ts_ns'])}",
        f"fills applied {found['fills_applied']}",
        f"orders asked again {found['orders_asked']}",
        "entries HALTED" if found["entries_halted"] else "entries allowed",
    ]
    if found["adopted"]:
        parts.append(f"positions adopted from the broker {found['adopted']}")
    if found["detail"]:
        parts.append(found["detail"])
    return "; ".join(parts)


def is_compared(found: Reconciliation) -> bool:
    return found.state in COMPARED


def checks(found: Reconciliation, account: str = "") -> tuple[PositionCheck, ...]:
    return tuple(c for c in found.positions if not account or c.account == account)


def differing(found: Reconciliation) -> tuple[PositionCheck, ...]:
    return tuple(c for c in found.positions if c.state is State.DIFFERS)


def _average(lots: int, price: Decimal) -> Decimal | None:
    return price if lots else None  # a flat position has no average


def check_row(check: PositionCheck, *, compared: bool = True) -> tuple[object, ...]:
    """One account and symbol under HEADERS; from an earlier run ("last: ...") if not compared."""
    flag = FLAGS.get(check.state, check.state.value)
    return (
        check.account,
        check.symbol,
        check.book,
        _average(check.book, check.book_average),
        check.broker,
        _average(check.broker, check.broker_average),
        flag if compared else f"last: {flag}",
    )


def document(found: Reconciliation, account: str = "") -> Document:
    def row(check: PositionCheck) -> Row:
        book_average = _average(check.book, check.book_average)
        broker_average = _average(check.broker, check.broker_average)
        return Row(
            account=check.account,
            symbol=check.symbol,
            state=check.state.value,
            book=check.book,
            book_average=None if book_average is None else str(book_average),
            broker=check.broker,
            broker_average=None if broker_average is None else str(broker_average),
        )

    return Document(**summary(found), positions=[row(c) for c in checks(found, account)])


def text(found: Reconciliation, account: str = "") -> str:
    """The header line, the table (or why it is empty) and what to do about any difference."""
    shown = checks(found, account)
    compared = is_compared(found)
    where = f" on account {account}" if account else ""
    lines = [headline(summary(found))]
    if shown:
        lines.append(table(HEADERS, [check_row(c, compared=compared) for c in shown]))
    elif compared:
        lines.append(f"no positions{where} in the book or at the broker")
    if not compared:
        earlier = (
            "the rows are from the last comparison"
            if shown
            else f"the last comparison, if any, listed no positions{where}"
        )
        lines.append(f"the broker's positions were not read now: {earlier}")
    lines.extend(_advice(shown) if compared else ())
    return "\n".join(lines)


def _advice(shown: Sequence[PositionCheck]) -> list[str]:
    differ = sum(c.state is State.DIFFERS for c in shown)
    in_flight = sum(c.state is State.SETTLING for c in shown)
    advice = []
    if differ:
        advice.append(
            f"{differ} position(s) DIFFER from the broker: find out why (aftm trades, aftm "
            "orders), then adopt the broker's figures with: aftm reconcile --accept"
        )
    if in_flight:
        advice.append(
            f"{in_flight} position(s) in flight: orders still working may explain the "
            "difference; look again shortly"
        )
    return advice


def say_reconciliation(found: Reconciliation, account: str = "", *, as_json: bool = False) -> None:
    if as_json:
        say_json(document(found, account))
    else:
        say(text(found, account))


def adoption_question(found: Reconciliation) -> str:
    rows = ", ".join(
        f"{c.account} {c.symbol} (book {c.book}, broker {c.broker})" for c in differing(found)
    )
    return f"adopt the broker's figures for {rows}"
