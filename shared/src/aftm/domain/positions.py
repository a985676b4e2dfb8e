"""Positions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one account in one symbol: positive long, negative short."""

    account: str
    symbol: str
    net_quantity: int
    average_price: Decimal
