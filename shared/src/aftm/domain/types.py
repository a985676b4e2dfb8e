"""Small enumerations used across the vocabulary."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell: the direction a filled quantity moves a position."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    ROD = "rod"  # rest of day
    IOC = "ioc"
    FOK = "fok"


class OpenClose(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    AUTO = "auto"


class OrderStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    # A request whose reply never came: resolved by asking the gateway, never by resending.
    UNKNOWN = "unknown"
