"""The PFCF vendor's names and codes, and pure functions between its records and ours.

Everything the vendor API calls a field, an enumeration member or a status text is named here
and nowhere else. The vendor hands over text (prices, quantities, counts) in records with fixed
field names; the callbacks (callbacks.py) copy those fields out as plain strings, and the
functions below turn them into domain values, or raise ValueError for a record they cannot read.

The status texts, side codes and login messages are those of the test double (tests/dotnet),
modelled on what the replaced system printed. Check them against the real DLL before trading
(README: "PFCF broker"); an unknown status is refused loudly rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from aftm.domain.market import Tick
from aftm.domain.orders import OrderFilled, PlaceOrder
from aftm.domain.positions import Position
from aftm.domain.types import OpenClose, OrderStatus, OrderType, Side, TimeInForce

# --- record fields, as the vendor names them --------------------------------------------------
# Positional arguments of OnTickDataTrade and OnPositionData, attributes of the reply and match
# records: the vendor's spelling, in the vendor's order.
# fmt: off
TICK_FIELDS = (
    "COMMODITYID", "InfoTime", "MatchTime", "MatchPrice", "MatchBuyCnt", "MatchSellCnt",
    "MatchQuantity", "MatchTotalQty", "MatchPriceData", "MatchQtyData",
)
REPLY_FIELDS = ("orderNo", "investorAcno", "BS", "productId", "orderQty", "orderStatus", "note")
MATCH_FIELDS = (
    "orderNo", "investorAcno", "BS", "productId", "MatchPrice", "MatchQty", "matchseq", "note",
)
POSITION_FIELDS = (
    "count", "recordno", "investorAcno", "ProductId", "productKind", "OTQtyB", "OTQtyS",
    "NowOrderQtyB", "NowOrderQtyS", "NowMatchQtyB", "NowMatchQtyS", "TodayEnd", "NowOTQtyB",
    "NowOTQtyS", "RealPrice", "AvgCostB", "AvgCostS", "PriceDiffB", "PriceDiffS", "PricePL",
    "Curren", "LiquidationPL",
)
# fmt: on
FUTURE_SYMBOL_FIELD = "COMMODITYID"

# --- codes -------------------------------------------------------------------------------------
SIDES = {"B": Side.BUY, "S": Side.SELL}
ORDER_STATUSES = {
    "委託成功": OrderStatus.ACCEPTED,
    "部分成交": OrderStatus.PARTIALLY_FILLED,
    "完全成交": OrderStatus.FILLED,
    "刪單成功": OrderStatus.CANCELLED,
    "委託失敗": OrderStatus.REJECTED,
}
LOGIN_FAILED = ("失敗", "錯誤", "fail", "error")
LOGIN_SUCCEEDED = ("成功", "success")
_SIDE_MEMBERS = {Side.BUY: "Buy", Side.SELL: "Sell"}
_ORDER_TYPE_MEMBERS = {OrderType.MARKET: "Market", OrderType.LIMIT: "Limit"}
_TIF_MEMBERS = {TimeInForce.ROD: "ROD", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_OPEN_CLOSE_MEMBERS = {OpenClose.OPEN: "Y", OpenClose.CLOSE: "N", OpenClose.AUTO: "AUTO"}
AVERAGE_QUANTUM = Decimal("0.0001")
FULLWIDTH_COLON = "\uff1a"  # status texts may separate the reason with it


@dataclass(frozen=True, slots=True)
class EnumValue:
    """A member of one of the vendor's enumerations (DTrade.<enum>.<member>)."""

    enum: str
    member: str


@dataclass(frozen=True, slots=True)
class DecimalValue:
    """A System.Decimal, written as invariant-culture text (never a float)."""

    text: str


FieldValue = str | int | EnumValue | DecimalValue


@dataclass(frozen=True, slots=True)
class Reply:
    """One order report (OnReply, OnQueryReply)."""

    broker_order_id: str
    account: str
    symbol: str
    side: Side
    quantity: int
    status: OrderStatus
    reason: str
    note: str


@dataclass(frozen=True, slots=True)
class Match:
    """One fill report (OnMatch, OnQueryMatch); `fill_id` is the same on every repeat of it."""

    broker_order_id: str
    match_seq: str
    account: str
    symbol: str
    side: Side
    price: Decimal
    quantity: int
    note: str

    @property
    def fill_id(self) -> str:
        return f"{self.broker_order_id}-{self.match_seq}"


def fill_of(match: Match, ts_ns: int) -> OrderFilled:
    """The fill a match reports; `ts_ns`: when it was heard (a match carries no usable time)."""
    return OrderFilled(
        client_order_id=match.note,
        broker_order_id=match.broker_order_id,
        fill_id=match.fill_id,
        symbol=match.symbol,
        side=match.side,
        quantity=match.quantity,
        price=match.price,
        ts_ns=ts_ns,
    )


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One OnPositionData record: `count` records make one answer, numbered by `recordno`."""

    count: int
    recordno: int
    account: str
    symbol: str
    long_quantity: int
    short_quantity: int
    long_average: Decimal
    short_average: Decimal


def order_fields(order: PlaceOrder) -> dict[str, FieldValue]:
    """DTrade.OrderObject's fields for `order`; the client order id rides in NOTE."""
    price = order.price if order.order_type is OrderType.LIMIT and order.price is not None else 0
    return {
        "ACTNO": order.account,
        "PRODUCTID": order.symbol,
        "BS": EnumValue("SideEnum", _SIDE_MEMBERS[order.side]),
        "ORDERTYPE": EnumValue("OrderTypeEnum", _ORDER_TYPE_MEMBERS[order.order_type]),
        "PRICE": DecimalValue(str(price)),
        "ORDERQTY": order.quantity,
        "TIMEINFORCE": EnumValue("TimeInForceEnum", _TIF_MEMBERS[order.time_in_force]),
        "OPENCLOSE": EnumValue("OpenCloseEnum", _OPEN_CLOSE_MEMBERS[order.open_close]),
        "DTRADE": EnumValue("DayTradeEnum", "N"),
        "NOTE": order.client_order_id,
    }


def cancel_fields(account: str, broker_order_id: str, note: str) -> dict[str, FieldValue]:
    """DTrade.ReplaceObject's fields to cancel one open order."""
    return {
        "ACTNO": account,
        "ORDERNO": broker_order_id,
        "REPLACETYPE": EnumValue("ReplaceTypeEnum", "Cancel"),
        "NOTE": note,
    }


def send_refusal(is_send: bool, error_code: str, error_message: str) -> str | None:
    """Why Order/Replace did not send (nothing reached the exchange), None if it did."""
    if is_send:
        return None
    return f"{error_message or 'not sent'} (code {error_code or '?'})"


def login_outcome(message: str) -> bool | None:
    """True for a login that succeeded, False for one that failed, None for progress news."""
    lowered = message.lower()
    if any(word in lowered for word in LOGIN_FAILED):
        return False
    if any(word in lowered for word in LOGIN_SUCCEEDED):
        return True
    return None


def tick_from(fields: Sequence[str], now_ns: int) -> Tick:
    """An OnTickDataTrade's arguments (TICK_FIELDS order) as a tick received at `now_ns`."""
    values = dict(zip(TICK_FIELDS, fields, strict=True))
    symbol = values["COMMODITYID"].strip()
    if not symbol:
        raise ValueError("tick without a COMMODITYID")
    quantity = _count(values["MatchQuantity"] or "0", "MatchQuantity")
    return Tick(symbol, whole_points(values["MatchPrice"], "MatchPrice"), quantity, now_ns)


def reply_from(fields: Mapping[str, str]) -> Reply:
    """An order report's REPLY_FIELDS as a Reply; the reason follows the status text's colon."""
    status_text, _, reason = fields["orderStatus"].replace(FULLWIDTH_COLON, ":").partition(":")
    status = ORDER_STATUSES.get(status_text.strip())
    if status is None:
        raise ValueError(f"unknown orderStatus {fields['orderStatus']!r}")
    return Reply(
        broker_order_id=_required(fields, "orderNo"),
        account=fields["investorAcno"].strip(),
        symbol=fields["productId"].strip(),
        side=_side(fields["BS"]),
        quantity=_count(fields["orderQty"], "orderQty"),
        status=status,
        reason=reason.strip(),
        note=fields["note"].strip(),
    )


def match_from(fields: Mapping[str, str]) -> Match:
    """A fill report's MATCH_FIELDS as a Match."""
    quantity = _count(fields["MatchQty"], "MatchQty")
    if quantity < 1:
        raise ValueError(f"MatchQty {fields['MatchQty']!r} is not a fill")
    return Match(
        broker_order_id=_required(fields, "orderNo"),
        match_seq=_required(fields, "matchseq"),
        account=fields["investorAcno"].strip(),
        symbol=fields["productId"].strip(),
        side=_side(fields["BS"]),
        price=_decimal(fields["MatchPrice"], "MatchPrice"),
        quantity=quantity,
        note=fields["note"].strip(),
    )


def position_from(fields: Sequence[str]) -> PositionRecord:
    """An OnPositionData's arguments (POSITION_FIELDS order); count 0 means "no positions"."""
    values = dict(zip(POSITION_FIELDS, fields, strict=True))
    count = _count(values["count"], "count")
    if count == 0:
        none = Decimal(0)
        return PositionRecord(0, 0, values["investorAcno"].strip(), "", 0, 0, none, none)
    return PositionRecord(
        count=count,
        recordno=_count(values["recordno"], "recordno"),
        account=values["investorAcno"].strip(),
        symbol=_required(values, "ProductId"),
        long_quantity=_count(values["NowOTQtyB"] or "0", "NowOTQtyB"),
        short_quantity=_count(values["NowOTQtyS"] or "0", "NowOTQtyS"),
        long_average=_decimal(values["AvgCostB"] or "0", "AvgCostB"),
        short_average=_decimal(values["AvgCostS"] or "0", "AvgCostS"),
    )


def positions_of(records: Iterable[PositionRecord]) -> tuple[Position, ...]:
    """Net open positions from one answer's records, by symbol; flat symbols are left out.

    A symbol may come in several records (e.g. per product kind): quantities add up and the
    averages are weighted by quantity.
    """
    books: dict[tuple[str, str], list[PositionRecord]] = {}
    for record in records:
        if record.count:
            books.setdefault((record.account, record.symbol), []).append(record)
    positions = []
    for (account, symbol), parts in sorted(books.items()):
        longs = sum(part.long_quantity for part in parts)
        shorts = sum(part.short_quantity for part in parts)
        net = longs - shorts
        if net == 0:
            continue
        held = [
            (part.long_quantity, part.long_average)
            if net > 0
            else (part.short_quantity, part.short_average)
            for part in parts
        ]
        quantity = sum(count for count, _ in held)
        total = sum((average * count for count, average in held), Decimal(0))
        average = total / quantity if quantity else Decimal(0)
        positions.append(Position(account, symbol, net, tidy(average)))
    return tuple(positions)


def whole_points(text: str, field: str) -> int:
    """A price in whole points (TAIFEX index futures trade in 1-point steps)."""
    price = _decimal(text, field)
    if price != price.to_integral_value() or price < 1:
        raise ValueError(f"{field} {text!r} is not a whole number of points of at least 1")
    return int(price)


def tidy(value: Decimal) -> Decimal:
    """Four decimals at most, and a whole number written as one (as the sim reports averages)."""
    value = value.quantize(AVERAGE_QUANTUM)
    return Decimal(int(value)) if value == value.to_integral_value() else value.normalize()


def _decimal(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{field} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{field} {text!r} is not a number")
    return value


def _count(text: str, field: str) -> int:
    value = _decimal(text, field)
    if value != value.to_integral_value() or value < 0:
        raise ValueError(f"{field} {text!r} is not a whole count")
    return int(value)


def _side(text: str) -> Side:
    side = SIDES.get(text.strip())
    if side is None:
        raise ValueError(f"unknown BS {text!r}")
    return side


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields[name].strip()
    if not value:
        raise ValueError(f"{name} is empty")
    return value
