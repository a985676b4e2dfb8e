"""The broker session as the vendor's events tell it: login, connections, accounts, query answers.

`Session` attaches the inbox's handlers to the vendor's events (and detaches them at close) and
takes the loop's non-order items: login status, error messages, connection changes and the
records of the query in flight. The vendor numbers a query's records 1..count and answers
"none" with one record of count 0; it has no request ids, so an answer restarts at record 1
and records of another account are ignored (the tail of an earlier, timed-out query).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from loguru import logger

from aftm_gateway.errors import BrokerUnavailable
from aftm_gateway.pfcf import translate
from aftm_gateway.pfcf.callbacks import Inbox, Kind
from aftm_gateway.pfcf.loader import headline
from aftm_gateway.pfcf.reports import TrackedOrder, book_from

LIBRARIES = ("DQuoteLib", "DTradeLib", "DAccountLib", "NoticeLib")
TRADING_LINKS = frozenset({"DQuoteLib", "DTradeLib"})  # down: no ticks or no orders, unhealthy


def call(what: str, dll_call: Callable[..., Any], *args: Any) -> Any:
    """A call into the DLL; a .NET exception means its outcome is unknown."""
    try:
        return dll_call(*args)
    except Exception as failure:
        raise BrokerUnavailable(f"pfcf {what} failed: {headline(failure)}") from failure


class _Record(Protocol):
    @property
    def account(self) -> str: ...


R = TypeVar("R", bound=_Record)


@dataclass
class Answer(Generic[R]):
    account: str
    records: list[R] = field(default_factory=list)
    expected: int | None = None
    error: str = ""

    def add(self, count: int, recordno: int, record: R | None) -> None:
        if record is not None and record.account not in ("", self.account):
            return
        if count == 0 or record is None:
            self.expected, self.records = 0, []
            return
        if recordno == 1:
            self.records = []
        self.expected = count
        self.records.append(record)

    def is_done(self) -> bool:
        complete = self.expected is not None and len(self.records) >= self.expected
        return complete or bool(self.error)


class Session:
    def __init__(self, api: Any, inbox: Inbox) -> None:
        self._api = api
        self._inbox = inbox
        self._attached: list[tuple[Any, str, Callable[..., None]]] = []
        self.logged_in = False
        self.accounts: tuple[str, ...] = ()
        self._down: set[str] = set()
        self._awaiting_login = False
        self._login_answer: tuple[bool, str] | None = None
        self._replies: Answer[translate.Reply] | None = None
        self._matches: Answer[translate.Match] | None = None
        self._positions: Answer[translate.PositionRecord] | None = None

    @property
    def is_up(self) -> bool:
        return self.logged_in and not self._down & TRADING_LINKS

    @property
    def quote_up(self) -> bool:
        return self.logged_in and "DQuoteLib" not in self._down

    def subscribe(self) -> None:
        api, inbox = self._api, self._inbox
        handlers: list[tuple[Any, str, Callable[..., None]]] = [
            (api, "PFCloginStatus", inbox.on_login_status),
            (api, "PFCErrorData", inbox.on_error_data),
            (api.DQuoteLib, "OnTickDataTrade", inbox.on_tick),
            (api.DTradeLib, "OnReply", inbox.on_reply),
            (api.DTradeLib, "OnMatch", inbox.on_match),
            (api.DTradeLib, "OnQueryReply", inbox.on_query_reply),
            (api.DTradeLib, "OnQueryMatch", inbox.on_query_match),
            (api.DAccountLib, "OnPositionData", inbox.on_position),
            (api.DAccountLib, "OnPositionError", inbox.on_position_error),
        ]
        for library in LIBRARIES:
            owner = getattr(api, library)
            handlers.append((owner, "OnConnected", inbox.connection(library, True)))
            handlers.append((owner, "OnDisconnected", inbox.connection(library, False)))
        for owner, event, handler in handlers:
            # `owner.event += handler`, spelled out: pythonnet turns it into a .NET delegate.
            binding = getattr(owner, event)
            binding += handler
            setattr(owner, event, binding)
            self._attached.append((owner, event, handler))

    def unsubscribe(self) -> None:
        for owner, event, handler in reversed(self._attached):
            try:
                binding = getattr(owner, event)
                binding -= handler
                setattr(owner, event, binding)
            except Exception as failure:
                logger.warning("broker event not detached event={} error={}", event, failure)
        self._attached.clear()

    def start_login(self) -> None:
        self._awaiting_login, self._login_answer = True, None

    def has_login_answer(self) -> bool:
        return self._login_answer is not None

    def finish_login(self) -> str | None:
        """None when the session is open (accounts read), else the broker's refusal."""
        self._awaiting_login = False
        assert self._login_answer is not None  # noqa: S101 - called after has_login_answer
        succeeded, message = self._login_answer
        if not succeeded:
            return message
        self.logged_in = True
        self._down.clear()
        self.accounts = tuple(str(account) for account in self._api.UserOrderSet)
        return None

    def end(self) -> None:
        self.logged_in, self.accounts = False, ()

    def ask_replies(self, account: str) -> Answer[translate.Reply]:
        self._replies = Answer(account)
        return self._replies

    def ask_matches(self, account: str) -> Answer[translate.Match]:
        self._matches = Answer(account)
        return self._matches

    def ask_positions(self, account: str) -> Answer[translate.PositionRecord]:
        self._positions = Answer(account)
        return self._positions

    @staticmethod
    def book(
        replies: Answer[translate.Reply], matches: Answer[translate.Match], now_ns: int
    ) -> list[TrackedOrder]:
        return book_from(replies.records, matches.records, now_ns)

    def take(self, kind: Kind, value: Any) -> bool:
        """Take one item; True when the quote link just came back (subscriptions are lost)."""
        if kind is Kind.LOGIN:
            self._take_login(value)
        elif kind is Kind.ERROR:
            logger.warning("broker error message={}", value)
        elif kind is Kind.CONNECTION:
            return self._take_connection(*value)
        elif kind is Kind.QUERY_REPLY and self._replies is not None:
            self._replies.add(*value)
        elif kind is Kind.QUERY_MATCH and self._matches is not None:
            self._matches.add(*value)
        elif kind is Kind.POSITION and self._positions is not None:
            self._positions.add(value.count, value.recordno, value)
        elif kind is Kind.POSITION_ERROR and self._positions is not None:
            self._positions.error = value
        return False

    def _take_login(self, message: str) -> None:
        outcome = translate.login_outcome(message)
        if outcome is None:
            logger.info("broker login progress message={}", message)
        elif self._awaiting_login:
            self._login_answer = (outcome, message)
        elif not outcome and self.logged_in:
            logger.warning("broker session ended message={}", message)
            self.end()

    def _take_connection(self, library: str, up: bool) -> bool:
        was_down = library in self._down
        if up:
            self._down.discard(library)
        else:
            self._down.add(library)
        if up == was_down:
            log = logger.info if up else logger.warning
            log("broker link {} library={}", "restored" if up else "lost", library)
        return up and was_down and library == "DQuoteLib"
