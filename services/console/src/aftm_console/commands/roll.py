"""`aftm conditions roll`: the waiting conditions on an expiring contract move to a later month.

A roll never loses a condition: each copy on the new month is added before the original is
removed, under an id derived from the original's (contracts.rolled_id), so a roll run again
after a crash between the two finds the copy and only removes the original. The strategy has no
"move" request, so a condition that triggers between the listing and its removal is removed in
its new stage: the roll says so, as `aftm conditions rm` would.

With several strategy shards the copy goes to the shard owning the new month (shards.py), under
an id carrying that shard's name, and the original is removed from the shard holding it.
"""

from __future__ import annotations

import argparse
import dataclasses

from aftm.domain.conditions import Condition, Stage, check_condition
from aftm.errors import InvalidInput
from aftm.market.clock import market_clock
from aftm.wire.protocol import AddCondition, RemoveCondition
from aftm_console.commands.common import is_interactive, live
from aftm_console.commands.session import prepare_symbol
from aftm_console.contracts import check_roll, rolled_id
from aftm_console.errors import EXIT_REFUSED, ConsoleError, ServiceRefused
from aftm_console.parsing import Subparsers, UsageError, add_json_flag
from aftm_console.render import say, say_json, warn
from aftm_console.services import Service, Services
from aftm_console.shards import Shard, conditions_by_shard, owner, shards, unprefixed, where


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
    skipped = prepare_symbol(services, symbol_to)  # InvalidInput when the gateway lacks it
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


# --- subcommand ------------------------------------------------------------------------------


def add_roll_command(actions: Subparsers) -> None:
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
