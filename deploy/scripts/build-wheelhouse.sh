#!/usr/bin/env bash
# Download every wheel the role images install, on the host:
#
#   deploy/scripts/build-wheelhouse.sh           # deploy/.wheelhouse, for the Linux images
#   deploy/scripts/build-wheelhouse.sh windows   # deploy/.wheelhouse-windows (win_amd64)
#
# Image builds cannot reach PyPI (and must not carry the host's CA bundle), so the Dockerfiles
# install with `pip install --no-index --find-links` from this folder. The requirements come from
# the projects' pyproject files (deploy/scripts/requirements.py); the folder is rebuilt only when
# they or the target platform change. Needs no root; uses the host's pip and its configuration.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-python3}
TARGET=${1:-linux}
# Wheels for CPython 3.11: glibc x86_64 (python:3.11-slim-bookworm, Debian 12) or Windows x64.
PLATFORM=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311)
EXTRA=()
case $TARGET in
  linux)
    WHEELHOUSE=$REPO/deploy/.wheelhouse  # inside the build context: the Dockerfiles COPY it
    PLATFORM+=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux_2_28_x86_64) ;;
  windows)
    WHEELHOUSE=$REPO/deploy/.wheelhouse-windows
    PLATFORM+=(--platform win_amd64)
    # pip evaluates environment markers for this host, not the target: loguru's Windows-only
    # dependencies must be named.
    EXTRA=(colorama win32-setctime) ;;
  *) echo "usage: $0 [linux|windows]" >&2; exit 2 ;;
esac

say() { echo "[wheelhouse] $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$REPO/deploy/scripts/requirements.py" "$work/requirements"
stamp=$( (cat "$work"/requirements/*.txt; echo "${PLATFORM[*]} ${EXTRA[*]}") | sha256sum | cut -d' ' -f1)

if [[ -f $WHEELHOUSE/.stamp && $(cat "$WHEELHOUSE/.stamp") == "$stamp" ]]; then
  say "up to date: $WHEELHOUSE ($(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels)"
  exit 0
fi

say "downloading into $WHEELHOUSE"
mkdir -p "$work/wheels"
# Some hosts configure extra local indexes that lack most projects: pip warns once per project.
"$PYTHON" -m pip download --quiet "${PLATFORM[@]}" -d "$work/wheels" \
  -r "$work/requirements/requirements-all.txt" "${EXTRA[@]}" 2>&1 |
  { grep -v "is ignored: it is neither a file nor a directory" || true; }
cp "$work"/requirements/*.txt "$work/wheels/"
echo "$stamp" >"$work/wheels/.stamp"
# Replace the folder whole, so an interrupted download never passes for a complete one.
rm -rf "$WHEELHOUSE"
mv "$work/wheels" "$WHEELHOUSE"
say "ready: $WHEELHOUSE ($(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels)"
