"""The trade lifecycle (trades.py + decisions.py): every transition, buy and sell, and its
invariants under any sequence of events (hypothesis)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftm.domain import limits
from aftm.domain.signals import SignalKind
from aftm.domain.types import Side
from aftm.wire.protocol import TradingMode
from aftm_executor import decisions, risk, trades
from aftm_executor.decisions import Cancel, FetchEntry, Hold, Nothing, Place, Refuse, Situation
from aftm_executor.states import OrderState
from aftm_executor.trades import Leg, Phase, Trade, client_order_id
from tests.builders import a_signal

NOW = 1_000_000 * trades.NS
SIDES = pytest.mark.parametrize("side", [Side.BUY, Side.SELL])


def a_situation(**changes: object) -> Situation:
    base = Situation(
        now_ns=NOW,
        mode=TradingMode.ACTIVE,
        gateway=risk.GatewayState.ALIVE,
        limits=risk.Limits(),
        max_entry_age_ns=5 * trades.NS,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def an_entry_trade(side: Side = Side.BUY, quantity: int = 2, age_s: float = 0.0) -> Trade:
    signal = a_signal(side, quantity=quantity, ts_ns=NOW - int(age_s * trades.NS))
    return trades.from_entry(signal, "ACC1", NOW)


def placed(trade: Trade, situation: Situation | None = None) -> tuple[Trade, trades.Order]:
    decision = decisions.decide(trade, situation or a_situation())
    assert isinstance(decision, Place), decision
    return trades.placed(trade, decision.order, NOW), decision.order


def report(trade: Trade, order: trades.Order, state: OrderState, filled: int) -> Trade:
    return trades.reported(trade, order.client_order_id, state, filled, "", NOW)


def open_trade(side: Side = Side.BUY, filled: int = 2) -> tuple[Trade, trades.Order]:
    trade, entry = placed(an_entry_trade(side))
    final = OrderState.FILLED if filled == 2 else OrderState.CANCELLED
    return report(trade, entry, final, filled), entry


def exit_wanted(trade: Trade) -> Trade:
    return trades.wants_exit(trade, SignalKind.TAKE_PROFIT.value, NOW)


# --- entries ------------------------------------------------------------------------------------


@SIDES
def test_a_fresh_entry_is_placed_once_under_its_signal_id(side: Side) -> None:
    trade = an_entry_trade(side)

    trade, order = placed(trade)

    assert (order.leg, order.attempt, order.side, order.quantity) == (Leg.ENTRY, 1, side, 2)
    assert order.client_order_id == client_order_id(trade.account, trade.entry_signal_id)
    assert trade.phase is Phase.ENTERING
    assert decisions.decide(trade, a_situation()) == Nothing()  # in flight: nothing more


@pytest.mark.parametrize("attempt", [1, 2, 7])
def test_one_signal_on_two_accounts_gets_two_ids_each_the_same_after_a_restart(
    attempt: int,
) -> None:
    signal_id = a_signal().id
    first, second = (client_order_id(a, signal_id, attempt) for a in ("SIM-0001", "SIM-0002"))

    assert first != second
    assert first == client_order_id("SIM-0001", signal_id, attempt)
    for order_id in (first, second):  # a NOTE field's worth, in the shared id shape
        assert limits.check_client_order_id(order_id) == order_id
        assert len(order_id) == 16
    # The account cannot be shifted into the signal id to give another pair the same id.
    assert client_order_id("A", "B:c1:entry") != client_order_id("AB", ":c1:entry")


def test_orders_journaled_under_ids_without_the_account_keep_them_new_ones_name_it() -> None:
    """An upgrade: an entry journaled before ids named their account goes out again under the
    id it was journaled with (the gateway may know it); only orders not yet journaled derive
    the new id."""
    trade = an_entry_trade()
    old_id = "A" + hashlib.sha256(trade.entry_signal_id.encode()).hexdigest()[:15]
    _, order = placed(trade)
    journaled = replace(order, client_order_id=old_id, state=OrderState.UNSENT)
    trade = trades.placed(trade, journaled, NOW)

    again = decisions.decide(trade, a_situation())
    assert isinstance(again, Place)
    assert again.order.client_order_id == old_id
    filled = trades.reported(
        trades.placed(trade, again.order, NOW), old_id, OrderState.FILLED, 2, "", NOW
    )
    _, exit_order = placed(trades.wants_exit(filled, "take_profit", NOW))
    assert exit_order.client_order_id == client_order_id("ACC1", trade.exit_signal_id)


def test_an_entry_waits_for_a_silent_gateway_until_it_is_stale() -> None:
    silent = a_situation(gateway=risk.GatewayState.SILENT)
    decision = decisions.decide(an_entry_trade(), silent)
    assert isinstance(decision, Hold)
    held = trades.held(an_entry_trade(), decision.reason, NOW)

    later = replace(silent, now_ns=NOW + silent.max_entry_age_ns + 1)
    refused = decisions.decide(held, later)

    assert isinstance(refused, Refuse)
    assert refused.reason.startswith("stale")
    assert "gateway is silent" in refused.reason  # the log says why it waited
    placed = decisions.decide(held, replace(silent, gateway=risk.GatewayState.ALIVE))
    assert isinstance(placed, Place)  # back in time: it goes out


@pytest.mark.parametrize(
    ("situation", "reason"),
    [
        (a_situation(mode=TradingMode.HALTED), "risk: trading mode is halted"),
        (a_situation(gateway=risk.GatewayState.LOGGED_OUT), "risk: gateway reports the broker"),
        (a_situation(entries_in_window=60), "risk: order rate"),
        (a_situation(entries_blocked="two broker orders"), "two broker orders"),
    ],
)
def test_an_entry_refused_by_risk_ends_the_trade(situation: Situation, reason: str) -> None:
    decision = decisions.decide(an_entry_trade(), situation)

    assert isinstance(decision, Refuse)
    assert decision.reason.startswith(reason)
    assert trades.refused(an_entry_trade(), decision.reason, NOW).phase is Phase.DONE


def test_a_stale_entry_is_refused_and_an_exit_then_finds_nothing_to_close() -> None:
    trade = an_entry_trade(age_s=6)

    decision = decisions.decide(trade, a_situation())

    assert isinstance(decision, Refuse)
    assert decision.reason.startswith("stale")
    done = exit_wanted(trades.refused(trade, decision.reason, NOW))
    assert done.phase is Phase.DONE
    assert decisions.decide(done, a_situation()) == Nothing()


def test_an_entry_waits_while_the_gateway_was_not_heard_yet() -> None:
    decision = decisions.decide(an_entry_trade(), a_situation(gateway=risk.GatewayState.STARTING))

    assert isinstance(decision, Hold)


@SIDES
def test_an_unsent_entry_goes_out_again_under_the_same_id_only_if_still_fresh(side: Side) -> None:
    trade, entry = placed(an_entry_trade(side))
    trade = report(trade, entry, OrderState.UNKNOWN, 0)
    lost = trades.unsent(trade, entry.client_order_id, NOW)

    again = decisions.decide(lost, a_situation())
    late = decisions.decide(lost, a_situation(now_ns=NOW + 6 * trades.NS))
    halted = decisions.decide(lost, a_situation(mode=TradingMode.HALTED))

    assert isinstance(again, Place)
    assert again.order.client_order_id == entry.client_order_id
    assert isinstance(late, Refuse)
    assert late.reason.startswith("stale")
    assert isinstance(halted, Refuse)  # a resend passes risk, HALTED included
    refused = trades.refused(lost, late.reason, NOW)
    assert refused.phase is Phase.DONE
    assert refused.orders[0].state is OrderState.REJECTED


# --- exits --------------------------------------------------------------------------------------


@SIDES
@pytest.mark.parametrize("filled", [2, 1])
def test_an_exit_closes_what_the_entry_filled(side: Side, filled: int) -> None:
    trade, _ = open_trade(side, filled)

    decision = decisions.decide(exit_wanted(trade), a_situation())

    assert isinstance(decision, Place)
    assert decision.order.side is side.opposite
    assert decision.order.quantity == filled


@SIDES
def test_a_working_entry_is_cancelled_before_its_exit(side: Side) -> None:
    trade, entry = placed(an_entry_trade(side))
    trade = exit_wanted(report(trade, entry, OrderState.PARTIALLY_FILLED, 1))

    first = decisions.decide(trade, a_situation())
    trade = trades.cancel_sent(trade, NOW)
    soon = decisions.decide(trade, a_situation(now_ns=NOW + 1))
    trade = report(trade, entry, OrderState.CANCELLED, 1)
    then = decisions.decide(trade, a_situation())

    assert first == Cancel(entry.client_order_id)
    assert soon == Nothing()  # not asked again at once
    assert isinstance(then, Place)
    assert (then.order.side, then.order.quantity) == (side.opposite, 1)


def test_an_exit_waits_while_its_entry_is_unresolved() -> None:
    trade, entry = placed(an_entry_trade())
    trade = exit_wanted(report(trade, entry, OrderState.UNKNOWN, 0))

    assert decisions.decide(trade, a_situation()) == Nothing()


def test_an_entry_that_filled_nothing_leaves_nothing_to_close() -> None:
    trade, _ = open_trade(filled=0)

    trade = exit_wanted(trade)

    assert trade.phase is Phase.DONE
    assert decisions.decide(trade, a_situation()) == Nothing()


@SIDES
def test_a_partly_filled_exit_retries_the_rest_after_a_backoff_under_a_new_id(side: Side) -> None:
    trade, _ = open_trade(side)
    trade, first = placed(exit_wanted(trade))
    trade = report(trade, first, OrderState.CANCELLED, 1)

    early = decisions.decide(trade, a_situation())
    later = decisions.decide(trade, a_situation(now_ns=trade.retry_at_ns))

    assert trade.phase is Phase.CLOSING
    assert trade.is_unclosed
    assert isinstance(early, Hold)
    assert isinstance(later, Place)
    assert later.order.attempt == 2
    assert later.order.quantity == 1
    assert later.order.client_order_id == client_order_id(trade.account, trade.exit_signal_id, 2)
    assert later.order.client_order_id != first.client_order_id


@pytest.mark.parametrize(
    ("situation", "held_by"),
    [
        (a_situation(mode=TradingMode.HALTED), "halted"),
        (a_situation(gateway=risk.GatewayState.LOGGED_OUT), "logged out"),
    ],
)
def test_an_exit_is_held_never_dropped(situation: Situation, held_by: str) -> None:
    trade, _ = open_trade()
    trade = exit_wanted(trade)

    decision = decisions.decide(trade, situation)
    resumed = decisions.decide(trades.held(trade, "x", NOW), a_situation())

    assert isinstance(decision, Hold)
    assert held_by in decision.reason
    assert isinstance(resumed, Place)


@pytest.mark.parametrize(
    "situation",
    [
        a_situation(mode=TradingMode.REDUCING),
        a_situation(entries_in_window=10_000),
        a_situation(entries_blocked="alarm"),
        a_situation(gateway=risk.GatewayState.SILENT),
    ],
)
def test_an_exit_goes_out_where_an_entry_would_not(situation: Situation) -> None:
    trade, _ = open_trade()

    assert isinstance(decisions.decide(exit_wanted(trade), situation), Place)


def test_a_flatten_closes_even_while_halted() -> None:
    trade, _ = open_trade()
    trade = trades.wants_exit(trade, "flatten", NOW, flatten=True)

    assert isinstance(decisions.decide(trade, a_situation(mode=TradingMode.HALTED)), Place)


def test_a_refused_exit_backs_off_longer_each_time_up_to_a_cap() -> None:
    assert [trades.backoff_ns(n) // (trades.NS // 2) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert trades.backoff_ns(100) == trades.BACKOFF_MAX_NS


def test_an_exit_over_the_per_order_limit_goes_in_several_attempts() -> None:
    trade, _ = open_trade()
    trade = exit_wanted(trade)
    small = a_situation(limits=risk.Limits(max_lots_per_order=1))

    trade, first = placed(trade, small)
    trade = report(trade, first, OrderState.FILLED, 1)
    trade, second = placed(trade, small)
    trade = report(trade, second, OrderState.FILLED, 1)

    assert (first.quantity, second.quantity) == (1, 1)
    assert trade.phase is Phase.DONE


# --- an exit before its entry ------------------------------------------------------------------


def test_an_exit_before_its_entry_fetches_it_then_places_neither() -> None:
    exit_signal = a_signal(Side.SELL, kind=SignalKind.STOP_LOSS, ts_ns=NOW)
    trade = trades.from_exit(exit_signal, NOW)

    first = decisions.decide(trade, a_situation())
    trade = trades.with_entry(trade, a_signal(Side.BUY, ts_ns=NOW), "ACC1")
    then = decisions.decide(trade, a_situation())

    assert first == FetchEntry(trade.entry_signal_id)
    assert isinstance(then, Refuse)
    assert trades.refused(trade, then.reason, NOW).phase is Phase.DONE


def test_an_exit_whose_entry_the_strategy_never_had_is_done() -> None:
    trade = trades.from_exit(a_signal(Side.SELL, kind=SignalKind.TAKE_PROFIT, ts_ns=NOW), NOW)

    assert trades.entry_missing(trade, NOW).phase is Phase.DONE


# --- invariants under any sequence of events -----------------------------------------------------

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["decide", "report", "exit", "flatten", "clock", "unsent", "mode"]),
        st.integers(min_value=0, max_value=5),
        st.sampled_from(list(OrderState)),
        st.sampled_from(list(TradingMode)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from(list(Side)), quantity=st.integers(1, 5), events=EVENTS)
def test_invariants_hold_under_any_events(
    side: Side, quantity: int, events: list[tuple[str, int, OrderState, TradingMode]]
) -> None:
    trade = an_entry_trade(side, quantity)
    situation = a_situation()
    ids_sent: list[str] = []
    for kind, number, state, mode in events:
        if kind == "mode":
            situation = replace(situation, mode=mode)
        elif kind == "clock":
            situation = replace(situation, now_ns=situation.now_ns + number * trades.NS)
        elif kind == "exit":
            trade = exit_wanted(trade)
        elif kind == "flatten":
            trade = trades.wants_exit(trade, "flatten", NOW, flatten=True)
        elif kind in ("report", "unsent") and trade.orders:
            order = trade.orders[number % len(trade.orders)]
            filled = (
                min(number, order.quantity) if state is not OrderState.FILLED else order.quantity
            )
            if kind == "unsent":
                trade = trades.unsent(trade, order.client_order_id, situation.now_ns)
            else:
                trade = trades.reported(
                    trade, order.client_order_id, state, filled, "", situation.now_ns
                )
        elif kind == "decide":
            was_flat_done = trade.phase is Phase.DONE
            decision = decisions.decide(trade, situation)
            if was_flat_done:
                assert isinstance(decision, Nothing), "a done trade sends nothing"
            if isinstance(decision, Place):
                is_resend = trade.order(decision.order.client_order_id) is not None
                if not is_resend:
                    assert decision.order.client_order_id not in ids_sent
                    ids_sent.append(decision.order.client_order_id)
                trade = trades.placed(trade, decision.order, situation.now_ns)
                if decision.order.leg is Leg.EXIT:
                    # Never more closed than opened, counting what is still working.
                    asked = sum(
                        o.quantity if not o.is_final else o.filled
                        for o in trade.leg_orders(Leg.EXIT)
                    )
                    assert asked <= trade.entry_filled
            elif isinstance(decision, Refuse):
                trade = trades.refused(trade, decision.reason, situation.now_ns)
            elif isinstance(decision, Hold):
                trade = trades.held(trade, decision.reason, situation.now_ns)
        # One client order id per order, ever; at most one entry order.
        order_ids = [order.client_order_id for order in trade.orders]
        assert len(order_ids) == len(set(order_ids))
        assert len(trade.leg_orders(Leg.ENTRY)) <= 1
        assert trade.open_quantity >= 0
