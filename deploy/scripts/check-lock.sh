#!/usr/bin/env bash
# Two checks on uv.lock, run by .ci/run before the tests (and by `make check-lock`):
#   1. it still matches every pyproject of the workspace (`uv lock --check`): a dependency changed
#      in a pyproject without re-locking fails here, with the one command that fixes it;
#   2. every requirement of the Windows images has a wheel that installs there (win_amd64 or pure
#      Python, for CPython 3.11): those images cannot be built on this project's machines, so a
#      lock change that would break them is caught here instead (platform_requirements.py).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
make --no-print-directory -s -C "$REPO" uv

say() { echo "[lock] $*"; }

if ! (cd "$REPO" && UV_PYTHON_DOWNLOADS=never .venv-tools/bin/uv lock --check --quiet \
  --python python3.11); then
  say "error: uv.lock does not match the pyproject files: run 'make lock' and commit uv.lock" >&2
  exit 1
fi
say "uv.lock matches the pyproject files"

# The wheel check reads tags with `packaging`, from the workspace's .venv (a fresh clone has none
# yet: the sync is from the lock just checked).
make --no-print-directory -s -C "$REPO" sync

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$REPO/deploy/scripts/export-requirements.sh" windows "$work"
"$REPO/.venv/bin/python" "$REPO/deploy/scripts/platform_requirements.py" check-wheels windows \
  "$REPO/uv.lock" "$work"/requirements-*.txt
