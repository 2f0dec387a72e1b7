"""``yamori serve``: one process with the inputs and the HTTP API, and a pipeline process doing the work.

The server process receives (syslog, HTTP/HEC, file tails, watched folders), appends to the write-ahead log and
acknowledges; the pipeline process (:mod:`yamori.ingest.pipeline`; ``[pipeline] workers`` of them, each on
its stripe of the log) parses, filters, detects and stores. Two
processes because the machine has two cores and each half is Python-bound; the log between them is also what
makes a ``kill -9`` lose nothing acknowledged. The server restarts a pipeline process that dies, and reads its
counters (sent twice a second) for ``/metrics``, ``/api/v1/status`` and push-back.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import multiprocessing
import signal
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

import uvicorn

from yamori.api.app import ServerState, create_app
from yamori.api.audit import AuditLog
from yamori.api.auth import Authenticator
from yamori.api.incident_routes import build_incident_router
from yamori.api.noise_routes import build_noise_router
from yamori.api.triage_routes import build_triage_router
from yamori.config import ConfigError, ServeConfig, split_listen
from yamori.exceptions import YamoriError
from yamori.ingest.pipeline import PipelineSettings, run_pipeline
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink, Limits
from yamori.ingest.wal import WalWriter
from yamori.ops.metrics import InputMetrics, PipelineCollector, PipelineStats, merge_stats
from yamori.paths import default_rules_dirs
from yamori.secrets import secret_file_path
from yamori.triage.db import database_url
from yamori.triage.manager import AlertManager

log = logging.getLogger("yamori.serve")
CLOCK_SECONDS = 1.0


class Input(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(slots=True)
class PipelineProcess:
    """Runs the pipeline in a child process and restarts it when it dies."""

    settings: PipelineSettings
    on_stats: Any
    process: multiprocessing.process.BaseProcess | None = None
    restarts: int = 0
    _stop: Any = None
    _receiver: Connection | None = None
    _closing: bool = False
    _thread: threading.Thread | None = None
    _context: Any = field(default_factory=lambda: multiprocessing.get_context("spawn"))

    def start(self) -> None:
        self._launch()
        self._thread = threading.Thread(target=self._watch, name="pipeline-watch", daemon=True)
        self._thread.start()

    def _launch(self) -> None:
        receiver, sender = self._context.Pipe(duplex=False)
        self._stop = self._context.Event()
        self.process = self._context.Process(target=run_pipeline, args=(self.settings, sender, self._stop),
                                             name="yamori-pipeline", daemon=True)
        self.process.start()
        sender.close()
        self._receiver = receiver

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def _watch(self) -> None:
        while not self._closing:
            receiver = self._receiver
            try:
                if receiver is not None and receiver.poll(0.2):
                    self.on_stats(receiver.recv())
                    continue
            except (EOFError, OSError):
                pass
            if not self._closing and not self.alive():
                self.restarts += 1
                log.error("pipeline process exited (code %s); restarting (restart %d)",
                          self.process.exitcode if self.process else None, self.restarts)
                time.sleep(min(5.0, 0.5 * self.restarts))
                if not self._closing:
                    self._launch()

    def stop(self, timeout: float = 30.0) -> None:
        self._closing = True
        if self._stop is not None:
            self._stop.set()
        if self.process is not None:
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()
        receiver = self._receiver
        with contextlib.suppress(EOFError, OSError):
            while receiver is not None and receiver.poll(0):
                self.on_stats(receiver.recv())
        if self._thread is not None:
            self._thread.join(2)


class Server:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        config.data_dir.chmod(0o700)  # events, alerts and the audit log are for Yamori's own user only
        for folder in (config.wal_dir, config.store_dir, config.state_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = (config.data_dir / ".serve.lock").open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise YamoriError(f"another yamori serve is using {config.data_dir}") from None
        from yamori.store.events import prepare_stripes
        from yamori.store.layout import read_committed

        workers = self._workers()
        prepare_stripes(config.store_dir, workers)
        commits = [read_committed(config.store_dir, stripe) for stripe in range(workers)]
        committed = min(commits)
        self.input_metrics = InputMetrics()
        self.collector = PipelineCollector()
        self.input_metrics.registry.register(self.collector)
        self.wal = WalWriter(config.wal_dir, start_after=max(commits))
        limits = Limits(**config.limits) if config.limits else Limits()
        self.sink = IngestSink(self.wal, self.input_metrics, limits, committed_seq=committed)
        self.input_metrics.backlog.set_function(self.sink.backlog_records)  # live, also while the pipeline is down
        self._stats: list[PipelineStats | None] = [None] * workers
        self.pipelines = [PipelineProcess(self._pipeline_settings(stripe, workers), self._stats_of(stripe))
                          for stripe in range(workers)]
        self.alerts = AlertManager(config.triage, config.base_dir, config.triage_dir,
                                   database_url(config.state_dir))
        self.authenticator = Authenticator.from_config(config.api.tokens)
        self.audit = AuditLog(config.audit_log)
        self.inputs: list[Input] = self._build_inputs()
        self._web_tls = self._api_tls()
        self.state = ServerState(config, self.sink, self.authenticator, self.input_metrics, self.collector,
                                 self.audit, self.input_metrics.registry,
                                 lambda: all(pipeline.alive() for pipeline in self.pipelines),
                                 lambda: self.pipelines[0].pid(),
                                 lambda: sum(pipeline.restarts for pipeline in self.pipelines),
                                 lambda: [pipeline.pid() for pipeline in self.pipelines])
        self.state.routers = [build_triage_router(self.alerts), build_noise_router(self.alerts.sessions),
                              build_incident_router(self.alerts.sessions, self.alerts.risk)]
        self._stopping = asyncio.Event()

    def _workers(self) -> int:
        value = self.config.pipeline.get("workers", 1)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
            raise ConfigError(f"pipeline.workers must be a whole number from 1 to 64, not {value!r}")
        return value

    def _pipeline_settings(self, stripe: int, stripes: int) -> PipelineSettings:
        config = self.config
        settings = PipelineSettings(config.wal_dir, config.store_dir, config.dead_letter_dir,
                                    config.rule_paths or default_rules_dirs(), config.min_level, config.filters,
                                    retention_max_age_days=config.retention_max_age_days,
                                    retention_max_bytes=config.retention_max_bytes)
        settings.stripe, settings.stripes = stripe, stripes
        settings.triage_dir = config.triage_dir
        for key, value in config.pipeline.items():
            if key == "workers":
                continue
            try:
                setattr(settings, key, type(getattr(settings, key))(value))
            except (TypeError, ValueError) as error:
                raise ConfigError(f"pipeline.{key}: {error}") from error
        return settings

    def _stats_of(self, stripe: int) -> Callable[[PipelineStats], None]:
        def received(stats: PipelineStats) -> None:
            self._stats[stripe] = stats
            known = [part for part in self._stats if part is not None]
            self.collector.stats = merge_stats(known)
            if len(known) == len(self._stats):  # the log is consumed as far as the slowest stripe
                self.sink.set_committed(self.collector.stats.committed_seq)
        return received

    def _build_inputs(self) -> list[Input]:
        from yamori.sources.inputs import build_inputs

        return build_inputs(self.config, self.sink, self.input_metrics)

    def _api_tls(self) -> dict[str, Any]:
        api = self.config.api
        if api.tls_cert is None:
            return {}
        key_env = api.tls_key_env or "YAMORI_API_TLS_KEY"
        return {"ssl_certfile": str(api.tls_cert), "ssl_keyfile": str(secret_file_path(key_env)),
                "ssl_version": ssl.PROTOCOL_TLS_SERVER}

    async def run(self) -> None:
        config = self.config
        self.alerts.start()
        for pipeline in self.pipelines:
            pipeline.start()
        for item in self.inputs:
            await item.start()
        self.state.inputs = [{"name": config.api.hec_input, "kind": "HEC"},
                             *({"name": item.name, "kind": type(item).__name__} for item in self.inputs)]
        host, port = split_listen(config.api.listen)
        ssl_options = self._web_tls
        uvicorn_config = uvicorn.Config(create_app(self.state), host=host, port=port, log_level="warning",
                                        access_log=False, lifespan="off", timeout_keep_alive=30, **ssl_options)
        web = uvicorn.Server(uvicorn_config)
        loop = asyncio.get_running_loop()
        # uvicorn takes SIGTERM/SIGINT while it serves and raises them again when it stops: they reach these
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal_number, self._stopping.set)
        web_task = asyncio.create_task(web.serve())
        log.info("yamori serve: API and HEC on %s, inputs %s, data in %s, tokens loaded: %s",
                 config.api.listen, ", ".join(item.name for item in self.inputs) or "none", config.data_dir,
                 ", ".join(self.authenticator.names) or "none (every call but /healthz will be refused)")
        stopped = asyncio.create_task(self._stopping.wait())
        clock = asyncio.create_task(self._clock())
        await asyncio.wait({web_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        clock.cancel()
        web.should_exit = True
        for item in self.inputs:
            with contextlib.suppress(Exception):
                await item.stop()
        with contextlib.suppress(Exception):
            await web_task
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def _clock(self) -> None:
        """Append a clock record once a second while the log is quiet and a pipeline waits for time to pass."""
        while True:
            await asyncio.sleep(CLOCK_SECONDS)
            wanted = any(stats is not None and stats.clock_wanted for stats in self._stats)
            if wanted and time.monotonic() - self.sink.last_append >= CLOCK_SECONDS:
                with contextlib.suppress(Exception):  # a full disk is reported by the inputs, not here
                    await self.sink.submit([IngestRecord("clock", RecordKind.CLOCK, b"", time.time_ns())],
                                           check=False)

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        for pipeline in self.pipelines:
            pipeline.stop()
        self.alerts.stop()  # after the pipelines: it handles what they stored last
        self.sink.close()
        self.audit.close()
