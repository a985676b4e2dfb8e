"""Trades as the console shows them: orders, average prices and realised P&L."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from aftm.errors import InvalidInput
from aftm.market.products import product_of
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
        # From the unrounded averages: rounding them first would lose points (27.99 for 28).
        entry_exact = _exact_average(trade, Leg.ENTRY, fills)
        exit_exact = _exact_average(trade, Leg.EXIT, fills)
        points = (exit_exact - entry_exact) * trade.side.sign * closed
    return TradeView(
        trade_id=trade.trade_id,
        account=trade.account,
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.quantity,
        state=trade.phase.value,
        reason=trade.hold or trade.refused or trade.problem or _last_refusal(trade),
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


def _last_refusal(trade: Trade) -> str:
    """The gateway's or broker's reason for the last order it refused (e.g. an entry)."""
    refused = [o.reason for o in trade.orders if o.state.value == "rejected" and o.reason]
    return refused[-1] if refused else ""


def _average(trade: Trade, leg: Leg, fills: Mapping[str, FillValue]) -> Decimal | None:
    quantity = _leg_quantity(trade, leg, fills)
    return _tidy(_exact_average(trade, leg, fills)) if quantity else None


def _leg_quantity(trade: Trade, leg: Leg, fills: Mapping[str, FillValue]) -> int:
    return sum(f.quantity for o in trade.leg_orders(leg) if (f := fills.get(o.client_order_id)))


def _exact_average(trade: Trade, leg: Leg, fills: Mapping[str, FillValue]) -> Decimal:
    quantity = _leg_quantity(trade, leg, fills)
    value = sum(
        (f.value for o in trade.leg_orders(leg) if (f := fills.get(o.client_order_id))), ZERO
    )
    return value / quantity if quantity else ZERO


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
