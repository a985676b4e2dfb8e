"""Real service processes for integration tests: free ports, start, wait until healthy, kill."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def http_json(url: str, timeout_s: float = 2.0) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def plain_unless_keyed(module: str, env: Mapping[str, str]) -> dict[str, str]:
    """A test that gives a service no keys runs it on plain TCP (its INSECURE switch), as its
    clients in the test have no keys either; tests of CURVE pass KEYS_DIR (see keyed_env)."""
    prefix = "AFTM_" + module.removeprefix("aftm_").upper() + "_"
    if prefix + "KEYS_DIR" in env:
        return {}
    return {prefix + "INSECURE": "true"}


def keyed_env(module: str, keys_dir: Path) -> dict[str, str]:
    """The settings that run `module` with CURVE keys from `keys_dir` (aftm keys init)."""
    prefix = "AFTM_" + module.removeprefix("aftm_").upper() + "_"
    return {prefix + "KEYS_DIR": str(keys_dir), prefix + "INSECURE": "false"}


class ServiceProcess:
    """`python -m MODULE` with the given environment, logs to a file in the test's tmp_path."""

    def __init__(self, module: str, env: Mapping[str, str], log_path: Path) -> None:
        self.module = module
        self.env = {**plain_unless_keyed(module, env), **os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdout=log, stderr=log
        )
        return self

    def wait_healthy(self, metrics_port: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                status, _ = http_json(f"http://127.0.0.1:{metrics_port}/health", timeout_s=0.5)
                if status == 200:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.module} not healthy after {timeout_s}s:\n{self.log()}")

    def assert_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.module} exited {self.process.returncode}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the crash a kill test is about, with no chance to clean up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM and wait: a clean stop must finish well inside the timeout."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(f"{self.module} ignored SIGTERM:\n{self.log()}") from None
        return self.process.returncode
