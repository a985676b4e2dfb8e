"""The gateway's fill ledger: fills numbered in the order learned, each once, on disk."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from aftm.domain.orders import OrderFilled
from aftm.domain.types import Side
from aftm_gateway.fill_ledger import FillLedger


def a_fill(n: int, ts_ns: int = 0) -> OrderFilled:
    return OrderFilled(
        client_order_id=f"A{n}",
        broker_order_id=f"B{n}",
        fill_id=f"F{n}",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        price=Decimal(23000 + n),
        ts_ns=ts_ns or n,
    )


def test_a_merge_appends_only_fills_not_seen_and_a_cursor_never_skips_a_late_one(
    tmp_path: Path,
) -> None:
    ledger = FillLedger(tmp_path / "fills.sqlite")
    assert ledger.merge([a_fill(1), a_fill(2)]) == 2
    first, cursor = ledger.after(0, 10)

    # The broker lists an older fill it had not listed before (a late report), and the others.
    assert ledger.merge([a_fill(0), a_fill(1), a_fill(2), a_fill(3)]) == 2
    later, last = ledger.after(cursor, 10)

    assert [f.fill_id for f in first] == ["F1", "F2"]
    assert [f.fill_id for f in later] == ["F0", "F3"]
    assert ledger.after(last, 10) == ([], last)
    assert ledger.newest_ts_ns() == 3  # the last learned, which merges read from
    assert ledger.caught_up(last)
    assert not ledger.caught_up(cursor)


def test_pages_are_bounded_and_fills_read_back_whole(tmp_path: Path) -> None:
    ledger = FillLedger(tmp_path / "fills.sqlite")
    fills = [replace(a_fill(n), side=Side.SELL, price=Decimal("23001.5")) for n in range(5)]
    ledger.merge(fills)

    page, last = ledger.after(1, 2)

    assert page == fills[1:3]
    assert last == 3


def test_the_ledger_and_its_identity_survive_a_reopen_and_a_new_file_is_a_new_ledger(
    tmp_path: Path,
) -> None:
    ledger = FillLedger(tmp_path / "fills.sqlite")
    ledger.merge([a_fill(1)])
    identity = ledger.identity
    ledger.close()

    again = FillLedger(tmp_path / "fills.sqlite")
    fresh = FillLedger(tmp_path / "other.sqlite")

    assert again.identity == identity
    assert again.after(0, 10)[0] == [a_fill(1)]
    assert fresh.identity != identity
    assert fresh.newest_ts_ns() == 0
    assert fresh.caught_up(0)
