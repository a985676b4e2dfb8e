"""Every message that crosses a socket between AFTM processes, beyond the domain values.

Sockets and frame layouts (all payloads are codec frames, see codec.py):

  gateway PUB (bind)       [topic, payload]  topics: b"tick:<symbol>" Tick,
                                             b"order:" OrderUpdated, b"fill:" OrderFilled,
                                             b"heartbeat" GatewayHeartbeat (every second),
                                             b"session" MarketSession (on a change, every 10 s)
  gateway ROUTER (bind)    DEALER sends [payload]; ROUTER sees [identity, payload]
  strategy ROUTER (bind)   control: conditions; same layout
  executor ROUTER (bind)   control: account selection and status; same layout
  executor PULL (bind)     [payload] Signal, pushed by the strategy

Requests travel as `Request(request_id, body)` and are answered by `Reply(request_id, ...)` with
the same id, so a client that timed out and reconnected can recognise and drop a late reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from aftm.domain.conditions import Condition
from aftm.domain.orders import OrderFilled
from aftm.domain.positions import Position
from aftm.domain.signals import Signal
from aftm.domain.types import OrderStatus, Side

TICK_TOPIC = b"tick:"
ORDER_TOPIC = b"order:"
FILL_TOPIC = b"fill:"
HEARTBEAT_TOPIC = b"heartbeat"
SESSION_TOPIC = b"session"


def tick_topic(symbol: str) -> bytes:
    return TICK_TOPIC + symbol.encode()


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"  # the request itself is malformed or unsupported
    INVALID = "invalid"  # a value was refused (unknown symbol, bad quantity, ...)
    NOT_FOUND = "not_found"
    NOT_LOGGED_IN = "not_logged_in"
    REJECTED = "rejected"  # the broker or a risk check said no
    UNAVAILABLE = "unavailable"  # a dependency is down or timed out: the outcome is unknown
    FORBIDDEN = "forbidden"  # the sender's role (its CURVE key) may not make this request


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    body: object


@dataclass(frozen=True, slots=True)
class Reply:
    request_id: str
    ok: bool
    body: object | None = None
    error_code: ErrorCode | None = None
    error: str = ""


# --- gateway requests ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Logout:
    pass


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_order_id: str


@dataclass(frozen=True, slots=True)
class QueryOrder:
    client_order_id: str


# An OrderSnapshot encodes to ~300 bytes with every id at its limit and an empty reason, so a
# page of 1,000 is ~0.3 MiB: the broker's reason texts would need ~4 KB each to reach the cap.
MAX_ORDER_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ListOrders:
    """The broker's orders after the first `after` of its list (oldest first), at most `limit`
    (MAX_ORDER_PAGE). The broker's list only grows during a session, so its positions are the
    cursor; `OrderList.more` says whether to ask again from `last`."""

    after: int = 0
    limit: int = MAX_ORDER_PAGE


MAX_FILL_PAGE = 2000  # fills of ~150 bytes: well under the frame cap


@dataclass(frozen=True, slots=True)
class ListFills:
    """The broker's fills the gateway has recorded after position `after` of its fill ledger,
    oldest first, at most `limit` (MAX_FILL_PAGE). The gateway first merges what the broker
    lists now, so fills published while nobody listened, or lost with a killed gateway's
    memory, are found; the answer's `ledger` changes when the ledger was started afresh."""

    after: int = 0
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class ListPositions:
    account: str = ""  # empty: every account


@dataclass(frozen=True, slots=True)
class ListAccounts:
    pass


@dataclass(frozen=True, slots=True)
class RegisterItem:
    symbol: str


@dataclass(frozen=True, slots=True)
class UnregisterItem:
    symbol: str


@dataclass(frozen=True, slots=True)
class ListFutures:
    pass


@dataclass(frozen=True, slots=True)
class GetHealth:
    pass


# --- gateway replies and events -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """What the gateway knows of one order, keyed by the client order id."""

    client_order_id: str
    broker_order_id: str
    account: str
    symbol: str
    side: Side
    quantity: int
    filled_quantity: int
    average_price: Decimal | None
    status: OrderStatus
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderList:
    orders: tuple[OrderSnapshot, ...]
    last: int = 0  # orders of the broker's list up to the last one listed: the next `after`
    more: bool = False  # the broker lists orders after `last`


@dataclass(frozen=True, slots=True)
class PositionList:
    positions: tuple[Position, ...]


@dataclass(frozen=True, slots=True)
class FillList:
    fills: tuple[OrderFilled, ...]
    last: int = 0  # ledger position of the last fill listed (`after` when none): the next cursor
    ledger: str = ""  # the ledger's identity: a new one means positions restart from 0


@dataclass(frozen=True, slots=True)
class AccountList:
    accounts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Future:
    symbol: str
    name: str
    point_value_twd: int
    last_price: int
    registered: bool


@dataclass(frozen=True, slots=True)
class FutureList:
    futures: tuple[Future, ...]


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    broker: str
    logged_in: bool
    last_broker_event_ns: int  # 0: never
    ts_ns: int
    # Client order ids under which the broker holds two orders (a second `place`): an alarm;
    # the executor halts entries while it is not 0.
    duplicate_orders: int = 0
    # When this gateway process started (epoch ns): a new value tells a listener that it
    # restarted, and that what it published meanwhile may have been missed.
    started_ns: int = 0
    # The symbols the broker lists now (ListFutures' symbols): the strategy refuses conditions
    # on any other. Empty while the broker lists none (e.g. before a PFCF login).
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    order: OrderSnapshot


@dataclass(frozen=True, slots=True)
class GatewayHeartbeat:
    health: GatewayHealth


@dataclass(frozen=True, slots=True)
class GetMarketSession:
    """Ask the gateway for its MarketSession now."""


@dataclass(frozen=True, slots=True)
class ProductSession:
    product: str  # a product code: TXF, MXF, TMF
    phase: str  # aftm.market.sessions.Phase: pre_open, regular, after_hours, closed
    next_open_ns: int  # epoch ns; 0 when unknown or always open
    next_close_ns: int  # epoch ns; 0 when unknown or always open


@dataclass(frozen=True, slots=True)
class MarketSession:
    """The session each listed product is in, by the broker's calendar.

    `calendar`: "always_open" (the sim's default: every product regular, any hour), "taifex"
    (the sim following TAIFEX's sessions) or "replay" (the phase at the recorded tick's time).
    """

    calendar: str
    products: tuple[ProductSession, ...]
    ts_ns: int


# --- strategy control -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddCondition:
    condition: Condition


@dataclass(frozen=True, slots=True)
class RemoveCondition:
    condition_id: str


# A Condition encodes to ~220 bytes with its id and every number at their limits: a page of
# 2,000 is ~0.45 MiB, far below the frame cap whatever the conditions hold.
MAX_CONDITION_PAGE = 2000


@dataclass(frozen=True, slots=True)
class ListConditions:
    """The conditions after store position `after`, in creation order, at most `limit`
    (MAX_CONDITION_PAGE), each in its current stage."""

    after: int = 0
    limit: int = MAX_CONDITION_PAGE


@dataclass(frozen=True, slots=True)
class ConditionList:
    conditions: tuple[Condition, ...]
    last: int = 0  # store position of the last condition listed (`after` when none)
    more: bool = False  # conditions follow `last`
    # Stored conditions the strategy could not read at its start, moved aside to its store's
    # quarantine table instead of stopping it: `aftm status` shows the count.
    quarantined: int = 0


MAX_SIGNAL_PAGE = 5000


@dataclass(frozen=True, slots=True)
class ListSignals:
    """Signals the strategy emitted after store position `after`, oldest first, at most `limit`.

    The executor's resync: it pages from 0 once after a start, then asks only for what is new,
    so the answer never grows with the strategy's whole history.
    """

    after: int = 0
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class SignalList:
    signals: tuple[Signal, ...]
    last: int = 0  # store position of the last signal listed (`after` when none): the next cursor


MAX_SIGNAL_ID_PAGE = 20_000  # ids of ~20 bytes: well under the frame cap


@dataclass(frozen=True, slots=True)
class ListSignalIds:
    """The ids of the signals emitted after store position `after`, oldest first, at most
    `limit`: the executor's periodic resync compares ids, which costs both sides little, and
    asks for whole signals (GetSignals) only for ids it never received."""

    after: int = 0
    limit: int = MAX_SIGNAL_ID_PAGE


@dataclass(frozen=True, slots=True)
class SignalIdList:
    ids: tuple[str, ...]
    last: int = 0  # store position of the last id listed (`after` when none): the next cursor


@dataclass(frozen=True, slots=True)
class GetSignals:
    """The stored signals with these ids (at most MAX_SIGNAL_PAGE), in emission order; ids
    never emitted are left out. Answered with a SignalList whose `last` is 0."""

    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetShard:
    """Ask a strategy which shard it is and which symbols it owns: the console routes a new
    condition to the one shard owning its symbol."""


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """A strategy's shard name (AFTM_STRATEGY_SHARD) and owned symbols (AFTM_STRATEGY_SYMBOLS).
    An empty name and no symbols: the single unsharded strategy, owning every symbol."""

    shard: str = ""
    symbols: tuple[str, ...] = ()


# --- executor control -------------------------------------------------------------------------


class TradingMode(StrEnum):
    ACTIVE = "active"  # entries and exits
    REDUCING = "reducing"  # only orders that reduce a position
    HALTED = "halted"  # nothing


@dataclass(frozen=True, slots=True)
class SelectAccount:
    account: str


@dataclass(frozen=True, slots=True)
class SetTradingMode:
    mode: TradingMode


@dataclass(frozen=True, slots=True)
class GetExecutorStatus:
    pass


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """A person's market order, placed by the executor as a trade of its own, under the same
    risk checks as a signal's. `order_id` names the request: asking again with the same id
    places nothing new and answers the same trade."""

    order_id: str
    symbol: str
    side: Side
    quantity: int
    account: str = ""  # empty: the executor's selected account


@dataclass(frozen=True, slots=True)
class Flatten:
    """Cancel working orders, then close every open trade at market (one symbol, or all)."""

    symbol: str = ""


# A trade's view is ~550 bytes with one order and ~160 more per order, and exit attempts have
# no fixed count, so the executor also stops a page at MAX_TRADE_PAGE_BYTES of encoded views.
MAX_TRADE_PAGE = 1000
MAX_TRADE_PAGE_BYTES = 2 * 1024 * 1024  # half the frame cap: room for the reply around it


@dataclass(frozen=True, slots=True)
class ListTrades:
    """The newest trades opened before the cursor (`before_ns`, `before_id`; an empty id: the
    newest of all), at most `limit` (MAX_TRADE_PAGE), newest last. The next page, older,
    starts from the reply's `oldest_ns`, `oldest_id`."""

    open_only: bool = False
    limit: int = 200
    before_ns: int = 0
    before_id: str = ""


@dataclass(frozen=True, slots=True)
class TradeOrder:
    """One order of a trade: its entry or one exit attempt."""

    client_order_id: str
    leg: str  # "entry" or "exit"
    attempt: int
    side: Side
    quantity: int
    filled_quantity: int
    average_price: Decimal | None
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class TradeView:
    """One trade (a condition's round trip, or a manual order) as the executor holds it."""

    trade_id: str
    account: str
    symbol: str
    side: Side  # the entry's side
    quantity: int  # asked for by the entry
    state: str  # pending, entering, open, closing, done
    reason: str  # why it is held, refused or done; empty when nothing is wrong
    entry_filled: int
    exit_filled: int
    entry_price: Decimal | None  # average fill price of the entry
    exit_price: Decimal | None
    realised_points: Decimal
    realised_twd: Decimal
    opened_ns: int
    updated_ns: int
    orders: tuple[TradeOrder, ...]


@dataclass(frozen=True, slots=True)
class TradeList:
    trades: tuple[TradeView, ...]
    oldest_ns: int = 0  # the oldest trade listed (opened_ns, trade_id): the next page's cursor
    oldest_id: str = ""
    more: bool = False  # older trades follow


class ReconcileState(StrEnum):
    NEVER = "never"  # not run yet
    AGREED = "agreed"  # the book equals the broker's positions
    SETTLING = "settling"  # a difference that orders still in flight may explain
    DIFFERS = "differs"  # a difference nothing explains: entries are halted
    FAILED = "failed"  # the gateway did not answer: nothing was compared


@dataclass(frozen=True, slots=True)
class PositionCheck:
    """One account and symbol: the executor's book beside the broker's figure."""

    account: str
    symbol: str
    book: int  # net lots in the executor's book: positive long, negative short
    broker: int
    book_average: Decimal
    broker_average: Decimal
    state: ReconcileState  # AGREED, SETTLING or DIFFERS


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The last comparison of the executor's book with the broker."""

    state: ReconcileState
    ts_ns: int  # when it ran (0: never)
    detail: str  # what was found or why it failed; empty when nothing is wrong
    fills_applied: int  # fills the broker had that the book had missed, applied by this run
    orders_asked: int  # non-final orders asked about again
    entries_halted: bool  # a difference halts entries until it is explained or accepted
    positions: tuple[PositionCheck, ...]
    adopted: int = 0  # rows set to the broker's figures by `Reconcile(accept=True)`


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Reconcile now and answer the Reconciliation. `accept`: first adopt the broker's figures
    for every (account, symbol) where they differ and no order is in flight, a person's
    decision that the broker is right (logged, and kept in the journal's adjustments)."""

    accept: bool = False


@dataclass(frozen=True, slots=True)
class GetReconciliation:
    """The last Reconciliation, without running one."""


@dataclass(frozen=True, slots=True)
class ExecutorStatus:
    account: str
    mode: TradingMode
    gateway_alive: bool
    signals_received: int
    orders_sent: int
    signals_rejected: int
    positions: tuple[Position, ...]
    reconciliation: Reconciliation | None = None
    # Journal rows the executor could not read at its start, moved aside to its journal's
    # quarantine table instead of stopping it: `aftm status` shows the count.
    quarantined: int = 0
