"""The PFCF adapter's pure parts: vendor records to domain values and back, and order state
from reports that come late, twice or out of order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OpenClose, OrderStatus, OrderType, Side, TimeInForce
from aftm.wire.protocol import OrderUpdated
from aftm_gateway.pfcf import translate
from aftm_gateway.pfcf.reports import book_from, expect, is_answered, with_match, with_reply
from aftm_gateway.pfcf.tracker import OrderTracker
from aftm_gateway.pfcf.translate import (
    DecimalValue,
    EnumValue,
    Match,
    PositionRecord,
    Reply,
    login_outcome,
    match_from,
    order_fields,
    position_from,
    positions_of,
    reply_from,
    send_refusal,
    tick_from,
)

ACCOUNT = "SIM-0001"


def an_order(
    *,
    side: Side = Side.BUY,
    quantity: int = 2,
    order_type: OrderType = OrderType.MARKET,
    price: Decimal | None = None,
    time_in_force: TimeInForce = TimeInForce.IOC,
    open_close: OpenClose = OpenClose.AUTO,
) -> PlaceOrder:
    return PlaceOrder(
        client_order_id="A1",
        account=ACCOUNT,
        symbol="TXFL6",
        side=side,
        quantity=quantity,
        order_type=order_type,
        price=price,
        time_in_force=time_in_force,
        open_close=open_close,
    )


def reply_fields(**changes: str) -> dict[str, str]:
    fields = {
        "orderNo": "D0000001",
        "investorAcno": ACCOUNT,
        "BS": "B",
        "productId": "TXFL6",
        "orderQty": "2",
        "orderStatus": "委託成功",
        "note": "A1",
    }
    return fields | changes


def match_fields(**changes: str) -> dict[str, str]:
    fields = {
        "orderNo": "D0000001",
        "investorAcno": ACCOUNT,
        "BS": "B",
        "productId": "TXFL6",
        "MatchPrice": "23005",
        "MatchQty": "2",
        "matchseq": "1",
        "note": "A1",
    }
    return fields | changes


def a_reply(status: OrderStatus = OrderStatus.ACCEPTED, reason: str = "") -> Reply:
    return Reply("D0000001", ACCOUNT, "TXFL6", Side.BUY, 2, status, reason, "A1")


def a_match(seq: str = "1", quantity: int = 2, price: int = 23_005) -> Match:
    return Match("D0000001", seq, ACCOUNT, "TXFL6", Side.BUY, Decimal(price), quantity, "A1")


def position_fields(count: str, recordno: str, symbol: str, long: str, short: str) -> list[str]:
    values = dict.fromkeys(translate.POSITION_FIELDS, "0")
    values |= {"count": count, "recordno": recordno, "investorAcno": ACCOUNT, "ProductId": symbol}
    values |= {"NowOTQtyB": long, "NowOTQtyS": short, "AvgCostB": "23000.5", "AvgCostS": "23010"}
    return [values[name] for name in translate.POSITION_FIELDS]


# --- orders out --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            an_order(),
            {"BS": "Buy", "ORDERTYPE": "Market", "TIMEINFORCE": "IOC", "OPENCLOSE": "AUTO"},
        ),
        (
            an_order(
                side=Side.SELL,
                order_type=OrderType.LIMIT,
                price=Decimal(23_010),
                time_in_force=TimeInForce.ROD,
                open_close=OpenClose.CLOSE,
            ),
            {"BS": "Sell", "ORDERTYPE": "Limit", "TIMEINFORCE": "ROD", "OPENCLOSE": "N"},
        ),
        (an_order(time_in_force=TimeInForce.FOK, open_close=OpenClose.OPEN), {"OPENCLOSE": "Y"}),
    ],
)
def test_order_fields_name_the_vendor_enumerations(
    order: PlaceOrder, expected: dict[str, str]
) -> None:
    fields = order_fields(order)

    members = {name: value.member for name, value in fields.items() if isinstance(value, EnumValue)}
    assert members.items() >= expected.items()
    assert fields["DTRADE"] == EnumValue("DayTradeEnum", "N")
    assert (fields["ACTNO"], fields["PRODUCTID"], fields["ORDERQTY"]) == (ACCOUNT, "TXFL6", 2)
    assert fields["NOTE"] == "A1"  # the client order id rides in NOTE


@pytest.mark.parametrize(
    ("order", "price"),
    [
        (an_order(), "0"),
        (an_order(order_type=OrderType.LIMIT, price=Decimal("23010")), "23010"),
    ],
)
def test_a_price_is_decimal_text_never_a_float(order: PlaceOrder, price: str) -> None:
    assert order_fields(order)["PRICE"] == DecimalValue(price)


def test_cancel_fields() -> None:
    assert translate.cancel_fields(ACCOUNT, "D0000001", "A1") == {
        "ACTNO": ACCOUNT,
        "ORDERNO": "D0000001",
        "REPLACETYPE": EnumValue("ReplaceTypeEnum", "Cancel"),
        "NOTE": "A1",
    }


@pytest.mark.parametrize(
    ("sent", "code", "message", "refusal"),
    [
        (True, "0", "", None),
        (False, "E101", "trade connection down", "trade connection down (code E101)"),
        (False, "", "", "not sent (code ?)"),
    ],
)
def test_send_refusal(sent: bool, code: str, message: str, refusal: str | None) -> None:
    assert send_refusal(sent, code, message) == refusal


# --- session and quotes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("登入成功", True),
        ("Login success", True),
        ("登入失敗:帳號或密碼錯誤", False),
        ("login error: locked", False),
        ("連線中", None),
    ],
)
def test_login_outcome(message: str, outcome: bool | None) -> None:
    assert login_outcome(message) is outcome


def test_a_trade_tick() -> None:
    fields = ["TXFL6", "090000000", "090000000", "23005", "1", "1", "3", "120", "", ""]

    assert tick_from(fields, now_ns=7) == Tick("TXFL6", 23_005, 3, ts_ns=7)
    assert tick_from([*fields[:3], "23005.00", *fields[4:]], 7).price == 23_005


@pytest.mark.parametrize(
    ("price", "quantity", "error"),
    [
        ("23005.5", "1", "MatchPrice '23005.5' is not a whole number"),
        ("abc", "1", "MatchPrice 'abc' is not a number"),
        ("0", "1", "is not a whole number of points of at least 1"),
        ("NaN", "1", "is not a number"),
        ("23005", "-1", "MatchQuantity '-1' is not a whole count"),
    ],
)
def test_unreadable_ticks_are_refused(price: str, quantity: str, error: str) -> None:
    fields = ["TXFL6", "", "", price, "", "", quantity, "", "", ""]

    with pytest.raises(ValueError, match=error):
        tick_from(fields, 0)


# --- reports in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "reason"),
    [
        ("委託成功", OrderStatus.ACCEPTED, ""),
        ("部分成交", OrderStatus.PARTIALLY_FILLED, ""),
        ("完全成交", OrderStatus.FILLED, ""),
        (
            "刪單成功:ioc limit 1000 not reachable",
            OrderStatus.CANCELLED,
            "ioc limit 1000 not reachable",
        ),
        (
            f"委託失敗{translate.FULLWIDTH_COLON}injected rejection",
            OrderStatus.REJECTED,
            "injected rejection",
        ),
    ],
)
def test_reply_status_and_reason(text: str, status: OrderStatus, reason: str) -> None:
    reply = reply_from(reply_fields(orderStatus=text))

    assert (reply.status, reply.reason) == (status, reason)
    assert (reply.broker_order_id, reply.note, reply.side, reply.quantity) == (
        "D0000001",
        "A1",
        Side.BUY,
        2,
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"orderStatus": "有點奇怪"}, "unknown orderStatus"),
        ({"BS": "X"}, "unknown BS"),
        ({"orderNo": " "}, "orderNo is empty"),
        ({"orderQty": "2.5"}, "orderQty '2.5' is not a whole count"),
    ],
)
def test_unreadable_replies_are_refused(changes: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        reply_from(reply_fields(**changes))


def test_a_match_and_its_fill_id() -> None:
    match = match_from(match_fields(BS="S", MatchPrice="23004.0"))

    assert (match.side, match.price, match.quantity, match.fill_id) == (
        Side.SELL,
        Decimal("23004.0"),
        2,
        "D0000001-1",
    )
    with pytest.raises(ValueError, match="not a fill"):
        match_from(match_fields(MatchQty="0"))


def test_positions_are_netted_per_symbol_and_flat_ones_left_out() -> None:
    records = [
        position_from(position_fields("3", "1", "TXFL6", "2", "0")),
        position_from(position_fields("3", "2", "MXFL6", "0", "1")),
        position_from(position_fields("3", "3", "TMFL6", "1", "1")),
    ]

    assert positions_of(records) == (
        Position(ACCOUNT, "MXFL6", -1, Decimal(23_010)),
        Position(ACCOUNT, "TXFL6", 2, Decimal("23000.5")),
    )


def test_no_positions_is_one_record_of_count_zero() -> None:
    record = position_from(position_fields("0", "0", "", "", ""))

    assert (record.count, record.account) == (0, ACCOUNT)
    assert positions_of([record]) == ()


def test_split_records_of_one_symbol_add_up_with_a_weighted_average() -> None:
    def part(quantity: int, average: str) -> PositionRecord:
        return PositionRecord(2, 1, ACCOUNT, "TXFL6", quantity, 0, Decimal(average), Decimal(0))

    assert positions_of([part(1, "23000"), part(2, "23003")]) == (
        Position(ACCOUNT, "TXFL6", 3, Decimal(23_002)),
    )
    assert positions_of([part(1, "23000"), part(2, "23001")])[0].average_price == Decimal(
        "23000.6667"
    )


# --- order state from reports ------------------------------------------------------------------


def test_a_market_order_accepted_then_filled() -> None:
    tracker = OrderTracker()
    tracker.expect(an_order(), now_ns=1)

    accepted = tracker.on_reply(a_reply(), now_ns=2)
    filled = tracker.on_match(a_match(), now_ns=3)
    confirmed = tracker.on_reply(a_reply(OrderStatus.FILLED), now_ns=4)

    assert [event.order.status for event in accepted if isinstance(event, OrderUpdated)] == [
        OrderStatus.ACCEPTED
    ]
    assert [type(event) for event in filled] == [OrderFilled, OrderUpdated]
    fill, update = filled
    assert isinstance(fill, OrderFilled)
    assert isinstance(update, OrderUpdated)
    assert (fill.fill_id, fill.quantity, fill.price) == ("D0000001-1", 2, Decimal(23_005))
    assert (update.order.status, update.order.filled_quantity) == (OrderStatus.FILLED, 2)
    assert update.order.average_price == Decimal(23_005)
    assert confirmed == []  # nothing new


def test_a_duplicated_match_is_counted_once() -> None:
    tracker = OrderTracker()
    tracker.expect(an_order(), 1)
    tracker.on_match(a_match(), 2)

    again = tracker.on_match(a_match(), 3)

    tracked = tracker.get("A1")
    assert again == []
    assert tracker.duplicates == 1
    assert tracked is not None
    assert tracked.filled_quantity == 2


def test_reports_in_reverse_order_never_move_an_order_back() -> None:
    tracker = OrderTracker()
    tracker.expect(an_order(), 1)

    events = [
        *tracker.on_match(a_match(), 2),
        *tracker.on_reply(a_reply(OrderStatus.FILLED), 3),
        *tracker.on_reply(a_reply(OrderStatus.ACCEPTED), 4),
    ]

    statuses = [event.order.status for event in events if isinstance(event, OrderUpdated)]
    tracked = tracker.get("A1")
    assert statuses == [OrderStatus.FILLED]
    assert tracked is not None
    assert tracked.status is OrderStatus.FILLED


def test_filled_is_believed_once_the_matches_add_up() -> None:
    tracker = OrderTracker()
    tracker.expect(an_order(quantity=3), 1)

    tracker.on_reply(a_reply(OrderStatus.FILLED), 2)
    before = tracker.get("A1")
    tracker.on_match(a_match("1", quantity=1, price=23_000), 3)
    partly = tracker.get("A1")
    tracker.on_match(a_match("2", quantity=2, price=23_003), 4)
    after = tracker.get("A1")

    assert before is not None
    assert before.status is OrderStatus.ACCEPTED
    assert partly is not None
    assert partly.status is OrderStatus.PARTIALLY_FILLED
    assert after is not None
    assert after.status is OrderStatus.FILLED
    assert after.average_price == Decimal(23_002)


def test_a_match_before_any_reply_is_a_fill_without_an_order_update() -> None:
    tracker = OrderTracker()  # an order placed before a restart: never expected here

    events = tracker.on_match(a_match(), 1)

    assert [type(event) for event in events] == [OrderFilled]
    assert [type(event) for event in tracker.on_reply(a_reply(OrderStatus.FILLED), 2)] == [
        OrderUpdated
    ]


def test_a_rejection_keeps_its_reason_and_is_final() -> None:
    rejected = with_reply(None, a_reply(OrderStatus.REJECTED, "injected rejection"), 1)
    later = with_reply(rejected, a_reply(OrderStatus.ACCEPTED), 2)

    assert (later.status, later.reason) == (OrderStatus.REJECTED, "injected rejection")


@pytest.mark.parametrize(
    ("order", "status", "answered"),
    [
        (an_order(), OrderStatus.ACCEPTED, False),  # a market order is answered when done
        (an_order(), OrderStatus.FILLED, True),
        (an_order(), OrderStatus.REJECTED, True),
        (
            an_order(order_type=OrderType.LIMIT, price=Decimal(1), time_in_force=TimeInForce.ROD),
            OrderStatus.ACCEPTED,
            True,
        ),
        (
            an_order(order_type=OrderType.LIMIT, price=Decimal(1), time_in_force=TimeInForce.IOC),
            OrderStatus.ACCEPTED,
            False,
        ),
    ],
)
def test_is_answered(order: PlaceOrder, status: OrderStatus, answered: bool) -> None:
    tracked = with_reply(expect(order, 1), a_reply(status), 2)
    if status is OrderStatus.FILLED:
        tracked = with_match(tracked, a_match(), 3) or tracked

    assert is_answered(tracked, order) is answered
    assert is_answered(None, order) is False


def test_a_query_answer_becomes_orders_oldest_first() -> None:
    second = Reply("D0000002", ACCOUNT, "TXFL6", Side.SELL, 1, OrderStatus.ACCEPTED, "", "A2")

    book = book_from([a_reply(OrderStatus.FILLED), second], [a_match(), a_match()], now_ns=5)

    assert [(order.note, order.status, order.filled_quantity) for order in book] == [
        ("A1", OrderStatus.FILLED, 2),
        ("A2", OrderStatus.ACCEPTED, 0),
    ]
