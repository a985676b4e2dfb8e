"""A stored record a service cannot process is quarantined, not a crash at every start.

Each test writes a bad row straight into a real store file with sqlite3, as a disk fault, an
older build or a hand edit would leave it, then starts the real service process: it must start,
move the row to the `quarantine` table of the same file, count it, and keep serving the rest.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import msgpack
import pytest
import zmq

from aftm.domain.conditions import Condition
from aftm.domain.orders import OrderFilled
from aftm.domain.types import Side
from aftm.wire.codec import encode
from aftm.wire.protocol import (
    ConditionList,
    ErrorCode,
    FillList,
    ListConditions,
    ListFills,
    ListTrades,
    TradeList,
    TradingMode,
)
from aftm.wire.sockets import bound_endpoint, make_socket
from aftm_executor.journal import Journal
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Order, Trade
from aftm_gateway.fill_ledger import FillLedger
from aftm_gateway.journal import Journal as GatewayJournal
from aftm_strategy.store import StrategyStore
from tests.builders import a_condition
from tests.integration.test_console import aftm
from tests.integration.test_gateway import Gateway, an_order
from tests.integration.test_strategy_service import GatewayStandIn, Strategy
from tests.support.executor_rig import Harness
from tests.support.processes import endpoint

pytestmark = pytest.mark.slow
Context = zmq.Context[zmq.Socket[bytes]]
SERVICES = ("gateway", "strategy", "executor")


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


# Recent: done trades older than the retention are pruned soon after the executor starts.
OPENED_NS = time.time_ns() - 3600 * 10**9


def a_done_trade(trade_id: str) -> Trade:
    """Refused before its entry: done, so a starting executor has nothing to do about it."""
    return Trade(
        trade_id=trade_id,
        account="ACC1",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        entry_signal_id=f"{trade_id}:entry",
        exit_signal_id=f"{trade_id}:exit",
        entry_ts_ns=None,
        refused="risk: a test",
        opened_ns=OPENED_NS,
        updated_ns=OPENED_NS,
    )


def an_open_trade(trade_id: str) -> Trade:
    """Entered and filled, no exit yet: a live trade with one order."""
    entry = Order(
        client_order_id="A" + "0" * 15,
        leg=Leg.ENTRY,
        attempt=1,
        side=Side.BUY,
        quantity=1,
        state=OrderState.FILLED,
        filled=1,
        sent_ns=OPENED_NS,
    )
    return replace(a_done_trade(trade_id), refused="", entry_ts_ns=OPENED_NS, orders=(entry,))


def console_env(**running: str) -> dict[str, str]:
    """The console pointed at the running services, and at free ports for the others."""
    return {
        "AFTM_CONSOLE_TIMEOUT_MS": "300",
        **{f"AFTM_CONSOLE_{name.upper()}_CONNECT": endpoint() for name in SERVICES},
        **{f"AFTM_CONSOLE_{name.upper()}_CONNECT": value for name, value in running.items()},
    }


def quarantined_rows(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT source, record, reason FROM quarantine ORDER BY rowid")
        return [(str(source), str(record), str(reason)) for source, record, reason in rows]


def _frame_with(condition: Condition, **fields: object) -> bytes:
    """The condition's frame with some fields replaced by values no Condition can hold."""
    data = msgpack.unpackb(encode(condition), raw=False)
    return bytes(msgpack.packb({**data, **fields}))


def _store_rows(path: Path, rows: list[tuple[str, bytes]]) -> None:
    """Conditions as the store holds them (id, next position, stage, frame), written raw."""
    StrategyStore.open(path).close()  # the schema, as a real store made it
    with closing(sqlite3.connect(path)) as db, db:
        for row_id, frame in rows:
            db.execute(
                "INSERT INTO conditions (id, position, stage, frame) VALUES"
                " (?, (SELECT COALESCE(MAX(position), 0) + 1 FROM conditions), 'waiting', ?)",
                (row_id, frame),
            )


def test_the_strategy_quarantines_conditions_it_cannot_read(
    context: Context, tmp_path: Path
) -> None:
    store = tmp_path / "var" / "strategy.sqlite"
    good = a_condition(id="good")
    # A long id and an unknown product are unusual, not unreadable: such a condition was
    # stored before the limits and must still list and be removable (see check_condition).
    unusual = a_condition(id="x" * 70, symbol="ZZZL6")
    _store_rows(
        store,
        [
            ("good", encode(good)),
            ("garbage", b"\x00 not a frame"),
            ("stage", _frame_with(a_condition(id="stage"), stage="bogus")),
            ("huge", _frame_with(a_condition(id="huge"), quantity=2**63)),
            ("other", encode(a_condition(id="someone-else"))),
            (unusual.id, encode(unusual)),
        ],
    )
    gateway = GatewayStandIn(context)
    pull = make_socket(context, zmq.PULL, bind="tcp://127.0.0.1:*")
    strategy = Strategy(context, tmp_path, gateway, bound_endpoint(pull))
    strategy.process.env["AFTM_STRATEGY_STORE_PATH"] = str(store)
    try:
        strategy.start()
        listed = strategy.request(ListConditions()).body
        assert isinstance(listed, ConditionList)
        assert [c.id for c in listed.conditions] == ["good", unusual.id]
        assert listed.quarantined == 4
        assert strategy.metric("aftm_strategy_quarantined_records") == 4
        rows = quarantined_rows(store)
        assert [(source, record.split(",")[0]) for source, record, _ in rows] == [
            ("conditions", "('garbage'"),
            ("conditions", "('stage'"),
            ("conditions", "('huge'"),
            ("conditions", "('other'"),
        ]
        assert "outside signed 64 bits" in rows[2][2]
        log = strategy.process.log()
        assert log.count("stored record quarantined") == 4
        assert "ERROR" in log
        shown = aftm(console_env(strategy=strategy.control_endpoint), "status")
        assert "strategy: quarantined: 4 records (see table quarantine" in shown.stdout
        assert shown.returncode == 3  # the gateway and executor are not running
    finally:
        strategy.kill()
    stopped = aftm(console_env(strategy=strategy.control_endpoint), "status", "--json")
    assert stopped.returncode == 3
    assert json.loads(stopped.stdout)["strategy"]["up"] is False

    # Moved, not copied: the next start finds nothing new to quarantine and logs nothing.
    again = Strategy(context, tmp_path, gateway, bound_endpoint(pull))
    again.process.env["AFTM_STRATEGY_STORE_PATH"] = str(store)
    again.process.log_path = tmp_path / "strategy-again.log"
    try:
        again.start()
        listed = again.request(ListConditions()).body
        assert isinstance(listed, ConditionList)
        assert listed.quarantined == 4
        assert "stored record quarantined" not in again.process.log()
    finally:
        again.kill()


# --- executor: journal rows ----------------------------------------------------------------------


def _write_executor_journal(path: Path) -> None:
    """A journal made by the real Journal, then damaged row by row with plain SQL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(path)
    for trade_id in ("good", "sideways", "huge"):
        journal.save(a_done_trade(trade_id))
    journal.save(an_open_trade("huge-order"))
    journal.close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE trades SET side = 'sideways', done = 0 WHERE trade_id = 'sideways'")
        # Beyond signed 64 bits: SQLite keeps the literal as a REAL, which no count can be.
        db.execute("UPDATE trades SET quantity = 18446744073709551616 WHERE trade_id = 'huge'")
        db.execute(
            "UPDATE orders SET quantity = 18446744073709551616 WHERE trade_id = 'huge-order'"
        )
        db.execute("INSERT INTO positions VALUES ('ACC1', 'TXFL6', 1, 'not a price')")
        db.execute("INSERT INTO settings VALUES ('mode', 'bogus')")
        db.execute("INSERT INTO settings VALUES ('resync_after', 'not a position')")
        # Never read back (kept as the record of what arrived): unusual, not quarantined.
        db.execute("INSERT INTO signals VALUES ('junk:entry', 'junk', x'00', 1)")


def test_the_executor_quarantines_journal_rows_it_cannot_read(harness: Harness) -> None:
    _write_executor_journal(harness.journal_path)

    harness.start()

    status = harness.status()
    # trades 'sideways' and 'huge'; trade 'huge-order' with its order; position; two settings
    assert status.quarantined == 7
    assert status.mode is TradingMode.HALTED  # an unreadable mode is taken as the safe one
    assert harness.metric("aftm_executor_quarantined_records") == 7
    listed = harness.control.request(ListTrades()).body
    assert isinstance(listed, TradeList)
    assert [trade.trade_id for trade in listed.trades] == ["good"]
    rows = quarantined_rows(harness.journal_path)
    assert sorted(source for source, _, _ in rows) == [
        "orders",
        "positions",
        "settings",
        "settings",
        "trades",
        "trades",
        "trades",
    ]
    assert harness.log().count("stored record quarantined") == 7
    shown = aftm(console_env(executor=harness.control_endpoint), "status", "--json")
    assert json.loads(shown.stdout)["executor"]["quarantined"] == 7
    assert shown.returncode == 3  # no gateway, no strategy: down
    with closing(sqlite3.connect(harness.journal_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM signals").fetchone() == (1,)


# --- gateway: order journal and fill ledger ------------------------------------------------------


def _write_gateway_stores(folder: Path) -> None:
    """A journal and a fill ledger made by the real classes, then damaged with plain SQL."""
    journal = GatewayJournal(folder / "gateway-journal.sqlite")
    for client_order_id in ("Tgood", "Tsideways", "Thuge", "Tstatus"):
        journal.begin(an_order(client_order_id), OPENED_NS)
    journal.close()
    ledger = FillLedger(folder / "gateway-journal-fills.sqlite")
    ledger.merge([a_fill("F1"), a_fill("F2")])
    ledger.close()
    with closing(sqlite3.connect(folder / "gateway-journal.sqlite")) as db, db:
        # Open entries (begun, never completed) are read at every login: these are unreadable.
        db.execute("UPDATE orders SET side = 'sideways' WHERE client_order_id = 'Tsideways'")
        db.execute(
            "UPDATE orders SET quantity = 18446744073709551616 WHERE client_order_id = 'Thuge'"
        )
        db.execute(
            "UPDATE orders SET status = 'bogus', broker_order_id = 'B1',"
            " filled_quantity = 0, reason = '', updated_ns = 1"
            " WHERE client_order_id = 'Tstatus'"
        )
    with closing(sqlite3.connect(folder / "gateway-journal-fills.sqlite")) as db, db:
        db.execute("UPDATE fills SET price = 'not a price' WHERE fill_id = 'F2'")


def a_fill(fill_id: str) -> OrderFilled:
    return OrderFilled(
        client_order_id="Tgood",
        broker_order_id="B0",
        fill_id=fill_id,
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        price=Decimal(17500),
        ts_ns=OPENED_NS,
    )


def test_the_gateway_quarantines_journal_and_ledger_rows_it_cannot_read(
    context: Context, tmp_path: Path
) -> None:
    _write_gateway_stores(tmp_path)

    gateway = Gateway(tmp_path, context).wait_healthy()
    try:
        assert gateway.metric("aftm_gateway_quarantined_records") == 4
        listed = gateway.ask(ListFills()).body
        assert isinstance(listed, FillList)
        assert "F1" in [fill.fill_id for fill in listed.fills]
        assert "F2" not in [fill.fill_id for fill in listed.fills]
        # At most once holds for a quarantined id: it is refused, never placed again.
        again = gateway.ask(an_order("Tsideways"))
        assert (again.ok, again.error_code) == (False, ErrorCode.INVALID)
        assert "quarantined" in again.error
        assert gateway.orders_at_exchange("Tsideways") == []
        log = "".join(p.read_text() for p in tmp_path.glob("gateway-*.log"))
        assert log.count("stored record quarantined") == 4
    finally:
        gateway.close()
    journal_rows = quarantined_rows(tmp_path / "gateway-journal.sqlite")
    assert [source for source, _, _ in journal_rows] == ["orders"] * 3
    ledger_rows = quarantined_rows(tmp_path / "gateway-journal-fills.sqlite")
    assert [source for source, _, _ in ledger_rows] == ["fills"]
