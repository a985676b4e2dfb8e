"""A single-node Docker Swarm for a test, and deploy/swarm/stack.yml deployed on it and removed.

The engine is put in swarm mode only when it is not in one already; a swarm this module did not
create is never left, and of anything it finds there it touches only what it made itself: a
stack with a name of its own, the secrets and configs deploy.sh labels with that name, node
labels it added. `Swarm.remove` undoes all of it and says what is left, if anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SWARM_DIR = REPO / "deploy" / "swarm"
IMAGE_TAG = "dev"  # what deploy/scripts/build-images.sh tags by default, and stack.yml runs
NODE_LABELS = ("aftm.gateway", "aftm.strategy", "aftm.executor")  # what deploy.sh --local adds
GWBRIDGE = "docker_gwbridge"  # made by `swarm init`, left behind by `swarm leave`
SERVICES = ("gateway", "strategy-a", "strategy-b", "executor-1", "executor-2", "prometheus")
# The published ports deploy.sh passes to stack.yml, by what listens behind them.
PORT_VARIABLES = {
    "gateway_pub": "AFTM_SWARM_GATEWAY_PUB_PORT",
    "gateway": "AFTM_SWARM_GATEWAY_ROUTER_PORT",
    "strategy-a": "AFTM_SWARM_STRATEGY_A_CONTROL_PORT",
    "strategy-b": "AFTM_SWARM_STRATEGY_B_CONTROL_PORT",
    "executor-1": "AFTM_SWARM_EXECUTOR_1_CONTROL_PORT",
    "executor-2": "AFTM_SWARM_EXECUTOR_2_CONTROL_PORT",
    "prometheus": "AFTM_SWARM_PROMETHEUS_PORT",
}


def docker(*args: str, timeout_s: float = 120, check: bool = True) -> str:
    """Run the docker CLI; with `check`, a failure raises with its stderr."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def run_script(script: Path, *args: str, env: Mapping[str, str], timeout_s: float) -> str:
    done = subprocess.run(
        [str(script), *args],
        capture_output=True,
        text=True,
        env=os.environ | dict(env),
        timeout=timeout_s,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script.name} {' '.join(args)} failed:\n{output}"
    return output


def build_images() -> None:
    """The images as build-images.sh builds them (tag dev); quick from the build cache."""
    run_script(
        REPO / "deploy" / "scripts" / "build-images.sh",
        env={"AFTM_TAG": IMAGE_TAG, "PYTHON": sys.executable},
        timeout_s=600,
    )


def wait_until(probe: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.5)


@dataclass
class Swarm:
    """This engine in swarm mode, created here unless it already was."""

    created: bool = False
    node: str = ""
    labels_added: list[str] = field(default_factory=list)
    gwbridge_existed: bool = True

    @classmethod
    def join(cls) -> Swarm:
        state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
        swarm = cls(gwbridge_existed=bool(network_ids(f"name=^{GWBRIDGE}$")))
        if state == "inactive":
            docker("swarm", "init", "--advertise-addr", "127.0.0.1")
            swarm.created = True
        else:
            manager = docker("info", "--format", "{{.Swarm.ControlAvailable}}").strip()
            assert manager == "true", f"the engine is in a swarm ({state}) but not a manager"
        swarm.node = docker("info", "--format", "{{.Swarm.NodeID}}").strip()
        present = docker("node", "inspect", "--format", "{{json .Spec.Labels}}", swarm.node)
        swarm.labels_added = [label for label in NODE_LABELS if f'"{label}"' not in present]
        return swarm

    def leave(self) -> list[str]:
        """Undo what `join` did; what is left of it, if anything."""
        if not self.created:
            if self.labels_added:
                removal = [arg for label in self.labels_added for arg in ("--label-rm", label)]
                docker("node", "update", *removal, self.node)
            return []
        docker("swarm", "leave", "--force", timeout_s=60)
        if not self.gwbridge_existed:
            wait_until(lambda: not containers_on(GWBRIDGE), 30, f"containers off {GWBRIDGE}")
            docker("network", "rm", GWBRIDGE, check=False)
        left = []
        if docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() != "inactive":
            left.append("the engine is still in a swarm")
        if not self.gwbridge_existed and network_ids(f"name=^{GWBRIDGE}$"):
            left.append(f"network {GWBRIDGE}")
        return left


def network_ids(name_filter: str) -> list[str]:
    return docker("network", "ls", "--quiet", "--filter", name_filter).split()


def containers_on(network: str) -> bool:
    found = docker("network", "inspect", "--format", "{{len .Containers}}", network, check=False)
    return found.strip() not in ("", "0")


@dataclass
class DeployedStack:
    """deploy/swarm/stack.yml deployed by deploy.sh --local under a name of its own."""

    folder: Path
    name: str = field(default_factory=lambda: f"aftmtest-{uuid.uuid4().hex[:8]}")
    ports: dict[str, int] = field(default_factory=dict)
    password: str = field(default_factory=lambda: f"aftm-swarm-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        self.keys = self.folder / "keys"
        self.password_file = self.folder / "broker-password.txt"
        self.password_file.write_text(self.password + "\n")

    def environment(self) -> dict[str, str]:
        return {
            "AFTM_TAG": IMAGE_TAG,
            "AFTM_KEYS_DIR": str(self.keys),
            "AFTM_GATEWAY_PASSWORD_FILE": str(self.password_file),
        } | {variable: str(self.ports[name]) for name, variable in PORT_VARIABLES.items()}

    def deploy(self) -> str:
        """deploy.sh --local; its output (a failure raises with it)."""
        done = self.deploy_result()
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"deploy.sh failed:\n{output}"
        return output

    def deploy_result(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SWARM_DIR / "deploy.sh"), "--local", "--stack", self.name],
            capture_output=True,
            text=True,
            env=os.environ | self.environment(),
            timeout=180,
            check=False,
        )

    def service(self, service: str) -> str:
        return f"{self.name}_{service}"

    def running_container(self, service: str) -> str:
        """The id of the service's running task container, or '' when none runs."""
        found = docker(
            *("ps", "--quiet", "--filter", "status=running"),
            *("--filter", f"label=com.docker.swarm.service.name={self.service(service)}"),
        )
        return next(iter(found.split()), "")

    def healthy(self, service: str) -> bool:
        container = self.running_container(service)
        if not container:
            return False
        status = docker("inspect", "--format", "{{.State.Health.Status}}", container, check=False)
        return status.strip() == "healthy"

    def logs(self, service: str, lines: int = 40) -> str:
        done = subprocess.run(
            ["docker", "service", "logs", "--raw", "--tail", str(lines), self.service(service)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout + done.stderr

    def remove(self) -> list[str]:
        """teardown.sh --volumes, then what of the stack is still there (nothing, if right)."""
        run_script(
            SWARM_DIR / "teardown.sh",
            *("--stack", self.name, "--volumes"),
            env={},
            timeout_s=240,
        )
        namespace = f"label=com.docker.stack.namespace={self.name}"
        owner = f"label=io.aftm.swarm-stack={self.name}"
        left = {
            "services": docker("service", "ls", "--quiet", "--filter", namespace, check=False),
            "containers": docker("ps", "--all", "--quiet", "--filter", namespace),
            "networks": docker("network", "ls", "--quiet", "--filter", namespace),
            "volumes": docker("volume", "ls", "--quiet", "--filter", namespace),
            "secrets": docker("secret", "ls", "--quiet", "--filter", owner, check=False),
            "configs": docker("config", "ls", "--quiet", "--filter", owner, check=False),
        }
        return [f"{kind}: {' '.join(ids.split())}" for kind, ids in left.items() if ids.strip()]
