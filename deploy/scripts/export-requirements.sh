#!/usr/bin/env bash
# Write each role image's requirements, exported from uv.lock, for one target platform:
#
#   deploy/scripts/export-requirements.sh linux|windows OUT_DIR
#
# OUT_DIR/requirements-<role>.txt for gateway, gateway-pfcf (the gateway with the PFCF adapter's
# pythonnet), strategy and executor: exact pins with their hashes (`uv export --frozen`), the
# project's own distributions left out (they are built from this checkout, not downloaded),
# environment markers applied for the target (deploy/scripts/platform_requirements.py).
# Reads only uv.lock: offline, and the same files for the same lock.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${1:-}
OUT=${2:-}
if [[ $TARGET != linux && $TARGET != windows ]] || [[ -z $OUT ]]; then
  echo "usage: $0 linux|windows OUT_DIR" >&2
  exit 2
fi
# The pinned uv and a synced .venv (the marker evaluation uses its `packaging`).
make --no-print-directory -s -C "$REPO" sync >/dev/null
UV=$REPO/.venv-tools/bin/uv
PYTHON=$REPO/.venv/bin/python

declare -A PACKAGE=([gateway]=aftm-gateway [gateway-pfcf]=aftm-gateway [strategy]=aftm-strategy
  [executor]=aftm-executor)
declare -A EXTRAS=([gateway-pfcf]="--extra pfcf")

mkdir -p "$OUT"
exported=$(mktemp)
trap 'rm -f "$exported"' EXIT
for role in gateway gateway-pfcf strategy executor; do
  # shellcheck disable=SC2086  # EXTRAS holds zero or two words
  (cd "$REPO" && "$UV" export --quiet --frozen --no-dev --no-emit-workspace --no-header \
    --package "${PACKAGE[$role]}" ${EXTRAS[$role]:-} -o "$exported")
  "$PYTHON" "$REPO/deploy/scripts/platform_requirements.py" narrow "$TARGET" "$exported" \
    >"$OUT/requirements-$role.txt"
done
