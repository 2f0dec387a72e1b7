"""`yamori hunt --store`: Sigma rules as hunts over stored history, with the engine that hunts files.

The stored events of a time range (optionally narrowed by a search query) are read back as Events, hour by hour in
time order, and matched exactly as :func:`yamori.hunt.hunt_file` matches a file's events; each hour partition
gives one :class:`yamori.hunt.FileResult` (its ``path`` is the partition folder), so the hunt command reports,
renders and summarizes both kinds of hunt the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from yamori.engine.matcher import Engine
from yamori.hunt import FileResult, HuntOptions, hunt_items
from yamori.store.search import TimeArg, iter_partitions, time_range

__all__ = ["iter_store_results"]


def iter_store_results(root: Path, engine: Engine, options: HuntOptions, start: TimeArg = None,
                       end: TimeArg = None, query: str | None = None,
                       progress: Callable[[int], None] | None = None,
                       now: datetime | None = None) -> Iterator[FileResult]:
    """One result per hour partition of [start, end) holding matching events, in time order."""
    low, high = time_range(start, end, now)  # resolved once: "-1h" must not drift from partition to partition
    for partition, events in iter_partitions(root, low, high, query):
        result = hunt_items(engine, str(partition.path), events, options, progress)
        if not result.events:
            continue
        yield result
