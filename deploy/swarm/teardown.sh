#!/usr/bin/env bash
# Remove a stack that deploy.sh deployed, and wait until it is gone: its services, task
# containers and network, then the secrets and configs deploy.sh created for it (labelled
# io.aftm.swarm-stack=NAME; nothing else is touched). The state volumes stay unless --volumes:
# they hold the journals (positions, orders) that a redeploy picks up again.
#
#   deploy/swarm/teardown.sh [--stack NAME] [--volumes]
#
# Volumes are per node: --volumes removes them on this node only (run it on each node).
set -euo pipefail

STACK=aftm
VOLUMES=false
while (($#)); do
  case $1 in
    --volumes) VOLUMES=true ;;
    --stack)
      STACK=${2:?--stack needs a name}
      shift
      ;;
    *)
      echo "usage: $0 [--stack NAME] [--volumes]" >&2
      exit 2
      ;;
  esac
  shift
done
NAMESPACE=com.docker.stack.namespace=$STACK
say() { echo "[swarm] $*"; }

# wait_gone WHAT COMMAND...: until COMMAND prints nothing, at most 90 s.
wait_gone() {
  local what=$1 deadline=$((SECONDS + 90))
  shift
  while [[ -n $("$@") ]]; do
    if ((SECONDS > deadline)); then
      echo "teardown.sh: $what still there after 90 s: $("$@" | tr '\n' ' ')" >&2
      exit 1
    fi
    sleep 1
  done
}

docker stack rm "$STACK" >/dev/null 2>&1 || true  # "nothing found" is already torn down
wait_gone "services" docker service ls --quiet --filter "label=$NAMESPACE"
wait_gone "task containers" docker ps --all --quiet --filter "label=$NAMESPACE"
wait_gone "networks" docker network ls --quiet --filter "label=$NAMESPACE"
say "stack $STACK removed"

for kind in secret config; do
  mapfile -t ours < <(docker "$kind" ls --quiet --filter "label=io.aftm.swarm-stack=$STACK")
  if ((${#ours[@]})); then
    docker "$kind" rm "${ours[@]}" >/dev/null
    say "removed ${#ours[@]} ${kind}s"
  fi
done
if $VOLUMES; then
  mapfile -t volumes < <(docker volume ls --quiet --filter "label=$NAMESPACE")
  if ((${#volumes[@]})); then
    docker volume rm "${volumes[@]}" >/dev/null
    say "removed ${#volumes[@]} volumes: ${volumes[*]}"
  fi
fi
