"""Trades as the console shows them: orders, average prices and realised P&L."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from aftm.domain.products import product_of
from aftm.errors import InvalidInput
from aftm.wire.protocol import TradeOrder, TradeView
from aftm_executor.journal import FillValue
from aftm_executor.trades import Leg, Trade

ZERO = Decimal(0)


def trade_view(trade: Trade, fills: Mapping[str, FillValue]) -> TradeView:
    """`fills`: what each of the trade's orders filled, by client order id (from the journal)."""
    entry_price = _average(trade, Leg.ENTRY, fills)
    exit_price = _average(trade, Leg.EXIT, fills)
    closed = min(trade.exit_filled, trade.entry_filled)
    points = ZERO
    if entry_price is not None and exit_price is not None and closed:
        points = (exit_price - entry_price) * trade.side.sign * closed
    return TradeView(
        trade_id=trade.trade_id,
        account=trade.account,
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.quantity,
        state=trade.phase.value,
        reason=trade.hold or trade.refused or trade.problem,
        entry_filled=trade.entry_filled,
        exit_filled=trade.exit_filled,
        entry_price=entry_price,
        exit_price=exit_price,
        realised_points=_tidy(points),
        realised_twd=_tidy(points * _point_value(trade.symbol)),
        opened_ns=trade.opened_ns,
        updated_ns=trade.updated_ns,
        orders=tuple(
            TradeOrder(
                client_order_id=order.client_order_id,
                leg=order.leg.value,
                attempt=order.attempt,
                side=order.side,
                quantity=order.quantity,
                filled_quantity=order.filled,
                average_price=_order_average(fills.get(order.client_order_id)),
                state=order.state.value,
                reason=order.reason,
            )
            for order in trade.orders
        ),
    )


def _average(trade: Trade, leg: Leg, fills: Mapping[str, FillValue]) -> Decimal | None:
    quantity, value = 0, ZERO
    for order in trade.leg_orders(leg):
        filled = fills.get(order.client_order_id)
        if filled is not None:
            quantity += filled.quantity
            value += filled.value
    return _tidy(value / quantity) if quantity else None


def _order_average(filled: FillValue | None) -> Decimal | None:
    if filled is None or not filled.quantity:
        return None
    return _tidy(filled.value / filled.quantity)


def _point_value(symbol: str) -> int:
    try:
        return product_of(symbol).point_value_twd
    except InvalidInput:
        return 0  # a product this build does not know: P&L in points only


def _tidy(value: Decimal) -> Decimal:
    """Canonical text on the wire: no exponent, no trailing zeros beyond two decimals."""
    return value.quantize(Decimal("0.01")).normalize() + ZERO
