"""`ReportAlarms`: broker reports the gateway cannot account for, counted, logged and alarmed.

- Unmatched: a report whose NOTE is no client order id in the journal (an order entered at
  another terminal, or a lost journal). Counted by kind, logged once per NOTE (not per report),
  and still published: it is the broker's truth, and the executor ignores ids it never sent.
- Duplicate: a second broker order under a journaled NOTE, the one failure the order desk
  exists to prevent. Shown by the adapter (`DuplicateOrder`: its tracker's strays, or a query
  listing two) or by a report whose broker order id differs from the one the journal holds.
  Counted, logged at ERROR with the NOTE and every broker order id, and the number of such NOTEs
  goes into the health and heartbeat (`GatewayHealth.duplicate_orders`), on which the executor
  halts entries. Its reports are counted and not published: published under the client order
  id they would add another order's fills to it. It lasts until the gateway restarts, which a
  person does after settling the extra order at the broker.
"""

from __future__ import annotations

from collections import OrderedDict

from loguru import logger

from aftm.domain.orders import OrderFilled
from aftm.wire.protocol import OrderUpdated
from aftm_gateway.broker import DuplicateOrder
from aftm_gateway.journal import JournalEntry
from aftm_gateway.metrics import GatewayMetrics

Report = OrderUpdated | OrderFilled
# NOTEs already logged as unmatched; beyond this many the oldest may be logged once more.
MAX_LOGGED_NOTES = 10_000


class ReportAlarms:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics
        self._logged: OrderedDict[str, None] = OrderedDict()
        self._duplicates: dict[str, tuple[str, ...]] = {}  # NOTE -> every broker order id
        for kind in ("order", "fill"):
            metrics.unmatched_reports.labels(kind=kind)  # exported at 0 from the start

    @property
    def duplicate_orders(self) -> int:
        """Client order ids under which the broker holds more than one order."""
        return len(self._duplicates)

    def admits(self, report: Report, entry: JournalEntry | None) -> bool:
        """Whether `report` is published; counts and logs it when it is not the journal's."""
        kind, note, broker_id = _fields(report)
        if entry is None:
            self._unmatched(kind, note, broker_id)
            return True
        known = "" if entry.snapshot is None else entry.snapshot.broker_order_id
        if known and broker_id and broker_id != known:
            self.duplicate(DuplicateOrder(note, (known, broker_id), kind))
            return False
        return True

    def duplicate(self, event: DuplicateOrder) -> None:
        """Count a report (or listing) of an extra broker order; alarm on each new one."""
        self._metrics.duplicate_order_reports.labels(kind=event.source).inc()
        known = self._duplicates.get(event.client_order_id, ())
        new = [broker_id for broker_id in event.broker_order_ids if broker_id not in known]
        every = (*known, *new)
        if not new or len(every) < 2:
            return
        self._duplicates[event.client_order_id] = every
        # The first id of a NOTE is its real order, not an extra one.
        self._metrics.duplicate_broker_orders.inc(len(new) - (not known))
        logger.error(
            "duplicate broker orders client_order_id={} broker_order_ids={} seen_in={}"
            " action=entries halt until the extra order is settled at the broker",
            event.client_order_id,
            ",".join(every),
            event.source,
        )

    def _unmatched(self, kind: str, note: str, broker_id: str) -> None:
        self._metrics.unmatched_reports.labels(kind=kind).inc()
        if note in self._logged:
            return
        self._logged[note] = None
        if len(self._logged) > MAX_LOGGED_NOTES:
            self._logged.popitem(last=False)
        logger.warning(
            "broker report unmatched client_order_id={} broker_order_id={} kind={}"
            " reason=not in the journal (placed elsewhere?)",
            note,
            broker_id,
            kind,
        )


def _fields(report: Report) -> tuple[str, str, str]:
    if isinstance(report, OrderUpdated):
        return "order", report.order.client_order_id, report.order.broker_order_id
    return "fill", report.client_order_id, report.broker_order_id
