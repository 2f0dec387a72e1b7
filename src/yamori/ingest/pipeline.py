"""The pipeline: write-ahead log → parse → ingest filter → Sigma engine → store, in its own process.

It reads the log from the store's committed position, so that after a ``kill -9`` it replays exactly what the
store does not hold: the store's batch write is atomic and records the last log position it covers
(exactly-once by log position). Events and their alerts are written in batches (every ``flush_seconds`` or
``batch_events``, whichever comes first), which bounds detection latency. Malformed records are counted per input
and kept in the dead-letter folder (JSON lines: input, source, position, reason, data); a replay after a crash may
write a dead letter twice. Files spooled by watched folders are deleted once their events are stored.

Several pipeline processes can share a log (``[pipeline] workers``): each takes the records of its stripe (seq
modulo the number of stripes), keeps its own committed position and files in the same store, and moves its
position past the other stripes' records as it reads them. They share nothing else, so they scale with cores.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import signal
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from yamori.alerts.detection import Detection
from yamori.correlation.correlator import CorrelationAlert, Correlator, event_seconds
from yamori.correlation.offline import observation
from yamori.correlation.ruleset import CorrelationSet, build_correlation_set
from yamori.engine.matcher import Engine
from yamori.events import BadRecord
from yamori.hunt import make_engine, silence_below_level
from yamori.ingest.decode import RecordDecoder
from yamori.ingest.filter import IngestFilter, parse_filter_rules
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.wal import WalReader, drop_segments_through, iter_records
from yamori.ops.metrics import PipelineStats
from yamori.store.compact import CompactionState
from yamori.store.events import EventStore
from yamori.store.fileio import write_durably
from yamori.store.layout import pipeline_lock_name, read_committed
from yamori.store.model import StoredAlert, StoredEvent
from yamori.store.stats import store_size
from yamori.triage.spool import write_spool

log = logging.getLogger(__name__)
MAX_FUTURE_SECONDS = 900.0
"""Event times further ahead of the clock are left out of correlation (docs/correlation.md)."""


@dataclass(slots=True)
class PipelineSettings:
    wal_dir: Path
    store_dir: Path
    dead_letter_dir: Path
    rule_paths: list[Path] = field(default_factory=list)
    min_level: str = "informational"
    filters: list[dict[str, Any]] = field(default_factory=list)
    batch_events: int = 20_000
    flush_seconds: float = 0.2
    stats_seconds: float = 0.5
    maintenance_seconds: float = 30.0
    retention_max_age_days: float | None = None
    retention_max_bytes: int | None = None
    stripe: int = 0
    """This pipeline's share of the log: the records whose seq modulo ``stripes`` is ``stripe``."""
    stripes: int = 1
    triage_dir: Path | None = None
    """Where each batch's alerts go for the alert manager (``yamori.triage.spool``); None: nowhere."""
    correlation_lateness: float = 5.0
    """Seconds of event time an observation may arrive late and still be correlated in order."""
    correlation_max_groups: int = 1_000_000
    """Per correlation rule: beyond this many open groups the oldest is evicted."""
    correlation_rebuild_seconds: float = 86_400.0
    """At start, at most this much of the latest stored event time is run through the correlator again."""


@dataclass(slots=True)
class _Batch:
    events: list[StoredEvent] = field(default_factory=list)
    alerts: list[StoredAlert] = field(default_factory=list)
    first_seq: int = -1
    last_seq: int = -1
    started: float = 0.0
    spooled: list[Path] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)
    triage: list[dict[str, Any]] = field(default_factory=list)


class Pipeline:
    """One pipeline over one log and one store; ``step()`` does one poll's worth of work."""

    def __init__(self, settings: PipelineSettings, engine: Engine, correlations: CorrelationSet | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.correlations = correlations if correlations is not None else \
            build_correlation_set(engine.infos, engine.ruleset.correlations)
        if self.correlations and settings.stripes > 1:
            # a group's detections would be spread over the stripes: no stripe could count them all
            log.error("correlation rules need [pipeline] workers = 1: %d correlation rules not run",
                      len(self.correlations.correlations))
            self.correlations = build_correlation_set(engine.infos, [])
        silence_below_level(self.correlations, engine.infos, settings.min_level)
        self.correlator = Correlator(self.correlations, settings.correlation_lateness,
                                     settings.correlation_max_groups, MAX_FUTURE_SECONDS) if self.correlations else None
        self._clock_alerts: list[CorrelationAlert] = []
        """Correlation alerts decided by the clock (``tick``): stored with the next record taken."""
        self._baselines_path = settings.store_dir / f"baselines-s{settings.stripe}.json"
        if self.correlator is not None:
            with contextlib.suppress(OSError, orjson.JSONDecodeError):
                self.correlator.restore_baselines(orjson.loads(self._baselines_path.read_bytes()))
        self.store = EventStore(settings.store_dir, settings.stripe)
        self.committed_seq = self.store.committed_seq()
        if self.correlator is not None:
            self._rebuild_correlation_state()
        self.reader = WalReader(settings.wal_dir, self.committed_seq)
        self.decoder = RecordDecoder()
        self.filter = IngestFilter(parse_filter_rules(settings.filters))
        self.stats = PipelineStats(committed_seq=self.committed_seq)
        self.batch = _Batch()
        self._rates: deque[tuple[float, int]] = deque(maxlen=20)
        self._last_maintenance = time.monotonic()
        self._compaction = CompactionState()
        self._remove_stored_spool_files()
        self.stats.store_bytes = store_size(settings.store_dir)

    def _rebuild_correlation_state(self) -> None:
        """After a restart, windows open before it must still complete: the stored events of the last timespan
        (and allowed lateness) go through the rules correlations read and the correlator again. What that
        decides was decided before the restart, and stored then: those alerts are dropped here."""
        correlator = self.correlator
        spans = [c.rule.timespan for c in self.correlations.correlations if c.rule.type != "new_terms"]
        if correlator is None or not spans or self.committed_seq < 0:
            return
        from yamori.store.search import iter_partitions_with_ids

        settings = self.settings
        reach = min(max(spans) + settings.correlation_lateness, settings.correlation_rebuild_seconds)
        start = datetime.fromtimestamp(time.time() - reach, UTC)
        routes = self.correlations.routes
        engine = Engine(self.engine.ruleset, enabled=lambda info: info.id in routes)
        infos = engine.infos
        seen = 0
        started = time.monotonic()
        for _, events in iter_partitions_with_ids(settings.store_dir, start):
            for event_id, event in events:
                moment = event_seconds(event.timestamp, math.nan)
                if moment != moment:  # no time: no place in a window
                    continue
                correlator.advance(moment)
                for rule_index in engine.match(event):
                    rule_id = infos[rule_index].id
                    if rule_id in routes:
                        seen += 1
                        correlator.push(observation(self.correlations, rule_id, event, event_id, moment))
        if seen:
            log.info("correlation state rebuilt from %d stored observations of the last %.0f s in %.1f s", seen,
                     reach, time.monotonic() - started)

    def _remove_stored_spool_files(self) -> None:
        """Spooled files whose events were stored just before a crash (between the store's commit and the
        deletion): their records are still in the log, at or below the committed position."""
        for seq, record in iter_records(self.settings.wal_dir):
            if seq > self.committed_seq:
                break
            if record.kind is RecordKind.FILE and seq % self.settings.stripes == self.settings.stripe:
                with contextlib.suppress(OSError):
                    Path(record.payload.decode("utf-8", "surrogateescape")).unlink()

    def step(self) -> int:
        """Process the records the log holds now (up to a batch), flushing when due; returns records read."""
        records = self.reader.poll(max_records=2_000)
        stripes, stripe = self.settings.stripes, self.settings.stripe
        for seq, record in records:
            if stripes > 1 and seq % stripes != stripe:
                self._pass(seq)  # another pipeline's record: this stripe's commit still moves past it
                continue
            self._take(seq, record)
            if len(self.batch.events) >= self.settings.batch_events:
                self.flush()
        batch = self.batch
        if batch.first_seq >= 0 and (time.monotonic() - batch.started >= self.settings.flush_seconds
                                     or len(batch.events) >= self.settings.batch_events):
            self.flush()
        return len(records)

    def _pass(self, seq: int) -> None:
        batch = self.batch
        if batch.first_seq < 0:
            batch.first_seq = seq
            batch.started = time.monotonic()
        batch.last_seq = seq

    def _take(self, seq: int, record: IngestRecord) -> None:
        self._pass(seq)
        batch = self.batch
        stats = self.stats
        input_name = record.input
        index = 0
        infos = self.engine.infos
        correlator = self.correlator
        received = record.received_ns / 1e9
        if self._clock_alerts:
            self._add_correlated(seq, 0, input_name, record.received_ns, self._clock_alerts)
            self._clock_alerts = []
        for item in self.decoder.events(seq, record):
            if isinstance(item, BadRecord):
                stats.parse_errors[input_name] = stats.parse_errors.get(input_name, 0) + 1
                batch.bad.append({"input": input_name, "seq": seq, "source": item.source,
                                  "position": item.position, "reason": item.reason, "data": item.data})
                continue
            stats.events_in[input_name] = stats.events_in.get(input_name, 0) + 1
            if not self.filter.keep(item, input_name):
                continue
            stored = StoredEvent(seq, index, input_name, record.received_ns, item)
            index += 1
            batch.events.append(stored)
            if correlator is None:
                for rule_index in self.engine.match(item):
                    self._add_alert(StoredAlert(seq, stored.index, input_name, record.received_ns,
                                                Detection.of(infos[rule_index], item)), item.fields)
                continue
            moment = event_seconds(item.timestamp, received)
            correlated = correlator.advance(moment)
            for rule_index in self.engine.match(item):
                info = infos[rule_index]
                if info.id in self.correlations.routes:
                    correlated += correlator.push(observation(self.correlations, info.id, item, stored.event_id,
                                                              moment))
                    if info.id in self.correlations.silenced:
                        continue
                self._add_alert(StoredAlert(seq, stored.index, input_name, record.received_ns,
                                            Detection.of(info, item)), item.fields)
            if correlated:
                self._add_correlated(seq, stored.index, input_name, record.received_ns, correlated)
        if record.kind is RecordKind.FILE:
            batch.spooled.append(Path(record.payload.decode("utf-8", "surrogateescape")))

    def _add_correlated(self, seq: int, index: int, input_name: str, received_ns: int,
                        alerts: list[CorrelationAlert]) -> None:
        """Correlation alerts go to the store with the record being processed (their ``event_id``); the events
        they rest on are listed in their ``matched`` column."""
        for alert in alerts:
            self._add_alert(StoredAlert(seq, index, input_name, received_ns, alert.detection()), alert.group,
                            alert.events)

    def _add_alert(self, stored: StoredAlert, fields: dict[str, Any], events: list[str] | None = None) -> None:
        batch = self.batch
        batch.alerts.append(stored)
        if self.settings.triage_dir is None:
            return
        detection = stored.detection
        rule = detection.rule
        batch.triage.append({
            "alert_id": stored.alert_id, "rule_id": rule.id, "title": rule.title, "level": rule.level,
            "tags": rule.tags, "timestamp": detection.timestamp, "received_ns": stored.received_ns,
            "input": stored.input, "event_ids": events if events is not None else [stored.event_id],
            "fields": fields, "correlation": events is not None})

    def tick(self) -> None:
        """While the log is quiet: let the clock close correlation windows (docs/correlation.md)."""
        correlator = self.correlator
        if correlator is not None:
            self._clock_alerts.extend(correlator.tick())
            self.stats.clock_wanted = bool(self._clock_alerts) or correlator.waiting()
            self.stats.correlation = correlator.counters()

    def flush(self) -> None:
        """Write the batch to the store (atomic, covering its log positions), then account for it."""
        batch = self.batch
        if batch.first_seq < 0:
            return
        self._write_dead_letters(batch.bad)
        if batch.triage and self.settings.triage_dir is not None:
            write_spool(self.settings.triage_dir, self.settings.stripe, batch.first_seq, batch.last_seq,
                        batch.triage)
        self.store.write_batch(batch.events, batch.alerts, batch.first_seq, batch.last_seq)
        stored_at = time.time_ns()
        stats = self.stats
        for alert in batch.alerts:
            stats.observe_latency(alert.detection.rule.id, alert.input, (stored_at - alert.received_ns) / 1e9)
        for path in batch.spooled:
            with contextlib.suppress(OSError):
                path.unlink()
        stats.stored += len(batch.events)
        stats.alerts += len(batch.alerts)
        stats.committed_seq = self.committed_seq = batch.last_seq
        self._rates.append((time.monotonic(), stats.stored))
        first_time, first_count = self._rates[0]
        elapsed = time.monotonic() - first_time
        stats.events_per_second = (stats.stored - first_count) / elapsed if elapsed > 0 else 0.0
        stats.filtered, stats.sampled_out = self.filter.counters()
        if self.correlator is not None:
            stats.correlation = self.correlator.counters()
            stats.clock_wanted = bool(self._clock_alerts) or self.correlator.waiting()
        self.batch = _Batch()

    def _write_dead_letters(self, bad: Sequence[dict[str, Any]]) -> None:
        if not bad:
            return
        folder = self.settings.dead_letter_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{datetime.now(UTC):%Y-%m-%d}.jsonl"
        with path.open("ab") as stream:
            stream.write(b"".join(orjson.dumps(entry) + b"\n" for entry in bad))

    def maintain(self, force: bool = False) -> None:
        """Drop consumed log segments, compact small store files, apply retention (every few seconds)."""
        now = time.monotonic()
        if not force and now - self._last_maintenance < self.settings.maintenance_seconds:
            return
        self._last_maintenance = now
        settings = self.settings
        # a log segment goes once every stripe is past it
        consumed = min(read_committed(settings.store_dir, stripe) for stripe in range(settings.stripes))
        drop_segments_through(settings.wal_dir, consumed)
        self._save_baselines()
        try:
            self.store.compact(self._compaction)
            retention = settings.retention_max_age_days is not None or settings.retention_max_bytes is not None
            if retention and settings.stripe == 0:  # one pipeline drops whole partitions, for every stripe
                max_age = None if settings.retention_max_age_days is None else settings.retention_max_age_days * 86400
                self.store.apply_retention(max_age, settings.retention_max_bytes)
            self.stats.store_bytes = store_size(settings.store_dir)
        except OSError as error:  # a full disk or a vanished file must not stop ingestion: next round retries
            log.error("store maintenance failed: %s", error)

    def _save_baselines(self) -> None:
        """new_terms baselines survive a restart (a month of "seen" must not be learnt again)."""
        if self.correlator is None:
            return
        baselines = self.correlator.baselines()
        if baselines:
            try:
                write_durably(self._baselines_path, orjson.dumps(baselines))
            except OSError as error:
                log.error("cannot save the new_terms baselines: %s", error)

    def close(self) -> None:
        self.flush()
        self._save_baselines()
        self.reader.close()


def run_pipeline(settings: PipelineSettings, stats_out: Connection, stop: Any) -> None:
    """Entry point of the pipeline process: run until ``stop`` (a multiprocessing Event) is set, then drain.

    It exits at once, without draining, when the server process dies (``kill -9``): the next server replays the
    log. It holds the store's lock, so a pipeline left over from a killed server can never write beside a new one.
    """
    from yamori.engine.ruleset import load_ruleset

    logging.basicConfig(level=logging.INFO, format="%(asctime)s pipeline %(levelname)s %(message)s")
    # Ctrl-C or a service manager signals the whole process group: the server stops the pipeline through
    # ``stop``, after its inputs, so that the pipeline drains what they accepted
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    with _store_lock(settings.store_dir, settings.stripe, lambda: os.getppid() != parent):
        ruleset = load_ruleset(settings.rule_paths)
        correlations = build_correlation_set(ruleset.infos, ruleset.correlations)
        pipeline = Pipeline(settings, make_engine(ruleset, settings.min_level, correlations), correlations)
        log.info("pipeline %d (stripe %d of %d): %d rules, resuming after log record %d", os.getpid(),
                 settings.stripe, settings.stripes, len(ruleset.infos), pipeline.committed_seq)
        stats_out.send(pipeline.stats)
        last_stats = time.monotonic()
        idle = 0.0
        while not stop.is_set():
            if os.getppid() != parent:
                log.error("server process gone: pipeline stops without draining (the log is replayed)")
                return
            if pipeline.step():
                idle = 0.0
            else:
                pipeline.tick()
                idle = min(0.02, idle + 0.002)  # back off when the log is quiet, stay responsive when it is not
                time.sleep(idle)
            pipeline.maintain()
            if time.monotonic() - last_stats >= settings.stats_seconds:
                stats_out.send(pipeline.stats)
                last_stats = time.monotonic()
        while pipeline.step():
            pass
        pipeline.close()
        stats_out.send(pipeline.stats)


@contextlib.contextmanager
def _store_lock(store_dir: Path, stripe: int, orphaned: Any) -> Iterator[None]:
    """An exclusive lock on the store folder, waited for (a previous pipeline may still be exiting)."""
    with (store_dir / pipeline_lock_name(stripe)).open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if orphaned():
                    raise SystemExit(0) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
