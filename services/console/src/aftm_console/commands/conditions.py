"""Support/resistance conditions at the strategy: add (checked against the gateway), list, rm."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from aftm.domain import limits
from aftm.domain.conditions import Condition, Stage, condition_from_fields
from aftm.errors import InvalidInput
from aftm.wire.protocol import (
    AddCondition,
    ConditionList,
    FutureList,
    ListFutures,
    RegisterItem,
    RemoveCondition,
)
from aftm_console.commands.common import live, new_condition_id
from aftm_console.errors import ServiceDown
from aftm_console.paging import every_condition
from aftm_console.parsing import Subparsers, add_json_flag
from aftm_console.render import say, say_json, say_table, warn
from aftm_console.services import Service, Services

# Options named like the condition fields; their text goes through condition_from_fields.
_FIELDS = (
    "symbol",
    "action",
    "trigger_price",
    "quantity",
    "turning_point",
    "take_profit_point",
    "stop_loss_point",
    "id",
)


# --- operations (the menu and `aftm run --demo` call these too) ------------------------------


def add_condition(services: Services, fields: Mapping[str, object]) -> Condition:
    """Validate `fields`, make sure the gateway lists and streams the symbol, then add it."""
    condition = condition_from_fields(fields, default_id=new_condition_id())
    skipped = _prepare_symbol(services, condition.symbol)
    # Not retried: a repeat of an add that did arrive would be refused as a duplicate id.
    added = services.ask(Service.STRATEGY, AddCondition(condition), Condition)
    say(f"condition {added.id} added: {describe(added)}")
    if skipped:
        warn(skipped)
    return added


def show_conditions(services: Services, *, as_json: bool = False) -> ConditionList:
    listed = every_condition(services)
    if as_json:
        say_json([condition_json(c) for c in listed.conditions])
        return listed
    rows = [
        (
            c.id,
            c.symbol,
            c.action,
            c.quantity,
            c.trigger_price,
            c.order_price,
            c.take_profit_price,
            c.stop_loss_price,
            c.is_following,
            c.stage,
        )
        for c in listed.conditions
    ]
    headers = ("id", "symbol", "action", "qty", "trigger", "order", "take profit", "stop loss")
    say_table((*headers, "following", "stage"), rows, "no conditions")
    return listed


def remove_condition(services: Services, condition_id: str) -> Condition:
    condition_id = limits.check_id(condition_id.strip(), "id")  # a stored one may be longer
    removed = services.ask(Service.STRATEGY, RemoveCondition(condition_id), Condition)
    say(f"condition {removed.id} removed (it was {removed.stage})")
    if removed.stage is Stage.ENTERED:
        warn(f"{removed.id} had entered: its position stays open until closed by hand")
    return removed


def describe(c: Condition) -> str:
    trailing = ", following" if c.is_following else ""
    return (
        f"{c.action} {c.quantity} {c.symbol} when triggered at {c.trigger_price} "
        f"(turning point {c.turning_point}{trailing}): order {c.order_price}, "
        f"take profit {c.take_profit_price}, stop loss {c.stop_loss_price}"
    )


def condition_json(c: Condition) -> dict[str, object]:
    return {
        "id": c.id,
        "symbol": c.symbol,
        "action": c.action.value,
        "trigger_price": c.trigger_price,
        "quantity": c.quantity,
        "turning_point": c.turning_point,
        "take_profit_point": c.take_profit_point,
        "stop_loss_point": c.stop_loss_point,
        "is_following": c.is_following,
        "stage": c.stage.value,
        "order_price": c.order_price,
        "take_profit_price": c.take_profit_price,
        "stop_loss_price": c.stop_loss_price,
    }


def _prepare_symbol(services: Services, symbol: str) -> str:
    """Refuse a symbol the gateway does not list; register it so its ticks reach the strategy.

    A gateway that does not answer cannot check anything: the condition is still added (the
    strategy keeps it), and what was skipped is returned to be told once it has been.
    """
    try:
        listed = services.ask(Service.GATEWAY, ListFutures(), FutureList, retries=1)
    except ServiceDown as down:
        return f"{down}; so {symbol} was neither checked nor registered for ticks"
    future = next((f for f in listed.futures if f.symbol == symbol), None)
    if future is None:
        known = ", ".join(f.symbol for f in listed.futures) or "none"
        raise InvalidInput("symbol", f"{symbol!r} is not listed at the gateway (listed: {known})")
    if not future.registered:
        services.ask(Service.GATEWAY, RegisterItem(symbol), FutureList, retries=1)
        say(f"registered {symbol} at the gateway so its ticks reach the strategy")
    return ""


# --- subcommands -----------------------------------------------------------------------------


def add_condition_commands(commands: Subparsers) -> None:
    parser = commands.add_parser("conditions", help="add, list or remove conditions")
    actions: Subparsers = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a condition (checked against the gateway)")
    add.add_argument("--symbol", required=True, help="e.g. TXFL6")
    add.add_argument("--action", required=True, choices=("buy", "sell"))
    add.add_argument("--trigger-price", required=True, metavar="POINTS")
    add.add_argument("--quantity", required=True, metavar="LOTS")
    add.add_argument("--turning-point", metavar="POINTS", help="default 15")
    add.add_argument("--take-profit-point", metavar="POINTS", help="default 90")
    add.add_argument("--stop-loss-point", metavar="POINTS", help="default 30")
    add.add_argument("--following", action="store_true", help="trail the trigger (default off)")
    add.add_argument("--id", help='default: "c-" and 8 random hex digits')
    add.set_defaults(handler=live(_add))
    listing = actions.add_parser("list", help="every condition and its stage")
    add_json_flag(listing)
    listing.set_defaults(handler=live(_list))
    remove = actions.add_parser("rm", help="remove condition ID")
    remove.add_argument("condition_id", metavar="ID")
    remove.set_defaults(handler=live(_remove))


def _add(services: Services, args: argparse.Namespace) -> int:
    fields: dict[str, object] = {
        name: getattr(args, name) for name in _FIELDS if getattr(args, name) is not None
    }
    fields["is_following"] = bool(args.following)
    add_condition(services, fields)
    return 0


def _list(services: Services, args: argparse.Namespace) -> int:
    show_conditions(services, as_json=args.json)
    return 0


def _remove(services: Services, args: argparse.Namespace) -> int:
    remove_condition(services, args.condition_id)
    return 0
