"""`aftm keys`: one CurveZMQ key pair per role, written once and shown on demand.

Nothing here talks to a service: the files are the whole product. `init` refuses to replace
existing keys without `--force`, because every service holding the old ones would then be
shut out; `show` prints only public keys, never a secret.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aftm.security import keys
from aftm.security.roles import Role
from aftm_console.parsing import Subparsers, UsageError, add_json_flag
from aftm_console.render import say, say_json, say_table

DEFAULT_DIR = Path("var/keys")  # relative to where aftm runs; var/ is never committed


def add_key_commands(commands: Subparsers) -> None:
    parser = commands.add_parser("keys", help="CurveZMQ key pairs, one per role")
    actions: Subparsers = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="write a key pair for every role")
    _add_dir(init)
    init.add_argument(
        "--force", action="store_true", help="replace existing keys (every service needs the new)"
    )
    init.set_defaults(handler=_init)
    show = actions.add_parser("show", help="print each role's public key")
    _add_dir(show)
    add_json_flag(show)
    show.set_defaults(handler=_show)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"the key folder (default: {DEFAULT_DIR})",
    )


def _init(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir {folder} is a file, not a folder")
    try:
        keys.create(folder, force=args.force)
    except keys.KeysExist as exist:
        raise UsageError(f"{exist}; --force replaces them") from None
    say(f"wrote a key pair for {', '.join(Role)} in {folder}")
    say("each <role>.key_secret is readable by its owner only: hand each service its own")
    return 0


def _show(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    public = keys.load_trusted(folder)
    if args.json:
        say_json(
            [
                {"role": str(role), "public_key": key.decode(), "file": str(path)}
                for role, key in public.items()
                for path in (keys.public_path(folder, role),)
            ]
        )
    else:
        rows = [(str(role), key.decode()) for role, key in public.items()]
        say_table(("role", "public key"), rows, f"no keys in {folder}")
    return 0
