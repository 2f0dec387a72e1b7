"""`yamori hunt --store`: Sigma rules as hunts over stored history, with the engine that hunts files.

The stored events of a time range (optionally narrowed by a search query) are read back as Events, hour by hour in
time order, and matched exactly as :func:`yamori.hunt.hunt_file` matches a file's events; each hour partition
gives one :class:`yamori.hunt.FileResult` (its ``path`` is the partition folder), so the hunt command reports,
renders and summarizes both kinds of hunt the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from yamori.alerts.detection import Detection
from yamori.engine.matcher import Engine
from yamori.hunt import PROGRESS_EVERY, FileResult, HuntOptions
from yamori.store.search import TimeArg, iter_partitions, time_range

__all__ = ["iter_store_results"]


def iter_store_results(root: Path, engine: Engine, options: HuntOptions, start: TimeArg = None,
                       end: TimeArg = None, query: str | None = None,
                       progress: Callable[[int], None] | None = None,
                       now: datetime | None = None) -> Iterator[FileResult]:
    """One result per hour partition of [start, end) holding matching events, in time order."""
    low, high = time_range(start, end, now)  # resolved once: "-1h" must not drift from partition to partition
    infos = engine.infos
    render = options.render
    for partition, events in iter_partitions(root, low, high, query):
        started = time.perf_counter()
        candidates, rule_errors = engine.stats.candidates, engine.stats.rule_errors
        result = FileResult(str(partition.path))
        pending = 0
        for event in events:
            result.events += 1
            for index in engine.match(event):
                detection = Detection.of(infos[index], event)
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
        if not result.events:
            continue
        result.candidates = engine.stats.candidates - candidates
        result.rule_errors = engine.stats.rule_errors - rule_errors
        result.seconds = time.perf_counter() - started
        yield result
