"""Console output: tables, JSON values, the live view and the demo condition."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from aftm.domain.conditions import Stage, condition_from_fields
from aftm.domain.types import OrderStatus, Side
from aftm.wire.protocol import ExecutorStatus, OrderSnapshot, TradingMode
from aftm_console.render import jsonable, table, width
from aftm_console.run.live import demo_fields
from aftm_console.run.view import CLEAR, Picture, screen, summary
from tests.builders import a_condition


def an_order(**changes: object) -> OrderSnapshot:
    order = OrderSnapshot(
        client_order_id="M0123456789abcde",
        broker_order_id="S00000001",
        account="SIM-0001",
        symbol="TXFL6",
        side=Side.BUY,
        quantity=1,
        filled_quantity=1,
        average_price=Decimal("23008"),
        status=OrderStatus.FILLED,
        reason="",
        ts_ns=1,
    )
    return replace(order, **changes)  # type: ignore[arg-type]


def test_table_aligns_text_left_and_numbers_right() -> None:
    text = table(("symbol", "qty"), [("TXFL6", 1), ("MXFL6", 100)])

    assert text.splitlines() == ["symbol  qty", "TXFL6     1", "MXFL6   100"]


def test_a_missing_number_is_aligned_with_the_numbers() -> None:
    text = table(("symbol", "avg"), [("TXFL6", Decimal("23008")), ("MXFL6", None)])

    assert text.splitlines() == ["symbol    avg", "TXFL6   23008", "MXFL6       -"]


def test_table_counts_wide_characters_twice() -> None:
    lines = table(("name", "x"), [("臺股期貨", "a"), ("ab", "b")]).splitlines()

    # 臺股期貨 takes 8 columns, so the second column starts at 10 on every line.
    assert [width(line[:-1]) for line in lines] == [10, 10, 10]


def test_table_shows_none_and_booleans_readably() -> None:
    assert table(("a", "b"), [(None, True)]).splitlines()[1] == "-  yes"


def test_jsonable_turns_wire_values_into_plain_json() -> None:
    value = jsonable(an_order(average_price=None))

    assert isinstance(value, dict)
    assert value["side"] == "buy"
    assert value["status"] == "filled"
    assert value["average_price"] is None
    assert jsonable(an_order())["average_price"] == "23008"  # type: ignore[index]


def test_the_demo_condition_triggers_at_once_and_trails() -> None:
    condition = condition_from_fields(demo_fields(23_000), default_id="c-demo")

    assert condition.action is Side.BUY
    assert condition.symbol == "TXFL6"
    assert condition.trigger_price == 23_005  # above the market: triggered on the next tick
    assert (condition.turning_point, condition.is_following, condition.quantity) == (3, True, 1)
    assert (condition.take_profit_point, condition.stop_loss_point) == (20, 20)


def a_picture(**changes: object) -> Picture:
    picture = Picture(
        time="12:00:00",
        prices={"TXFL6": 23001, "MXFL6": 22990},
        conditions=(a_condition(stage=Stage.TRIGGERED),),
        orders=(an_order(),),
        executor=ExecutorStatus("SIM-0001", TradingMode.ACTIVE, True, 1, 1, 0, ()),
        state_dir=Path("var/run"),
    )
    return replace(picture, **changes)  # type: ignore[arg-type]


def test_the_screen_escapes_what_a_service_or_broker_wrote() -> None:
    rejected = replace(an_order(), reason="no\x1b[2J margin\nFAKE LINE")

    note = "demo: the gateway said \x1b[2Jbusy"  # notes quote services' replies
    text = screen(a_picture(orders=(rejected,), notes=(note,)))

    assert text.count("\x1b") == CLEAR.count("\x1b")  # only the redraw's own escapes
    assert "no\\x1b[2J margin\\nFAKE LINE" in text
    assert "said \\x1b[2Jbusy" in text
    assert "\x1b" not in summary(a_picture(orders=(rejected,)))


def test_the_screen_shows_prices_conditions_and_orders() -> None:
    text = screen(a_picture(notes=("demo: condition c-1 added",)))

    assert text.startswith(CLEAR)
    assert "MXFL6 22990  TXFL6 23001" in text
    assert "triggered" in text
    assert "M0123456789abcde" in text
    assert "account SIM-0001, mode active, gateway alive" in text
    assert "demo: condition c-1 added" in text


def test_the_screen_says_which_service_did_not_answer() -> None:
    text = screen(a_picture(conditions=None, orders=None, executor=None, prices={}))

    assert "the strategy did not answer" in text
    assert "the gateway did not answer" in text
    assert "waiting for the first tick" in text


def test_the_summary_is_one_line() -> None:
    line = summary(a_picture())

    assert "\n" not in line
    assert line == (
        "aftm run: 12:00:00 | MXFL6 22990  TXFL6 23001 | conditions 1 (1 triggered) "
        "| orders 1 (1 filled)"
    )
