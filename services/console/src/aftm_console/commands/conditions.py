"""Support/resistance conditions at the strategy: add (checked against the gateway), list, rm,
and roll the waiting ones from an expiring contract to a later month.

With several strategy shards (shards.py) an add goes to the shard owning the symbol, under an
id carrying the shard's name; list shows every shard's conditions with the shard; rm finds the
shard holding the id; a roll may move a condition to another shard, whose name its copy's id
then carries.

A roll never loses a condition: each copy on the new month is added before the original is
removed, under an id derived from the original's (contracts.rolled_id), so a roll run again
after a crash between the two finds the copy and only removes the original. The strategy has no
"move" request, so a condition that triggers between the listing and its removal is removed in
its new stage: the roll says so, as `aftm conditions rm` would.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from datetime import datetime

from aftm.domain import limits
from aftm.domain.conditions import Condition, Stage, check_condition, condition_from_fields
from aftm.errors import AftmError, InvalidInput
from aftm.market.calendar import load_calendar
from aftm.market.clock import market_clock
from aftm.wire.protocol import (
    AddCondition,
    ConditionList,
    FutureList,
    ListFutures,
    RegisterItem,
    RemoveCondition,
)
from aftm_console.commands.common import is_interactive, live, new_condition_id
from aftm_console.contracts import check_roll, expiry_warning, rolled_id
from aftm_console.errors import EXIT_REFUSED, ConsoleError, ServiceDown, ServiceRefused
from aftm_console.parsing import Subparsers, UsageError, add_json_flag
from aftm_console.render import say, say_json, say_table, warn
from aftm_console.services import Service, Services
from aftm_console.shards import (
    Shard,
    conditions_by_shard,
    holder,
    owner,
    shard_id,
    shards,
    unprefixed,
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
    skipped = _prepare_symbol(services, condition.symbol)
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


@dataclasses.dataclass
class Roll:
    """What `roll_conditions` did: (old id, new id) moved, (id, why) left where they were."""

    symbol_from: str
    symbol_to: str
    moved: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    not_moved: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def plan_roll(
    services: Services, symbol_from: str, symbol_to: str
) -> list[tuple[Shard, Condition]]:
    """The conditions on `symbol_from` with the shard holding each, after checking that
    `symbol_to` is a later month of the same product (InvalidInput otherwise)."""
    check_roll(symbol_from, symbol_to, market_clock().now().date())
    placed = where(conditions_by_shard(services, shards(services)))
    return [(shard, c) for shard, c in placed if c.symbol == symbol_from]


def roll_conditions(services: Services, symbol_from: str, symbol_to: str, shift: int = 0) -> Roll:
    """Move every waiting condition on `symbol_from` to `symbol_to` (trigger moved by `shift`
    points), each added anew (on the shard owning `symbol_to`) before the original is removed
    (from the shard holding it); other stages stay."""
    on_from = plan_roll(services, symbol_from, symbol_to)
    target = owner(shards(services), symbol_to)  # before anything is registered or added
    skipped = _prepare_symbol(services, symbol_to)  # InvalidInput when the gateway lacks it
    if skipped:
        warn(skipped)
    existing = {c.id for _, c in where(conditions_by_shard(services, shards(services)))}
    roll = Roll(symbol_from, symbol_to)
    for source, old in on_from:
        # The same for the same two symbols on every run, so a rerun finds its copy.
        new_id = rolled_id(target.id_prefix + unprefixed(source, old.id), symbol_to)
        if old.stage is not Stage.WAITING:
            why = f"{old.stage}: only waiting conditions roll"
            if new_id in existing:  # an earlier roll stopped between add and remove
                why += f"; its copy {new_id} waits too: remove one (aftm conditions rm)"
            roll.not_moved.append((old.id, why))
            continue
        try:
            if new_id not in existing:  # else a roll before this one added it, then stopped
                _add_rolled(services, target, old, (new_id, symbol_to, shift))
            removed = services.ask(
                Service.STRATEGY, RemoveCondition(old.id), Condition, endpoint=source.endpoint
            )
        except (InvalidInput, ServiceRefused) as failed:
            roll.not_moved.append((old.id, str(failed)))
            continue
        roll.moved.append((old.id, new_id))
        if removed.stage is not Stage.WAITING:
            warn(f"{old.id} was {removed.stage} when removed; its copy {new_id} waits afresh")
    return roll


def _add_rolled(
    services: Services, target: Shard, old: Condition, to: tuple[str, str, int]
) -> None:
    new_id, symbol_to, shift = to
    new = dataclasses.replace(
        old, id=new_id, symbol=symbol_to, trigger_price=old.trigger_price + shift
    )
    # A shifted trigger out of range is this condition's failure, not the whole roll's.
    add = AddCondition(check_condition(new))
    services.ask(Service.STRATEGY, add, Condition, endpoint=target.endpoint)


def show_roll(roll: Roll, *, as_json: bool = False) -> None:
    if as_json:
        say_json(
            {
                "from": roll.symbol_from,
                "to": roll.symbol_to,
                "moved": [{"id": old, "new_id": new} for old, new in roll.moved],
                "not_moved": [{"id": cid, "reason": why} for cid, why in roll.not_moved],
            }
        )
        return
    for old, new in roll.moved:
        say(f"moved {old} -> {new} ({roll.symbol_from} -> {roll.symbol_to})")
    for cid, why in roll.not_moved:
        say(f"not moved {cid}: {why}")
    total = len(roll.moved) + len(roll.not_moved)
    if total == 0:
        say(f"no conditions on {roll.symbol_from}")
    else:
        say(f"rolled {len(roll.moved)} of {total} conditions on {roll.symbol_from}")


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
    roll = actions.add_parser(
        "roll", help="move the waiting conditions on one contract to a later month"
    )
    roll.add_argument("--from", dest="symbol_from", required=True, metavar="SYMBOL")
    roll.add_argument("--to", dest="symbol_to", required=True, metavar="SYMBOL")
    roll.add_argument(
        "--shift", type=int, default=0, metavar="POINTS", help="move trigger prices (the spread)"
    )
    roll.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_json_flag(roll)
    roll.set_defaults(handler=live(_roll))


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


def _roll(services: Services, args: argparse.Namespace) -> int:
    symbol_from, symbol_to = args.symbol_from.strip(), args.symbol_to.strip()
    if not args.yes:
        on_from = plan_roll(services, symbol_from, symbol_to)
        waiting = sum(c.stage is Stage.WAITING for _, c in on_from)
        _confirm_roll(symbol_from, symbol_to, waiting)
    roll = roll_conditions(services, symbol_from, symbol_to, args.shift)
    show_roll(roll, as_json=args.json)
    return EXIT_REFUSED if roll.not_moved else 0


def _confirm_roll(symbol_from: str, symbol_to: str, waiting: int) -> None:
    if not is_interactive():
        raise UsageError("roll moves conditions and there is no terminal to confirm on: pass --yes")
    try:
        answer = input(
            f"move {waiting} waiting conditions from {symbol_from} to {symbol_to}? [y/N] "
        )
    except EOFError:
        answer = ""
    if answer.strip().lower() not in {"y", "yes"}:
        raise ConsoleError("roll not confirmed: nothing was moved")
