"""`python -m aftm.security.provision FOLDER`: the compose stack's one-shot key maker.

On first run it writes a key pair per role into FOLDER (as `aftm keys init` would); on every
run it lays out, for each service role, a subfolder FOLDER/<role>/ holding that role's secret and
every role's public key, owned by the services' user (uid 10001 in the images) and readable by
it alone. Compose mounts only FOLDER/<role> into that role's container, so each service gets its
own secret and no other. The console on the host uses FOLDER itself (AFTM_CONSOLE_KEYS_DIR).

Keys are made once: a folder that already holds every pair is kept, so restarting the stack
never changes them; a folder holding only some pairs is refused, since replacing them would lock
out whoever holds the rest.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from aftm.errors import AftmError
from aftm.security.keys import (
    FOLDER_MODE,
    PUBLIC_MODE,
    SECRET_MODE,
    create,
    load_pair,
    public_path,
    secret_path,
)
from aftm.security.roles import Role

SERVICE_ROLES = (Role.GATEWAY, Role.STRATEGY, Role.EXECUTOR)
SERVICE_UID = 10001  # the `aftm` user of deploy/docker/Dockerfile
EXIT_OK = 0
EXIT_REFUSED = 2


def provision(folder: Path, uid: int = SERVICE_UID, gid: int = SERVICE_UID) -> str:
    """Make the pairs once, then each service's subfolder; a line saying what was done."""
    present = [role for role in Role if secret_path(folder, role).exists()]
    if not present:
        create(folder)
        made = "created a key pair per role"
    elif len(present) == len(Role):
        made = "kept the existing key pairs"
    else:
        missing = ", ".join(str(role) for role in Role if role not in present)
        raise SystemExit(f"{folder} holds some key pairs but not {missing}: refusing to replace")
    for role in Role:
        load_pair(folder, role, require_private=False)  # a damaged pair fails here, by name
    for role in SERVICE_ROLES:
        _lay_out(folder, role, uid, gid)
    return f"{made} in {folder}; each service folder holds its own secret only"


def _lay_out(folder: Path, role: Role, uid: int, gid: int) -> None:
    own = folder / str(role)
    own.mkdir(exist_ok=True)
    for stale in own.iterdir():  # e.g. a secret of another role, copied by hand
        if stale.is_file() and stale.name != secret_path(own, role).name:
            stale.unlink()
    for each in Role:
        shutil.copyfile(public_path(folder, each), public_path(own, each))
        os.chmod(public_path(own, each), PUBLIC_MODE)
    shutil.copyfile(secret_path(folder, role), secret_path(own, role))
    os.chmod(secret_path(own, role), SECRET_MODE)
    if hasattr(os, "chown"):  # not on Windows, where the folder's ACL applies instead
        for path in (own, *own.iterdir()):
            os.chown(path, uid, gid)
    os.chmod(own, FOLDER_MODE)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m aftm.security.provision FOLDER", file=sys.stderr)  # noqa: T201
        return EXIT_REFUSED
    try:
        print(provision(Path(argv[0])))  # noqa: T201
    except (OSError, SystemExit, ValueError, AftmError) as failed:
        print(f"aftm key provisioning failed: {failed}", file=sys.stderr)  # noqa: T201
        return EXIT_REFUSED
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
