"""A journaled signal as the executor reads it back: one row of the journal's signals table."""

from __future__ import annotations

from dataclasses import dataclass

from aftm.domain.signals import Signal
from aftm.wire.codec import decode
from aftm_executor.sizing import client_order_id
from aftm_executor.states import SignalState

# What a JournalEntry is read from; the filled quantity is the larger of the two lower bounds.
ENTRY_COLUMNS = (
    "payload, client_order_id, account, order_quantity, state, reason, sent,"
    " MAX(reported_filled, fill_quantity), received_ns, updated_ns, acked_ns"
)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    signal: Signal
    client_order_id: str
    account: str
    order_quantity: int  # what the order asks for (an exit may ask less than its signal)
    state: SignalState
    reason: str
    sent: bool
    filled_quantity: int
    received_ns: int
    updated_ns: int
    acked_ns: int | None  # when the accepting reply was read (tick-to-ack audits); None before


def new_entry(signal: Signal, received_ns: int) -> JournalEntry:
    """The entry a signal not yet journaled would start as: `received`, nothing sent."""
    return JournalEntry(
        signal=signal,
        client_order_id=client_order_id(signal.id),
        account="",
        order_quantity=signal.quantity,
        state=SignalState.RECEIVED,
        reason="",
        sent=False,
        filled_quantity=0,
        received_ns=received_ns,
        updated_ns=received_ns,
        acked_ns=None,
    )


def from_row(row: tuple[object, ...]) -> JournalEntry:
    """The entry in a row selected with ENTRY_COLUMNS."""
    payload, order_id, account, quantity, state, reason, sent, filled = row[:8]
    received_ns, updated_ns, acked_ns = row[8:]
    signal = decode(payload) if isinstance(payload, bytes) else None
    if not isinstance(signal, Signal):
        raise TypeError(f"journal row holds {type(signal).__name__}, not a Signal")
    return JournalEntry(
        signal=signal,
        client_order_id=str(order_id),
        account=str(account),
        order_quantity=int(str(quantity)),
        state=SignalState(str(state)),
        reason=str(reason),
        sent=bool(sent),
        filled_quantity=int(str(filled)),
        received_ns=int(str(received_ns)),
        updated_ns=int(str(updated_ns)),
        acked_ns=None if acked_ns is None else int(str(acked_ns)),
    )
