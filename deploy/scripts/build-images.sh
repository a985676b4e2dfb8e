#!/usr/bin/env bash
# Build the role images (gateway, strategy, executor) and the Prometheus and Alertmanager images.
#
#   deploy/scripts/build-images.sh            # tags aftm/<role>:$AFTM_TAG (default: dev)
#
# BASE_IMAGE is $AFTM_BASE_IMAGE, else the local aftm/base:bookworm when it exists (air-gapped
# hosts: deploy/scripts/prepare-machine.sh builds it), else the official python:3.11-slim-bookworm.
# AFTM_GATEWAY_DOTNET=mono builds the gateway with Mono and pythonnet (for the PFCF adapter).
# These are the images docker-compose.yml names, so `docker compose up` can use them as they are.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TAG=${AFTM_TAG:-dev}
if [[ -z ${AFTM_BASE_IMAGE:-} ]] && docker image inspect aftm/base:bookworm >/dev/null 2>&1; then
  AFTM_BASE_IMAGE=aftm/base:bookworm
fi
BASE_IMAGE=${AFTM_BASE_IMAGE:-python:3.11-slim-bookworm}

say() { echo "[build] $*"; }

"$REPO/deploy/scripts/build-wheelhouse.sh"
started=$SECONDS
for role in gateway strategy executor; do
  docker build --quiet -f "$REPO/deploy/docker/Dockerfile" --target "$role" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "GATEWAY_DOTNET=${AFTM_GATEWAY_DOTNET:-none}" \
    -t "aftm/$role:$TAG" "$REPO" >/dev/null
  say "aftm/$role:$TAG (base $BASE_IMAGE)"
done
for tool in prometheus alertmanager; do
  docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "aftm/$tool:$TAG" \
    "$REPO/deploy/$tool" >/dev/null
  say "aftm/$tool:$TAG (base $BASE_IMAGE)"
done
# Images these tags pointed at before are dangling now: remove them (only this project's).
docker image prune --force --filter label=io.aftm.project=aftm >/dev/null
say "done in $((SECONDS - started))s"
