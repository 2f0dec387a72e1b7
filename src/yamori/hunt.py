"""`yamori hunt`: run the engine over files, in parallel across files, streaming each file's events.

Memory stays flat with input size: events are read, matched and dropped one at a time; only detections and a
bounded sample of bad records are kept per file.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from yamori.alerts.detection import Detection, level_rank
from yamori.alerts.output import Renderer
from yamori.correlation.correlator import Observation
from yamori.correlation.offline import observation
from yamori.correlation.ruleset import CorrelationSet
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import CompiledRuleSet
from yamori.events import BadRecord, Event
from yamori.rules.model import RuleInfo
from yamori.sources.files import expand_paths, read_file

MAX_BAD_KEPT = 10_000
PROGRESS_EVERY = 5_000


@dataclass(slots=True)
class HuntOptions:
    workers: int = 0  # 0: one per core
    render: Renderer | None = None
    """Serialize each detection where it is found (in the worker), so that only bytes cross processes."""
    correlations: CorrelationSet | None = None
    """Correlation rules: detections of the rules they read become observations (correlated after all files)."""


@dataclass(slots=True)
class FileResult:
    path: str
    events: int = 0
    detections: list[Detection] = field(default_factory=list)
    """Detections without their event when ``rendered`` holds them in full."""
    rendered: list[bytes] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    bad_count: int = 0
    observations: list[Observation] = field(default_factory=list)
    candidates: int = 0
    rule_errors: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class HuntSummary:
    files: int = 0
    events: int = 0
    detections: int = 0
    bad_records: int = 0
    candidates: int = 0
    rule_errors: int = 0
    seconds: float = 0.0
    by_rule: Counter[str] = field(default_factory=Counter)
    by_level: Counter[str] = field(default_factory=Counter)
    by_tactic: Counter[str] = field(default_factory=Counter)
    rule_titles: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def add(self, result: FileResult, is_file: bool = True) -> None:
        self.files += is_file
        self.events += result.events
        self.detections += len(result.detections)
        self.bad_records += result.bad_count
        self.candidates += result.candidates
        self.rule_errors += result.rule_errors
        for detection in result.detections:
            rule = detection.rule
            self.by_rule[rule.id] += 1
            self.by_level[rule.level] += 1
            for tactic in detection.tactics:
                self.by_tactic[tactic] += 1
            self.rule_titles[rule.id] = (rule.title, rule.level, ", ".join(detection.tactics))


def make_engine(ruleset: CompiledRuleSet, min_level: str, correlations: CorrelationSet | None = None) -> Engine:
    """An engine running the rules at or above ``min_level``, and every rule a correlation reads; those below
    ``min_level`` feed their correlations only (added to ``correlations.silenced``)."""
    threshold = level_rank(min_level)
    read = correlations.routes if correlations is not None else {}
    if correlations is not None:
        silence_below_level(correlations, ruleset.infos, min_level)
    return Engine(ruleset, enabled=lambda info: level_rank(info.level) >= threshold or info.id in read)


def silence_below_level(correlations: CorrelationSet, infos: Iterable[RuleInfo], min_level: str) -> None:
    """Rules below ``min_level`` that correlations read run for them only: no alerts of their own."""
    threshold = level_rank(min_level)
    below = {info.id for info in infos if info.id in correlations.routes and level_rank(info.level) < threshold}
    correlations.silenced = correlations.silenced | below


def hunt_file(engine: Engine, path: Path, options: HuntOptions,
              progress: Callable[[int], None] | None = None) -> FileResult:
    """Match every event of one file; bad records are counted and a bounded sample kept."""
    return hunt_items(engine, str(path), read_file(path), options, progress)


def hunt_items(engine: Engine, name: str, items: Iterable[Event | BadRecord], options: HuntOptions,
               progress: Callable[[int], None] | None = None) -> FileResult:
    """Match every event of ``items`` (one file's, one stored hour's) into a result named ``name``."""
    started = time.perf_counter()
    result = FileResult(name)
    before = engine.stats.candidates, engine.stats.rule_errors
    infos = engine.infos
    render = options.render
    correlations = options.correlations
    routes = correlations.routes if correlations is not None else {}
    silenced = correlations.silenced if correlations is not None else frozenset()
    pending = 0
    for item in items:
        if isinstance(item, BadRecord):
            result.bad_count += 1
            if len(result.bad) < MAX_BAD_KEPT:
                result.bad.append(item)
            continue
        result.events += 1
        for index in engine.match(item):
            info = infos[index]
            if info.id in routes:
                assert correlations is not None
                result.observations.append(observation(correlations, info.id, item, f"{name}#{item.position}"))
                if info.id in silenced:
                    continue  # read by correlations only (generate: false): no alert of its own
            detection = Detection.of(info, item)
            if render is not None:
                result.rendered.append(render(detection))
                detection.event = None  # rendered in full above; the summary needs no more
            result.detections.append(detection)
        if progress is not None:
            pending += 1
            if pending >= PROGRESS_EVERY:
                progress(pending)
                pending = 0
    if progress is not None and pending:
        progress(pending)
    result.candidates = engine.stats.candidates - before[0]
    result.rule_errors = engine.stats.rule_errors - before[1]
    result.seconds = time.perf_counter() - started
    return result


_worker_engine: Engine | None = None
_worker_options: HuntOptions | None = None


def _hunt_in_worker(path: Path) -> FileResult:
    assert _worker_engine is not None and _worker_options is not None
    result = hunt_file(_worker_engine, path, _worker_options)
    index_of = _worker_index
    # the parent has the same rule infos: send an index, not a pickled RuleInfo per detection
    result.detections = [d.with_rule_index(index_of[id(d.rule)]) for d in result.detections]  # type: ignore[misc]
    return result


_worker_index: dict[int, int] = {}


def iter_results(paths: Iterable[Path], engine: Engine, options: HuntOptions,
                 progress: Callable[[int], None] | None = None) -> Iterator[FileResult]:
    """Hunt every file under ``paths``; files are spread over worker processes, results come in file order."""
    files = list(expand_paths(paths))
    workers = min(options.workers or os.cpu_count() or 1, len(files))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for file in files:
            yield hunt_file(engine, file, options, progress)
        return
    global _worker_engine, _worker_options, _worker_index
    _worker_engine, _worker_options = engine, options  # inherited by the forked workers
    _worker_index = {id(info): index for index, info in enumerate(engine.infos)}
    context = multiprocessing.get_context("fork")
    chunk = max(1, min(64, len(files) // (workers * 8)))  # fewer round trips for many small files
    with context.Pool(workers) as pool:
        for result in pool.imap(_hunt_in_worker, files, chunksize=chunk):
            for detection in result.detections:
                detection.rule = engine.infos[detection.rule]  # type: ignore[index, call-overload]
            if progress is not None:
                progress(result.events)
            yield result
