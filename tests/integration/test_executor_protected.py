"""Protected orders from a real executor process, as the gateway double records them: an IOC
limit at the gateway's last price ± the product's points; an entry the limit cuts short is kept
at what it got and never sent again; its exit is priced from the last price of its own time."""

from __future__ import annotations

import time
from decimal import Decimal

from aftm.domain.orders import PlaceOrder
from aftm.domain.types import OrderType, Side, TimeInForce
from aftm_executor.states import OrderState
from tests.support.executor_rig import Harness, a_signal, an_exit, wait_for

PROTECTED = {"AFTM_EXECUTOR_ORDER_TYPE": "protected", "AFTM_EXECUTOR_PROTECTION_POINTS": "TXF=20"}


def test_a_protected_entry_cut_short_is_kept_and_its_exit_priced_anew(harness: Harness) -> None:
    harness.gateway.partial_ioc = True  # an IOC gets one lot, the rest is cancelled
    harness.start(**PROTECTED)
    entry = a_signal(Side.BUY, condition="thin", quantity=2)
    harness.push(entry)

    placed = harness.expect(PlaceOrder)
    assert (placed.order_type, placed.time_in_force) == (OrderType.LIMIT, TimeInForce.IOC)
    assert placed.price == harness.gateway.last_price + 20
    cut_short = lambda: harness.journal_order_state(entry) is OrderState.CANCELLED  # noqa: E731
    wait_for("the entry cut short", cut_short, harness.log)
    time.sleep(1.5)  # sweeps and housekeeping pass: the rest is not chased
    assert harness.gateway.place_ids() == [placed.client_order_id]

    harness.gateway.last_price = 17400
    harness.push(an_exit(entry))
    exit_order = harness.expect(PlaceOrder)
    assert (exit_order.side, exit_order.quantity) == (Side.SELL, 1)
    assert (exit_order.order_type, exit_order.price) == (OrderType.LIMIT, Decimal(17400 - 20))
    harness.stop()
    order = harness.journal_order(entry)
    assert order.reason == "not filled within protection 20 points"
