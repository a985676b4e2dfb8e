#!/usr/bin/env bash
# Build the role images (gateway, strategy, executor) and the Prometheus and Alertmanager images.
#
#   deploy/scripts/build-images.sh            # tags aftm/<role>:$AFTM_TAG (default: dev)
#
# BASE_IMAGE is $AFTM_BASE_IMAGE, else the local aftm/base:bookworm when it exists (air-gapped
# hosts: deploy/scripts/prepare-machine.sh builds it), else the official python:3.11-slim-bookworm.
# AFTM_GATEWAY_DOTNET=mono builds the gateway with Mono and pythonnet (for the PFCF adapter).
# These are the images docker-compose.yml names, so `docker compose up` can use them as they are.
#
# Python packages come from uv.lock only (deploy/scripts/build-wheelhouse.sh). Each role image is
# labelled with its provenance (OCI labels: source commit, project version, source; the sha256 of
# uv.lock) and gets a CycloneDX SBOM of its locked requirements in deploy/.sbom/<role>.cdx.json.
# No label holds the build time, so two builds of one commit are labelled alike.
# AFTM_SOURCE_URL sets org.opencontainers.image.source (default: the git remote `origin`).
# AFTM_NO_CACHE=1 builds the role images without Docker's build cache (to check a rebuild).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TAG=${AFTM_TAG:-dev}
if [[ -z ${AFTM_BASE_IMAGE:-} ]] && docker image inspect aftm/base:bookworm >/dev/null 2>&1; then
  AFTM_BASE_IMAGE=aftm/base:bookworm
fi
BASE_IMAGE=${AFTM_BASE_IMAGE:-python:3.11-slim-bookworm}
GATEWAY_DOTNET=${AFTM_GATEWAY_DOTNET:-none}
SBOM_DIR=$REPO/deploy/.sbom
# Marks this script's builds per tag, so replacing aftm/<role>:uv never prunes another tag's images.
BUILD_LABEL=io.aftm.build-tag=$TAG

say() { echo "[build] $*"; }

"$REPO/deploy/scripts/build-wheelhouse.sh"
started=$SECONDS

revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  say "warning: the checkout has uncommitted changes: the images are labelled with commit" \
    "$revision but may hold more than it"
fi
version=$("$REPO/.venv-tools/bin/uv" version --package aftm-shared --short --frozen \
  --directory "$REPO" 2>/dev/null)
source_url=${AFTM_SOURCE_URL:-$(git -C "$REPO" remote get-url origin 2>/dev/null || echo unknown)}
lock_sha256=$(sha256sum "$REPO/uv.lock" | cut -d' ' -f1)
PROVENANCE=(--build-arg "AFTM_REVISION=$revision" --build-arg "AFTM_VERSION=$version"
  --build-arg "AFTM_SOURCE=$source_url" --build-arg "AFTM_LOCK_SHA256=$lock_sha256")

# The SBOM lists what the role's image installs: its locked requirements (with their hashes), the
# shared library and, as the root component, the role's own distribution.
write_sbom() {
  local role=$1 requirements=$2
  mkdir -p "$SBOM_DIR"
  { cat "$requirements"; echo "aftm-shared==$version"; } |
    PYTHONWARNINGS=ignore::UserWarning "$REPO/.venv/bin/cyclonedx-py" requirements --output-reproducible --of JSON \
      --pyproject "$REPO/services/$role/pyproject.toml" -o "$SBOM_DIR/$role.cdx.json" -
}

for role in gateway strategy executor; do
  docker build --quiet ${AFTM_NO_CACHE:+--no-cache} -f "$REPO/deploy/docker/Dockerfile" \
    --target "$role" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "GATEWAY_DOTNET=$GATEWAY_DOTNET" \
    "${PROVENANCE[@]}" --label "$BUILD_LABEL" -t "aftm/$role:$TAG" "$REPO" >/dev/null
  requirements=$REPO/deploy/.wheelhouse/requirements-$role.txt
  if [[ $role == gateway && $GATEWAY_DOTNET == mono ]]; then
    requirements=$REPO/deploy/.wheelhouse/requirements-gateway-pfcf.txt
  fi
  write_sbom "$role" "$requirements"
  say "aftm/$role:$TAG (base $BASE_IMAGE, commit ${revision:0:12}, sbom deploy/.sbom/$role.cdx.json)"
done
for tool in prometheus alertmanager; do
  docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$BUILD_LABEL" \
    -t "aftm/$tool:$TAG" "$REPO/deploy/$tool" >/dev/null
  say "aftm/$tool:$TAG (base $BASE_IMAGE)"
done
# Images this script's tags pointed at before are dangling now: remove them (only this tag's).
docker image prune --force --filter "label=$BUILD_LABEL" >/dev/null
say "done in $((SECONDS - started))s"
