"""CurveZMQ key files: one pair per role, written and read with pyzmq's certificate helpers.

A key folder holds, for each role, `<role>.key` (the public key, safe to hand out) and
`<role>.key_secret` (public and secret key, for that role's process only). Keys are kept as
their 40-character Z85 text, which is what pyzmq's socket options and the ZAP handler use.

Secret files are born readable by their owner only: the pairs are written into a private
(0700) staging folder inside the key folder, set to 0600 there, then renamed into place, so no
other user can read a secret in between. A missing, unreadable or malformed file is a
`KeyFileError` naming the file.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85

from aftm.errors import AftmError
from aftm.security.roles import Role

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"  # noqa: S105 (a file name, not a secret)
FOLDER_MODE = 0o700
SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
Z85_KEY_LENGTH = 40


class KeyFileError(AftmError):
    """A key file is missing, unreadable, malformed or too open: fix or recreate it
    (`aftm keys init`), then start again. Retrying without that changes nothing."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"key file {path}: {problem}")
        self.path = path


class KeysExist(AftmError):
    """Keys are already there: keep them, or pass `force` to replace every pair (every
    service must then be given its new keys)."""

    def __init__(self, folder: Path, paths: Iterable[Path]) -> None:
        names = " ".join(path.name for path in paths)
        super().__init__(f"keys already exist in {folder}, not overwritten: {names}")


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A role's own keys; the secret is left out of repr so it never reaches a log line."""

    role: Role
    public: bytes
    secret: bytes = field(repr=False)


def public_path(folder: Path, role: Role) -> Path:
    return folder / f"{role}{PUBLIC_SUFFIX}"


def secret_path(folder: Path, role: Role) -> Path:
    return folder / f"{role}{SECRET_SUFFIX}"


def create(folder: Path, roles: Iterable[Role] = tuple(Role), *, force: bool = False) -> None:
    """Write a fresh key pair for each role into `folder` (made 0700 when missing).

    Raise KeysExist, touching nothing, when any of those files exists and `force` is false.
    """
    roles = tuple(roles)
    present = [
        path
        for role in roles
        for path in (public_path(folder, role), secret_path(folder, role))
        if path.exists()
    ]
    if present and not force:
        raise KeysExist(folder, present)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".new-keys-", dir=folder))  # 0700 by contract
    try:
        for role in roles:
            public, secret = zmq.auth.create_certificates(staging, str(role))
            os.chmod(secret, SECRET_MODE)
            os.chmod(public, PUBLIC_MODE)
        for role in roles:
            os.replace(secret_path(staging, role), secret_path(folder, role))
            os.replace(public_path(staging, role), public_path(folder, role))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_pair(folder: Path, role: Role, *, require_private: bool = True) -> KeyPair:
    """`role`'s own pair from `<role>.key_secret`. With `require_private`, a secret file that
    the group or others may read is refused, as ssh refuses an open private key."""
    path = secret_path(folder, role)
    if require_private:
        _check_private(path)
    public, secret = _read(path)
    if secret is None:
        raise KeyFileError(path, "holds no secret-key")
    _check_z85(path, secret, "secret-key")
    if zmq.curve_public(secret) != public:
        raise KeyFileError(path, "its public-key does not belong to its secret-key")
    return KeyPair(role, public, secret)


def load_public(folder: Path, role: Role) -> bytes:
    public, _ = _read(public_path(folder, role))
    return public


def load_trusted(folder: Path, roles: Iterable[Role] = tuple(Role)) -> Mapping[Role, bytes]:
    """The public key of each of `roles`, read from `<role>.key` in `folder`.

    Every role asked for must be there, and no two roles may share a key: the key is how a
    peer's role is told, so a shared key would make it ambiguous.
    """
    trusted = {role: load_public(folder, role) for role in roles}
    seen: dict[bytes, Role] = {}
    for role, key in trusted.items():
        if key in seen:
            raise KeyFileError(
                public_path(folder, role), f"same public key as the {seen[key]} role"
            )
        seen[key] = role
    return trusted


def _read(path: Path) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise KeyFileError(path, "missing (create keys with: aftm keys init)")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as failed:
        raise KeyFileError(path, f"unreadable: {failed}") from None
    _check_z85(path, public, "public-key")
    return public, secret


def _check_z85(path: Path, key: bytes, name: str) -> None:
    if len(key) != Z85_KEY_LENGTH:
        raise KeyFileError(path, f"{name} is not {Z85_KEY_LENGTH} Z85 characters")
    try:
        z85.decode(key)
    except (ValueError, KeyError, struct.error):
        raise KeyFileError(path, f"{name} is not valid Z85") from None


def _check_private(path: Path) -> None:
    if os.name == "nt":
        return  # NTFS ACLs, not mode bits, guard the file there; stat reports 0o666 for all
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(path, "missing (create keys with: aftm keys init)") from None
    except OSError as failed:
        raise KeyFileError(path, f"unreadable: {failed}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(path, f"mode {stat.S_IMODE(mode):o} lets others read it; chmod 600")
