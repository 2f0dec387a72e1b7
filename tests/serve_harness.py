"""Start a real ``yamori serve`` process for tests: its own data folder, free loopback ports, tokens in its
environment, Yamori's bundled rules; helpers to call its API and wait for what it stores."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
TOKENS = {"YAMORI_ADMIN_TOKEN": "admin-test-token-0123456789", "YAMORI_READER_TOKEN": "reader-test-token-0123456789",
          "YAMORI_HEC_TOKEN": "hec-test-token-0123456789", "YAMORI_INGEST_TOKEN": "ingest-test-token-0123456789"}


_started: list[subprocess.Popen[bytes]] = []


@atexit.register
def _kill_leftovers() -> None:
    """A test that failed before stopping its server must not leave it running (and using a core)."""
    for process in _started:
        if process.poll() is None:
            process.kill()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    config: Path
    log: Path
    ports: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[f'YAMORI_{role.upper()}_TOKEN']}"}

    def hec_headers(self) -> dict[str, str]:
        return {"Authorization": f"Splunk {TOKENS['YAMORI_HEC_TOKEN']}"}

    def get(self, path: str, role: str = "admin", **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=self.headers(role), timeout=30)

    def status(self) -> dict[str, Any]:
        response = self.get("/api/v1/status")
        response.raise_for_status()
        return dict(response.json())

    def wait_until(self, check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"yamori serve exited ({self.process.returncode}):\n{self.log_text()}")
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.log_text()[-4000:]}")

    def wait_stored(self, count: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the pipeline has stored at least ``count`` events and committed everything received."""
        def done() -> bool:
            status = self.status()
            return bool(status["stored_events"] >= count and status["log"]["backlog_records"] == 0)
        self.wait_until(done, timeout, f"{count} stored events")
        return self.status()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def write_config(path: Path, data_dir: Path, api_port: int, extra: str = "", rules: list[Path] | None = None,
                 pipeline: str = "flush_seconds = 0.05\nmaintenance_seconds = 2") -> None:
    rule_list = ", ".join(f'"{rule}"' for rule in (rules or [REPO / "rules"]))
    path.write_text(f'data_dir = "{data_dir}"\n\n[rules]\npaths = [{rule_list}]\n\n'
                    f'[api]\nlisten = "127.0.0.1:{api_port}"\n\n[pipeline]\n{pipeline}\n\n{extra}\n',
                    encoding="utf-8")


def start_server(base: Path, extra: str = "", *, env: dict[str, str] | None = None, rules: list[Path] | None = None,
                 pipeline: str = "flush_seconds = 0.05\nmaintenance_seconds = 2", api_port: int | None = None,
                 data_dir: Path | None = None, wait: bool = True) -> RunningServer:
    """Start ``yamori serve`` with a configuration in ``base``; ``extra`` is appended TOML (inputs, filters...)."""
    base.mkdir(parents=True, exist_ok=True)
    config = base / "yamori.toml"
    data_dir = data_dir or base / "data"
    if config.exists() and not (extra or rules):  # a restart: same configuration, same port
        api_port = int(tomllib.loads(config.read_text())["api"]["listen"].rpartition(":")[2])
    else:
        api_port = api_port or free_port()
        write_config(config, data_dir, api_port, extra, rules, pipeline)
    log = base / f"serve-{time.time_ns()}.log"
    environment = {**os.environ, **TOKENS, **(env or {})}
    environment.setdefault("YAMORI_CACHE_DIR", str(base / "cache"))
    process = subprocess.Popen([sys.executable, "-m", "yamori.cli.main", "serve", "--config", str(config)],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, env=environment, cwd=base)
    server = RunningServer(process, f"http://127.0.0.1:{api_port}", data_dir, config, log)
    _started.append(process)
    if wait:
        wait_ready(server)
    return server


def wait_ready(server: RunningServer, timeout: float = 60.0) -> None:
    def ready() -> bool:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code != 200:
                return False
            return bool(server.status()["pipeline_alive"])
        except httpx.HTTPError:
            return False
    server.wait_until(ready, timeout, "the server to answer /healthz")
