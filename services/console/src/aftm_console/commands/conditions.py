"""Support/resistance conditions at the strategy: add (checked against the gateway), list, rm,
and roll the waiting ones from an expiring contract to a later month (roll.py).

With several strategy shards (shards.py) an add goes to the shard owning the symbol, under an
id carrying the shard's name; list shows every shard's conditions with the shard; rm finds the
shard holding the id; a roll may move a condition to another shard, whose name its copy's id
then carries.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from datetime import datetime

from aftm.domain import limits
from aftm.domain.conditions import Condition, Stage, condition_from_fields
from aftm.errors import AftmError
from aftm.market.calendar import load_calendar
from aftm.market.clock import market_clock
from aftm.wire.protocol import (
    AddCondition,
    ConditionList,
    RemoveCondition,
)
from aftm_console.commands.common import live, new_condition_id
from aftm_console.commands.roll import add_roll_command
from aftm_console.commands.session import prepare_symbol
from aftm_console.contracts import expiry_warning
from aftm_console.errors import ServiceRefused
from aftm_console.parsing import Subparsers, add_json_flag
from aftm_console.render import say, say_json, say_table, warn
from aftm_console.services import Service, Services
from aftm_console.shards import (
    Shard,
    conditions_by_shard,
    holder,
    owner,
    shard_id,
    shards,
    where,
)

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
    """Validate `fields`, make sure the gateway lists and streams the symbol, then add it to
    the shard owning the symbol, under an id carrying the shard's name."""
    condition = condition_from_fields(fields, default_id=new_condition_id())
    shard = owner(shards(services), condition.symbol)
    condition = dataclasses.replace(condition, id=shard_id(shard, condition.id))
    skipped = prepare_symbol(services, condition.symbol)
    # Not retried: a repeat of an add that did arrive would be refused as a duplicate id.
    added = services.ask(
        Service.STRATEGY, AddCondition(condition), Condition, endpoint=shard.endpoint
    )
    on = f" on shard {shard.name}" if shard.name else ""
    say(f"condition {added.id} added{on}: {describe(added)}")
    if skipped:
        warn(skipped)
    if expiring := _expiry_warning(added.symbol):
        warn(expiring)
    return added


def show_conditions(services: Services, *, as_json: bool = False) -> ConditionList:
    """Every shard's conditions, each shard's in creation order; the shard shown when named."""
    placed = where(conditions_by_shard(services, shards(services)))
    listed = ConditionList(tuple(c for _, c in placed))
    sharded = any(shard.name for shard, _ in placed)
    if as_json:
        say_json([_json_on(shard, c, sharded=sharded) for shard, c in placed])
        return listed
    rows = [
        (
            *((shard.name,) if sharded else ()),
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
        for shard, c in placed
    ]
    headers: tuple[str, ...] = ("id", "symbol", "action", "qty", "trigger", "order")
    headers = (*headers, "take profit", "stop loss", "following", "stage")
    headers = ("shard", *headers) if sharded else headers
    say_table(headers, rows, "no conditions")
    return listed


def _json_on(shard: Shard, c: Condition, *, sharded: bool) -> dict[str, object]:
    return {"shard": shard.name, **condition_json(c)} if sharded else condition_json(c)


def remove_condition(services: Services, condition_id: str) -> Condition:
    condition_id = limits.check_id(condition_id.strip(), "id")  # a stored one may be longer
    found = shards(services)
    shard = found[0] if len(found) == 1 else holder(services, found, condition_id)
    if shard is None:
        raise ServiceRefused("strategy", f"no shard holds condition {condition_id!r}")
    removed = services.ask(
        Service.STRATEGY, RemoveCondition(condition_id), Condition, endpoint=shard.endpoint
    )
    say(f"condition {removed.id} removed (it was {removed.stage})")
    if removed.stage is Stage.ENTERED:
        warn(f"{removed.id} had entered: its position stays open until closed by hand")
    return removed


def _expiry_warning(symbol: str, now: datetime | None = None) -> str:
    """Told after an add; never fails it (a bad holiday file only loses the warning)."""
    try:
        return expiry_warning(load_calendar(), symbol, now or market_clock().now())
    except AftmError:
        return ""


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
    add_roll_command(actions)


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
