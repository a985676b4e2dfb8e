#!/usr/bin/env bash
# Install Mono for the PFCF adapter's tests: mcs compiles the .NET test double of the vendor DLL
# (tests/dotnet) and pythonnet hosts the Mono runtime in the gateway process.
#
# Idempotent and non-interactive (root, Debian/Ubuntu): when mcs, mono and libmonosgen are
# already there it only says so (well under a second). pythonnet itself is a Python package in
# the dev dependency group of pyproject.toml (and the gateway's `pfcf` extra), synced from uv.lock
# into .venv by `make test`.
# Without Mono, the tests that need it are skipped with this script's name as the reason.
set -euo pipefail

PACKAGES=(mono-mcs mono-runtime libmonosgen-2.0-1 mono-devel)  # Debian 12: Mono 6.8

say() { echo "[prepare-mono] $*"; }
fail() { echo "[prepare-mono] error: $*" >&2; exit 1; }

has_mono() {
  command -v mcs >/dev/null && command -v mono >/dev/null &&
    dpkg-query -W -f='${Status}' libmonosgen-2.0-1 2>/dev/null | grep -q "install ok installed"
}

main() {
  if has_mono; then
    say "present: $(mono --version | head -n 1)"
    return
  fi
  [[ $(id -u) == 0 ]] || fail "installing ${PACKAGES[*]} needs root (run this script with sudo)"
  command -v apt-get >/dev/null || fail "apt-get not found: install ${PACKAGES[*]} by hand"
  local started=$SECONDS
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  has_mono || fail "installed ${PACKAGES[*]}, yet mcs, mono or libmonosgen is still missing"
  say "installed in $((SECONDS - started))s: $(mono --version | head -n 1)"
}

main "$@"
