"""Market data over the vendor API: the listed futures, registrations, last prices and ticks.

Registrations outlive a logout and a dropped quote link; the vendor forgets them, so they are
renewed at every login and whenever the quote link comes back (`subscribe_all`).
"""

from __future__ import annotations

from typing import Any

from aftm.domain.market import Tick
from aftm.errors import InvalidInput
from aftm.market.products import product_of
from aftm.wire.protocol import Future
from aftm_gateway.pfcf import translate
from aftm_gateway.pfcf.session import Session, call


class Quotes:
    def __init__(self, api: Any, session: Session) -> None:
        self._api = api
        self._session = session
        self._registered: set[str] = set()
        self._listed: tuple[str, ...] | None = None  # the session's futures, asked once
        self._last_prices: dict[str, int] = {}

    def start_session(self) -> None:
        self._listed = None
        self.subscribe_all()

    def futures(self) -> tuple[Future, ...]:
        symbols = self._listing() if self._session.logged_in else sorted(self._registered)
        return tuple(self._future(symbol) for symbol in symbols)

    def register(self, symbol: str) -> None:
        self._registered.add(self._known(symbol))
        if self._session.quote_up:
            call("register", self._api.DQuoteLib.RegItem, symbol)

    def unregister(self, symbol: str) -> None:
        self._registered.discard(self._known(symbol))
        if self._session.quote_up:
            call("unregister", self._api.DQuoteLib.UnRegItem, symbol)

    def subscribe_all(self) -> None:
        for symbol in sorted(self._registered):
            call("register", self._api.DQuoteLib.RegItem, symbol)

    def take(self, tick: Tick) -> bool:
        """Note the tick's price; True if it is to be delivered (registered, logged in)."""
        self._last_prices[tick.symbol] = tick.price
        return self._session.logged_in and tick.symbol in self._registered

    def _listing(self) -> tuple[str, ...]:
        if self._listed is None:
            records = call("future list", self._api.PFCGetFutureData, "")
            symbols = {str(getattr(record, translate.FUTURE_SYMBOL_FIELD)) for record in records}
            self._listed = tuple(sorted(symbol for symbol in symbols if _is_product(symbol)))
        return self._listed

    def _known(self, symbol: str) -> str:
        product_of(symbol)  # InvalidInput for a malformed symbol or an unknown product
        if self._session.logged_in and symbol not in self._listing():
            listed = ", ".join(self._listing())
            raise InvalidInput("symbol", f"{symbol!r} is not listed here ({listed})")
        return symbol

    def _future(self, symbol: str) -> Future:
        product = product_of(symbol)
        return Future(
            symbol=symbol,
            name=product.name,
            point_value_twd=product.point_value_twd,
            last_price=self._last_prices.get(symbol, 0),
            registered=symbol in self._registered,
        )


def _is_product(symbol: str) -> bool:
    try:
        product_of(symbol)
    except InvalidInput:
        return False
    return True
