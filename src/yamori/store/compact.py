"""Compaction: merge the many small files the pipeline writes (one per partition every fraction of a second).

Size-tiered, so that a busy partition is not rewritten again and again: files are grouped in tiers by size
(each tier ``TIER_FACTOR`` times the one below) and a run of ``min_files`` seq-adjacent files of one tier becomes
one file of the next tier, so an event is rewritten about three times on its way to ``target_bytes`` at 20,000
events/s. Once a partition has been idle for ``idle_seconds`` (its hour is over, or a replay of old logs ended),
every run of adjacent files below a quarter of ``target_bytes`` is merged, so that a settled partition ends as
one file (or a few large ones). Only seq-adjacent files are merged, so that a merged file's seq range
covers exactly the files it replaces.

Crash safety: the merged file is written (temporary file, fsync, rename) before its inputs are deleted; a crash in
between leaves inputs that the merged file covers, which readers ignore and recovery deletes
(:mod:`yamori.store.layout`). A :class:`CompactionState` kept between calls remembers settled partitions by
folder mtime, so a call that has nothing to do costs a ``stat`` per partition.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from yamori.store import layout
from yamori.store.fileio import unlink, write_options

MIN_FILES = 10
TIER_FACTOR = 10
TIER_BASE = 256 * 1024
TARGET_BYTES = 256 * 1024 * 1024
IDLE_SECONDS = 300.0
ROW_GROUP_ROWS = 64 * 1024
"""Rows per row group of a merged file: enough for fast scans, few enough that merging holds little in memory."""


@dataclass(slots=True)
class CompactionState:
    """Partitions known to need nothing, by folder: the folder's mtime when that was found."""

    settled: dict[Path, int] = field(default_factory=dict)


@dataclass(slots=True)
class CompactionResult:
    partitions_checked: int = 0
    merges: int = 0
    files_merged: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def tier(size: int) -> int:
    return 0 if size < TIER_BASE else 1 + int(math.log(size / TIER_BASE, TIER_FACTOR))


def plan_merges(files: list[layout.DataFile], idle: bool, min_files: int = MIN_FILES,
                target_bytes: int = TARGET_BYTES) -> list[list[layout.DataFile]]:
    """Groups of seq-adjacent live files to merge (each group at least two files)."""
    groups: list[list[layout.DataFile]] = []
    run: list[layout.DataFile] = []

    def flush() -> None:
        if idle:
            current: list[layout.DataFile] = []
            size = 0
            for file in run:
                if current and size + file.size > target_bytes:
                    if len(current) > 1:
                        groups.append(current)
                    current, size = [], 0
                current.append(file)
                size += file.size
            if len(current) > 1:
                groups.append(current)
        else:
            same: list[layout.DataFile] = []
            for file in run:
                if same and tier(file.size) != tier(same[0].size):
                    same = []
                same.append(file)
                if len(same) >= min_files:
                    groups.append(same)
                    same = []
        run.clear()

    # files this big end a run; an idle partition's last merge leaves files of a quarter target as they are
    limit = target_bytes // 4 if idle else target_bytes
    for file in files:
        if file.size >= limit:
            flush()
        else:
            run.append(file)
    flush()
    return groups


def compact(root: Path, *, committed: int | Mapping[int, int] | None = None, state: CompactionState | None = None,
            idle_seconds: float | None = None, min_files: int = MIN_FILES, target_bytes: int = TARGET_BYTES,
            now: float | None = None) -> CompactionResult:
    """Merge small files in every partition of the store under ``root`` (see the module docstring).

    ``committed``: only files of committed batches are merged (read from the commit files when not given); a
    mapping limits compaction to the stripes it names (a pipeline compacts its own stripe's files only).
    ``idle_seconds=0`` merges every partition fully now (after a bulk load).
    """
    started = time.perf_counter()
    result = CompactionResult()
    if committed is None:
        committed = layout.read_commits(root)
    idle_after = IDLE_SECONDS if idle_seconds is None else idle_seconds
    wall = time.time() if now is None else now
    seen: dict[Path, int] = {}
    for kind in layout.KINDS:
        for partition in layout.list_partitions(root, kind):
            try:
                folder_mtime = os.stat(partition.path).st_mtime_ns
            except FileNotFoundError:
                continue
            if state is not None and state.settled.get(partition.path) == folder_mtime:
                seen[partition.path] = folder_mtime
                continue
            result.partitions_checked += 1
            try:
                settled = _compact_partition(partition.path, committed, wall, idle_after, min_files, target_bytes,
                                             result)
            except OSError as exc:  # one partition's trouble (a full disk, retention) is not the others'
                result.errors.append(f"{partition.path}: {exc}")
                continue
            if state is not None and settled:
                with contextlib.suppress(FileNotFoundError):
                    seen[partition.path] = os.stat(partition.path).st_mtime_ns
    if state is not None:
        state.settled = seen  # forget dropped partitions
    result.seconds = time.perf_counter() - started
    return result


def _compact_partition(folder: Path, committed: int | Mapping[int, int], wall: float, idle_after: float,
                       min_files: int, target_bytes: int, result: CompactionResult) -> bool:
    """Merge what the policy says; True when the partition needs nothing more until it changes."""
    live = _own(layout.split_live(layout.data_files(folder), committed)[0], committed)
    if not live:
        return True
    newest = max(file.mtime_ns for file in live) / 1e9
    idle = wall - newest >= idle_after
    groups = _plan(live, idle, min_files, target_bytes)
    for group in groups:
        result.rows += merge(folder, group)
        result.merges += 1
        result.files_merged += len(group)
        result.bytes_before += sum(file.size for file in group)
    if groups:
        after = _own(layout.split_live(layout.data_files(folder), committed)[0], committed)
        result.bytes_after += sum(file.size for file in after if file not in live)
        live = after
    if not idle:
        return False
    return not _plan(live, True, min_files, target_bytes)


def _own(files: list[layout.DataFile], committed: int | Mapping[int, int]) -> list[layout.DataFile]:
    return files if isinstance(committed, int) else [file for file in files if file.stripe in committed]


def _plan(live: list[layout.DataFile], idle: bool, min_files: int, target_bytes: int) -> list[list[layout.DataFile]]:
    """:func:`plan_merges` stripe by stripe: a merged file holds one stripe's rows, named for it."""
    stripes = sorted({file.stripe for file in live})
    return [group for stripe in stripes
            for group in plan_merges([file for file in live if file.stripe == stripe], idle, min_files, target_bytes)]


def merge(folder: Path, group: list[layout.DataFile]) -> int:
    """Write the rows of ``group`` (seq-adjacent files of ``folder``) as one file, then delete the group."""
    first, last = group[0].first, max(file.last for file in group)
    target = folder / layout.file_name(first, last, group[0].stripe)
    temp = folder / f".{target.name}{layout.TMP_SUFFIX}"
    schema = pq.read_schema(group[0].path)
    try:
        rows = _write_merged(temp, schema, group)
    except BaseException:
        unlink(temp)
        raise
    os.replace(temp, target)
    layout.fsync_dir(folder)
    for file in group:
        unlink(file.path)
    layout.fsync_dir(folder)
    return rows


def _write_merged(temp: Path, schema: pa.Schema, group: list[layout.DataFile]) -> int:
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(temp, schema, **write_options(schema)) as writer:
        for file in group:
            for batch in pq.ParquetFile(file.path).iter_batches(batch_size=ROW_GROUP_ROWS):
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=ROW_GROUP_ROWS)
                    rows += pending_rows
                    pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=ROW_GROUP_ROWS)
            rows += pending_rows
    descriptor = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return rows
