#!/usr/bin/env bash
# Download every wheel the role images install, exactly as uv.lock pins them, on the host:
#
#   deploy/scripts/build-wheelhouse.sh           # deploy/.wheelhouse, for the Linux images
#   deploy/scripts/build-wheelhouse.sh windows   # deploy/.wheelhouse-windows (win_amd64)
#
# Image builds cannot reach PyPI (and must not carry the host's CA bundle), so the Dockerfiles
# install with `pip install --no-index --find-links --require-hashes` from this folder. It holds
# the requirement files exported from uv.lock (deploy/scripts/export-requirements.sh) and the
# wheels they pin, each checked against the lock's hash as it is downloaded; it is rebuilt only
# when those files or the target platform change. The project's own distributions are built from
# this checkout into deploy/.dist (both platforms: they are pure Python) on every run.
# Needs no root; downloads with the host's pip configuration (proxies, certificates).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${1:-linux}
DIST=$REPO/deploy/.dist  # inside the build context: the Dockerfiles COPY it
# Wheels for CPython 3.11: glibc x86_64 (python:3.11-slim-bookworm, Debian 12) or Windows x64.
PLATFORM=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311)
case $TARGET in
  linux)
    WHEELHOUSE=$REPO/deploy/.wheelhouse
    PLATFORM+=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux_2_28_x86_64) ;;
  windows)
    WHEELHOUSE=$REPO/deploy/.wheelhouse-windows
    PLATFORM+=(--platform win_amd64) ;;
  *) echo "usage: $0 [linux|windows]" >&2; exit 2 ;;
esac

say() { echo "[wheelhouse] $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$REPO/deploy/scripts/export-requirements.sh" "$TARGET" "$work/requirements"
UV=$REPO/.venv-tools/bin/uv
# pip itself: the tools venv always has one (uv's .venv does not).
PIP=("$REPO/.venv-tools/bin/python" -m pip)

build_dist() {
  # Dated by the commit, not the clock: the same commit gives the same wheel files.
  local epoch
  epoch=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 315532800)
  rm -rf "$work/dist"
  # Each wheel is built from the distribution's sdist, in a scratch folder: files left in a
  # source folder's build/ by an earlier build can never slip into it.
  for package in aftm-shared aftm-gateway aftm-strategy aftm-executor; do
    (cd "$REPO" && SOURCE_DATE_EPOCH=$epoch "$UV" build --quiet --package "$package" \
      -o "$work/dist")
  done
  rm -f "$work"/dist/*.tar.gz
  rm -rf "$DIST"
  mv "$work/dist" "$DIST"
  say "project wheels: $(cd "$DIST" && echo *.whl)"
}

build_dist
stamp=$( (cat "$work"/requirements/*.txt; echo "${PLATFORM[*]}") | sha256sum | cut -d' ' -f1)
if [[ -f $WHEELHOUSE/.stamp && $(cat "$WHEELHOUSE/.stamp") == "$stamp" ]]; then
  say "up to date: $WHEELHOUSE ($(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels)"
  exit 0
fi

say "downloading into $WHEELHOUSE"
mkdir -p "$work/wheels"
for requirements in "$work"/requirements/*.txt; do
  # --no-deps: the exported files are complete; pip checks every file against the lock's hashes.
  # Some hosts configure extra local indexes that lack most projects: pip warns once per project.
  "${PIP[@]}" download --quiet --disable-pip-version-check --no-deps "${PLATFORM[@]}" \
    -d "$work/wheels" -r "$requirements" 2>&1 |
    { grep -v "is ignored: it is neither a file nor a directory" || true; }
done
cp "$work"/requirements/*.txt "$work/wheels/"
echo "$stamp" >"$work/wheels/.stamp"
# Replace the folder whole, so an interrupted download never passes for a complete one.
rm -rf "$WHEELHOUSE"
mv "$work/wheels" "$WHEELHOUSE"
say "ready: $WHEELHOUSE ($(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels)"
