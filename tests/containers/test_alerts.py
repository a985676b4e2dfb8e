"""The alert rules of deploy/prometheus: their promtool unit tests pass, and fail when a rule
changes; every rule has a test that shows it firing; an alert travels from a scraped series
through the real Prometheus and Alertmanager images to a webhook with its labels, on a network
this test creates (no host port is published); and the compose stack wires the same pieces."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from tests.containers.alert_doubles import LISTENING, RECEIVED
from tests.containers.stack import IMAGE_TAG, REPO, Stack, base_image, docker
from tests.support.processes import http_json

RULES = REPO / "deploy" / "prometheus"
DOUBLES = Path(__file__).with_name("alert_doubles.py")
DEFAULT_BASE_IMAGE = "python:3.11-slim-bookworm"  # docker-compose.yml's default
LABEL = "org.testcontainers=true"  # what conftest's finaliser removes if a run is cut short
WEBHOOK_PORT = 9095
EXPORTER_PORT = 9103
# A healthy executor and gateway, but for one settled position difference.
METRICS = """\
aftm_executor_position_difference_lots{account="A",symbol="TXFL6"} 2
aftm_executor_reconcile_halted 0
aftm_executor_unclosed_trades 0
aftm_executor_held_exits 0
aftm_executor_entries_blocked 0
aftm_executor_daily_loss_limit_breached 0
aftm_executor_heartbeat_age_seconds 0.5
aftm_gateway_logged_in 1
"""
# Fast enough that the alert fires within seconds; the rules are the image's own.
PROMETHEUS_CONFIG = f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - /etc/prometheus/alerts.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["alertmanager:9093"]
scrape_configs:
  - job_name: aftm
    static_configs:
      - targets: ["exporter:{EXPORTER_PORT}"]
        labels: {{service: executor}}
"""
Notification = dict[str, Any]  # Alertmanager's webhook JSON


def build(tool: str) -> str:
    """deploy/<tool> as aftm/<tool>:test, from the base the compose stack uses here."""
    image = f"aftm/{tool}:{IMAGE_TAG}"
    base = base_image() or DEFAULT_BASE_IMAGE
    docker(
        *("build", "--quiet", "--build-arg", f"BASE_IMAGE={base}", "--tag", image),
        str(REPO / "deploy" / tool),
        timeout_s=600,
    )
    return image


@pytest.fixture(scope="module")
def prometheus_image() -> str:
    """Its build runs `promtool check rules`: a rule that does not parse fails here."""
    return build("prometheus")


@pytest.fixture(scope="module")
def alertmanager_image() -> str:
    return build("alertmanager")


def promtool_test_rules(image: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`promtool test rules alerts.test.yml` in FOLDER (which holds alerts.yml too)."""
    return subprocess.run(
        [
            *("docker", "run", "--rm", "--label", LABEL, "--network", "none"),
            *("--volume", f"{folder}:/rules:ro", "--entrypoint", "promtool", image),
            *("test", "rules", "/rules/alerts.test.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rule_names() -> set[str]:
    return set(re.findall(r"^\s*- alert: (\w+)$", (RULES / "alerts.yml").read_text(), re.M))


def test_every_rule_passes_its_unit_tests(prometheus_image: str) -> None:
    done = promtool_test_rules(prometheus_image, RULES)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_rule_has_a_unit_test_that_shows_it_firing() -> None:
    rules = rule_names()
    # An expectation with alerts: `exp_alerts:` ending its line, not `exp_alerts: []`.
    tested = re.findall(
        r"alertname: (\w+)\n\s+exp_alerts:\n", (RULES / "alerts.test.yml").read_text()
    )

    assert len(rules) >= 10
    assert rules - set(tested) == set()


# Each turns alerts.yml into a rule that behaves differently from what alerts.test.yml says.
BROKEN_RULES = {
    "a negative difference no longer fires": (
        "aftm_executor_position_difference_lots != 0",
        "aftm_executor_position_difference_lots > 0",
    ),
    "an unclosed trade waits twice as long": (
        "aftm_executor_unclosed_trades * 0) > 0\n        for: 1m",
        "aftm_executor_unclosed_trades * 0) > 0\n        for: 2m",
    ),
    "a held exit becomes critical": (
        "aftm_executor_held_exits * 0) > 0\n        for: 1m\n        labels:\n"
        "          severity: warning",
        "aftm_executor_held_exits * 0) > 0\n        for: 1m\n        labels:\n"
        "          severity: critical",
    ),
    "exits waiting for the open count as an alarm again": (
        "- (aftm_executor_exits_waiting_for_open or aftm_executor_held_exits * 0) > 0",
        "> 0",
    ),
    "the description loses its console command": (
        "Log it in again with `aftm login`",
        "Log it in again",
    ),
    "a restart counts as stale entries": (
        "increase(aftm_executor_stale_entries_total[5m]) > 0",
        "delta(aftm_executor_stale_entries_total[5m]) != 0",
    ),
}


@pytest.mark.parametrize(("original", "broken"), BROKEN_RULES.values(), ids=BROKEN_RULES.keys())
def test_a_changed_rule_fails_its_unit_tests(
    prometheus_image: str, tmp_path: Path, original: str, broken: str
) -> None:
    rules = (RULES / "alerts.yml").read_text()
    assert rules.count(original) == 1, f"alerts.yml no longer holds {original!r}"
    (tmp_path / "alerts.yml").write_text(rules.replace(original, broken))
    shutil.copy(RULES / "alerts.test.yml", tmp_path)
    tmp_path.chmod(0o755)  # the image runs promtool as the user prometheus
    for copied in tmp_path.iterdir():
        copied.chmod(0o644)

    done = promtool_test_rules(prometheus_image, tmp_path)

    assert done.returncode != 0, done.stdout
    assert "FAILED" in done.stdout + done.stderr


def test_alertmanager_refuses_a_webhook_url_it_cannot_use(alertmanager_image: str) -> None:
    done = subprocess.run(
        [
            *("docker", "run", "--rm", "--label", LABEL, "--network", "none"),
            *("--env", "AFTM_ALERT_WEBHOOK_URL=alerts.example.com/no-scheme", alertmanager_image),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert "webhook URL must be http(s)://" in done.stderr


# --- end to end: exporter -> Prometheus -> Alertmanager -> webhook ------------------------------


def double(role: str, port: int, network: Network) -> DockerContainer:
    return (
        DockerContainer(base_image() or DEFAULT_BASE_IMAGE)
        .with_network(network)
        .with_network_aliases(role)
        .with_volume_mapping(str(DOUBLES), "/opt/alert_doubles.py", "ro")
        .with_command(["python3", "/opt/alert_doubles.py", role, str(port)])
        .with_env("METRICS", METRICS)
        .waiting_for(LogMessageWaitStrategy(LISTENING))
    )


def notifications(receiver: DockerContainer) -> list[Notification]:
    stdout, _ = receiver.get_logs()
    return [
        json.loads(line.removeprefix(RECEIVED))
        for line in stdout.decode().splitlines()
        if line.startswith(RECEIVED)
    ]


def logs(*containers: DockerContainer) -> str:
    return "\n".join(
        f"--- {container.get_wrapped_container().name}\n{b''.join(container.get_logs()).decode()}"
        for container in containers
    )


@pytest.fixture
def chain(
    tmp_path: Path, prometheus_image: str, alertmanager_image: str
) -> Iterator[dict[str, DockerContainer]]:
    """Exporter, Prometheus (test config, the image's rules), Alertmanager (the image's config,
    webhook URL set to the receiver) and the receiver, on a network of their own."""
    config = tmp_path / "prometheus"
    config.mkdir(mode=0o755)
    (config / "prometheus.yml").write_text(PROMETHEUS_CONFIG)
    (config / "prometheus.yml").chmod(0o644)
    with ExitStack() as stack:
        network = stack.enter_context(Network())
        started = {
            "receiver": stack.enter_context(double("receiver", WEBHOOK_PORT, network)),
            "exporter": stack.enter_context(double("exporter", EXPORTER_PORT, network)),
        }
        alertmanager = (
            DockerContainer(alertmanager_image)
            .with_network(network)
            .with_network_aliases("alertmanager")
            .with_env("AFTM_ALERT_WEBHOOK_URL", f"http://receiver:{WEBHOOK_PORT}/alerts")
        )
        started["alertmanager"] = stack.enter_context(alertmanager)
        prometheus = (
            DockerContainer(prometheus_image)
            .with_network(network)
            .with_volume_mapping(str(config), "/etc/aftm-test", "ro")
            .with_command(
                [
                    "--config.file=/etc/aftm-test/prometheus.yml",
                    "--storage.tsdb.path=/var/lib/prometheus/metrics2",
                    "--web.listen-address=0.0.0.0:9090",
                ]
            )
        )
        started["prometheus"] = stack.enter_context(prometheus)
        yield started


@pytest.mark.slow
def test_a_position_difference_reaches_the_webhook_with_its_labels(
    chain: dict[str, DockerContainer],
) -> None:
    deadline = time.monotonic() + 90
    received: list[Notification] = []
    while not received and time.monotonic() < deadline:
        time.sleep(1)
        received = notifications(chain["receiver"])
    assert received, f"no notification within 90 s\n{logs(*chain.values())}"

    first = received[0]
    alerts = first["alerts"]
    assert (first["receiver"], first["status"]) == ("aftm-webhook", "firing")
    assert [alert["labels"] for alert in alerts] == [
        {
            "alertname": "PositionsDifferFromBroker",
            "severity": "critical",
            "account": "A",
            "symbol": "TXFL6",
            "job": "aftm",
            "service": "executor",
            "instance": f"exporter:{EXPORTER_PORT}",
        }
    ]
    annotations = alerts[0]["annotations"]
    assert annotations["summary"] == (
        "A TXFL6: the executor's book differs from the broker by 2 lots"
    )
    assert "`aftm reconcile --accept`" in annotations["description"]
    # A healthy rest fires nothing else.
    names = {alert["labels"]["alertname"] for n in received for alert in n["alerts"]}
    assert names == {"PositionsDifferFromBroker"}


# --- the compose stack ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_stack_loads_the_rules_and_sends_to_its_alertmanager(stack: Stack) -> None:
    data = stack.prometheus("/api/v1/rules")
    assert isinstance(data, dict)
    loaded = {rule["name"] for group in data["groups"] for rule in group["rules"]}
    assert loaded == rule_names()

    def alertmanager_found() -> list[str] | None:
        found = stack.prometheus("/api/v1/alertmanagers")
        assert isinstance(found, dict)
        return [manager["url"] for manager in found["activeAlertmanagers"]] or None

    urls = stack.wait_for(alertmanager_found, 60, "Prometheus to find the Alertmanager")
    assert urls == ["http://alertmanager:9093/api/v2/alerts"]
    assert stack.health("alertmanager") == "healthy"
    status, body = http_json(f"http://127.0.0.1:{stack.ports['alertmanager']}/api/v2/status")
    assert status == 200, body
    config = body["config"]
    assert isinstance(config, dict)
    assert "http://alert-receiver:9095/alerts" in config["original"]
