#!/usr/bin/env bash
# Prepare a Debian 12 host to build and run the AFTM container stack, without any registry.
#
# Idempotent and non-interactive (root; a second run takes a few seconds). Each step is skipped
# when its result is already there:
#   1. the Docker engine (docker.io), started in the background when `docker info` fails;
#   2. the Compose v2 and buildx CLI plugins, from Debian trixie .debs (bookworm has neither);
#   3. the base image aftm/base:bookworm, built with debootstrap (nothing can be pulled here);
#   4. the Prometheus image aftm/prometheus:dev (that base + Debian's prometheus package);
#   5. the wheelhouse deploy/.wheelhouse (deploy/scripts/build-wheelhouse.sh).
# Downloads and the base root filesystem are cached in $AFTM_CACHE_DIR (default /var/cache/aftm),
# never in the repository. See deploy/README.md for air-gapped and proxied hosts.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${AFTM_CACHE_DIR:-/var/cache/aftm}
BASE_IMAGE=${AFTM_BASE_IMAGE:-aftm/base:bookworm}
PROMETHEUS_IMAGE=aftm/prometheus:${AFTM_TAG:-dev}  # the name docker-compose.yml uses
MIRROR=${AFTM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_LOG=${AFTM_DOCKERD_LOG:-/var/log/dockerd.log}
DOCKERD_WAIT_S=60
PLUGINS=/usr/local/lib/docker/cli-plugins  # searched by every docker CLI, whatever $HOME is

say() { echo "[prepare] $*"; }
fail() { echo "[prepare] error: $*" >&2; exit 1; }
need_root() { [[ $(id -u) == 0 ]] || fail "$1 needs root (run this script with sudo)"; }

apt_updated=false
apt_install() {
  need_root "installing $*"
  if ! $apt_updated; then
    apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_engine() {
  if ! command -v dockerd >/dev/null; then
    apt_install docker.io
    say "engine: installed docker.io ($(dockerd --version))"
  fi
  if docker info >/dev/null 2>&1; then
    say "engine: running"
    return
  fi
  need_root "starting dockerd"
  nohup dockerd >>"$DOCKERD_LOG" 2>&1 &
  local waited=0
  until docker info >/dev/null 2>&1; do
    ((waited < DOCKERD_WAIT_S)) || fail "dockerd not ready after ${DOCKERD_WAIT_S}s: see $DOCKERD_LOG"
    sleep 1
    waited=$((waited + 1))
  done
  say "engine: started dockerd in ${waited}s (log: $DOCKERD_LOG)"
}

ensure_plugins() {
  if docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    say "plugins: $(docker compose version --short 2>/dev/null || true) compose, buildx present"
    return
  fi
  need_root "installing the compose and buildx plugins"
  local debs=$CACHE/trixie-debs
  mkdir -p "$CACHE"
  mkdir -p "$debs/lists/partial" "$debs/cache/archives/partial"
  # apt downloads as the unprivileged _apt user where it can (it warns otherwise).
  if id _apt >/dev/null 2>&1; then chown -R _apt "$debs"; fi
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
    >"$debs/sources.list"
  # A private apt state for trixie: the host's own sources and package lists stay untouched.
  local options=(-o "Dir::Etc::SourceList=$debs/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$debs/lists" -o "Dir::Cache=$debs/cache")
  if ! ls "$debs"/docker-compose_*.deb "$debs"/docker-buildx_*.deb >/dev/null 2>&1; then
    apt-get "${options[@]}" update -qq
    (cd "$debs" && apt-get "${options[@]}" download docker-compose docker-buildx >/dev/null)
  fi
  local extracted
  extracted=$(mktemp -d)
  for deb in "$debs"/docker-compose_*.deb "$debs"/docker-buildx_*.deb; do
    dpkg-deb -x "$deb" "$extracted"
  done
  mkdir -p "$PLUGINS"
  install -m 0755 "$extracted"/usr/libexec/docker/cli-plugins/* "$PLUGINS/"
  rm -rf "$extracted"
  say "plugins: installed $(docker compose version --short) compose and buildx into $PLUGINS"
}

ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image: $BASE_IMAGE present"
    return
  fi
  need_root "building the base image"
  local tarball=$CACHE/base-bookworm.tar
  mkdir -p "$CACHE"
  if [[ ! -f $tarball ]]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    local rootfs
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/aftm-rootfs.XXXXXX")
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
      fail "debootstrap failed: see $CACHE/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
    say "base image: root filesystem built with debootstrap (cached: $tarball)"
  fi
  # An imported image has no configuration at all: give it what a Debian image would have.
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
  say "base image: imported $BASE_IMAGE"
}

ensure_prometheus_image() {
  if docker image inspect "$PROMETHEUS_IMAGE" >/dev/null 2>&1; then
    say "prometheus image: $PROMETHEUS_IMAGE present"
    return
  fi
  docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$PROMETHEUS_IMAGE" \
    "$REPO/deploy/prometheus" >/dev/null
  say "prometheus image: built $PROMETHEUS_IMAGE"
}

main() {
  local started=$SECONDS
  ensure_engine
  ensure_plugins
  ensure_base_image
  ensure_prometheus_image
  "$REPO/deploy/scripts/build-wheelhouse.sh"
  say "done in $((SECONDS - started))s: build the role images with deploy/scripts/build-images.sh"
}

main "$@"
