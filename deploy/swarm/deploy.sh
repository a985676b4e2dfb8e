#!/usr/bin/env bash
# Deploy deploy/swarm/stack.yml: make the CURVE keys once, create the swarm secrets and configs
# the stack names (idempotently), then `docker stack deploy`. Run it on a swarm manager.
#
#   deploy/swarm/deploy.sh [--local] [--windows-gateway] [--stack NAME]
#
#   --local       one node without IPVS (this project's VMs): dnsrr endpoints, host-mode ports,
#                 local images only, and the node labelled for every service when it is the
#                 swarm's only node. Without it: VIP endpoints and the ingress mesh.
#   --windows-gateway  the gateway's Windows image on a Windows node: windows.env's settings and
#                 stack.windows.yml's DLL mount (UNTESTED: no Windows node here)
#   --stack NAME  the stack's name and its secrets' and configs' prefix (default: aftm)
#
# AFTM_KEYS_DIR (default var/keys) holds the key pairs, made here on first use with the provision
# module of the strategy image (as docker-compose.yml's keys service does); the console on a host
# uses that folder. AFTM_GATEWAY_PASSWORD_FILE is the broker password (default: the simulated
# exchange's dev-only one). AFTM_TAG picks the images (dev); AFTM_REGISTRY (e.g.
# "registry.example:5000/") where the nodes pull them from on a real cluster.
#
# A secret that exists with other content is refused, not replaced: swarm secrets cannot change
# under a running service. To rotate, tear the stack down (teardown.sh) and deploy again.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STACK=aftm
LOCAL=false
FILES=(-c "$HERE/stack.yml")
while (($#)); do
  case $1 in
    --local) LOCAL=true ;;
    --windows-gateway)
      set -a
      # shellcheck source=windows.env
      . "$HERE/windows.env"
      set +a
      FILES+=(-c "$HERE/stack.windows.yml")
      ;;
    --stack)
      STACK=${2:?--stack needs a name}
      shift
      ;;
    *)
      echo "usage: $0 [--local] [--windows-gateway] [--stack NAME]" >&2
      exit 2
      ;;
  esac
  shift
done
if [[ ! $STACK =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]]; then
  echo "deploy.sh: stack name '$STACK' is not 1 to 31 of a-z 0-9 -" >&2
  exit 2
fi

TAG=${AFTM_TAG:-dev}
KEYS=${AFTM_KEYS_DIR:-$REPO/var/keys}
PASSWORD_FILE=${AFTM_GATEWAY_PASSWORD_FILE:-$REPO/deploy/secrets/sim-password.txt}
OWNER_LABEL=io.aftm.swarm-stack  # what teardown.sh removes: only what this script created
say() { echo "[swarm] $*"; }
fail() {
  echo "deploy.sh: $*" >&2
  exit 1
}

[[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] ||
  fail "this engine is not a swarm manager (docker swarm init, or run on a manager)"
[[ -r $PASSWORD_FILE ]] || fail "broker password file $PASSWORD_FILE is not readable"

# --- keys: one pair per role, made once --------------------------------------------------------
if [[ ! -e $KEYS/console.key_secret ]]; then
  mkdir -p "$KEYS"
  docker run --rm --network none --user 0 -v "$(cd "$KEYS" && pwd):/keys" \
    --entrypoint python "${AFTM_REGISTRY:-}aftm/strategy:$TAG" -m aftm.security.provision /keys
fi
for role in gateway strategy executor console; do
  [[ -r $KEYS/$role.key && -r $KEYS/$role.key_secret ]] || fail "$KEYS lacks $role's key pair"
done

# --- secrets and configs: created once, labelled with their content's digest -------------------
digest() { sha256sum "$1" | cut -c1-64; }
# ensure secret|config NAME FILE: create it, keep an equal one, refuse a different one.
ensure() {
  local kind=$1 name=$2 file=$3 want have
  want=$(digest "$file")
  if have=$(docker "$kind" inspect --format '{{index .Spec.Labels "io.aftm.sha256"}}' "$name" 2>/dev/null); then
    [[ $have == "$want" ]] || fail "$kind $name exists with other content; teardown.sh first to replace it"
    say "$kind $name kept"
  else
    docker "$kind" create --label "$OWNER_LABEL=$STACK" --label "io.aftm.sha256=$want" \
      "$name" "$file" >/dev/null
    say "$kind $name created"
  fi
}
ensure secret "${STACK}_broker_password" "$PASSWORD_FILE"
for role in gateway strategy executor; do  # the console's secret stays with the console
  ensure secret "${STACK}_${role}_key_secret" "$KEYS/$role.key_secret"
done
for role in gateway strategy executor console; do
  ensure config "${STACK}_${role}_key" "$KEYS/$role.key"
done
# A changed scrape config gets a new name, so a redeploy rolls Prometheus onto it.
PROMETHEUS_CONFIG=${STACK}_prometheus_$(digest "$HERE/prometheus.yml" | cut -c1-12)
ensure config "$PROMETHEUS_CONFIG" "$HERE/prometheus.yml"

# --- deploy ------------------------------------------------------------------------------------
export AFTM_TAG=$TAG AFTM_SWARM_GATEWAY_TAG=${AFTM_SWARM_GATEWAY_TAG:-$TAG} AFTM_SWARM_PREFIX=$STACK AFTM_SWARM_PROMETHEUS_CONFIG=$PROMETHEUS_CONFIG
if $LOCAL; then
  export AFTM_SWARM_ENDPOINT_MODE=dnsrr AFTM_SWARM_PORT_MODE=host
  RESOLVE=never  # local images; nothing to ask a registry
  nodes=$(docker node ls --quiet)
  if [[ $(wc -l <<<"$nodes") == 1 ]]; then
    docker node update --label-add aftm.gateway=true --label-add aftm.strategy=true \
      --label-add aftm.executor=true "$nodes" >/dev/null
    say "labelled the only node for gateway, strategy and executor"
  fi
else
  RESOLVE=${AFTM_SWARM_RESOLVE_IMAGE:-always}
fi
for label in aftm.gateway aftm.strategy aftm.executor; do
  [[ -n $(docker node ls --quiet --filter "node.label=$label=true") ]] ||
    fail "no node is labelled $label=true (docker node update --label-add $label=true NODE)"
done
docker stack deploy --detach=true --resolve-image "$RESOLVE" --prune "${FILES[@]}" "$STACK"
say "deployed stack $STACK (endpoints ${AFTM_SWARM_ENDPOINT_MODE:-vip}, ports ${AFTM_SWARM_PORT_MODE:-ingress}); watch: docker stack ps $STACK"
