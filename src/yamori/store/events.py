"""EventStore: atomic, exactly-once batch writes of events and alerts, and recovery when the store is opened.

A batch is the events and alerts of the write-ahead-log records ``first_seq``..``last_seq``. Its files are written
alerts first, then events, each as temporary file, fsync, rename, directory fsync; then ``committed.json`` is
replaced the same way. Until that last rename the batch does not exist for readers (:mod:`yamori.store.layout`
says which files are live) and a crash leaves files that opening the store deletes, so the pipeline's replay of
those records from the log stores them exactly once.

With several pipeline processes each opens the store for its own stripe (``stripe``): it writes, recovers and
compacts only that stripe's files and commit file, so the processes never touch each other's files.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa

from yamori.exceptions import YamoriError
from yamori.store import layout
from yamori.store.columns import ALERT_SCHEMA, EVENT_SCHEMA, alert_rows, event_rows, to_table
from yamori.store.compact import CompactionResult, CompactionState, compact
from yamori.store.fileio import ensure_dir, parquet_bytes, sync_filesystem, unlink, write_durably
from yamori.store.layout import read_committed
from yamori.store.model import StoredAlert, StoredEvent
from yamori.store.retention import RetentionResult, apply_retention


@dataclass(slots=True)
class Recovery:
    """What opening the store cleaned up."""

    temp_files: list[Path] = field(default_factory=list)
    uncommitted: list[Path] = field(default_factory=list)
    """Files of a batch that was not committed (its records are replayed from the write-ahead log)."""
    merged: list[Path] = field(default_factory=list)
    """Inputs of a compaction that had been merged but not yet deleted."""

    @property
    def removed(self) -> int:
        return len(self.temp_files) + len(self.uncommitted) + len(self.merged)


def recover(root: Path, committed: int, stripe: int = 0) -> Recovery:
    """Delete a stripe's temporary files, files of its uncommitted batches and files a merged file covers."""
    report = Recovery()
    for kind in layout.KINDS:
        for partition in layout.list_partitions(root, kind):
            for temp in layout.temp_files(partition.path):
                if layout.stripe_of_temp(temp.name) == stripe:
                    unlink(temp)
                    report.temp_files.append(temp)
            files = [file for file in layout.data_files(partition.path) if file.stripe == stripe]
            _live, dead = layout.split_live(files, committed)
            for file in dead:
                unlink(file.path)
                (report.uncommitted if file.first > committed else report.merged).append(file.path)
            if dead:
                layout.fsync_dir(partition.path)
    for temp in layout.temp_files(root):
        if layout.stripe_of_temp(temp.name) == stripe:
            unlink(temp)
            report.temp_files.append(temp)
    return report


class EventStore:
    """The writer side of the store (one per store folder and process); opening it recovers the folder."""

    def __init__(self, root: Path, stripe: int = 0) -> None:
        self.root = Path(root)
        self.stripe = stripe
        ensure_dir(self.root)
        self._lock = threading.Lock()
        self._committed = read_committed(self.root, stripe)
        self.recovery = recover(self.root, self._committed, stripe)
        self._dirty = False

    def committed_seq(self) -> int:
        return self._committed

    def write_batch(self, events: Sequence[StoredEvent], alerts: Sequence[StoredAlert], first_seq: int,
                    last_seq: int) -> None:
        """Store a batch and commit ``last_seq``; records at or below the committed seq are already stored."""
        if last_seq < first_seq:
            raise ValueError(f"empty seq range {first_seq}..{last_seq}")
        with self._lock:
            committed = self._committed
            if last_seq <= committed:
                return  # a replay of what is already stored
            if first_seq <= committed:  # a replay overlapping the committed range: keep only the new records
                events = [event for event in events if event.seq > committed]
                alerts = [alert for alert in alerts if alert.seq > committed]
                first_seq = committed + 1
            if self._dirty:  # a failed write left files behind: clear them before they could become live
                recover(self.root, committed, self.stripe)
                self._dirty = False
            written: list[Path] = []
            try:
                if alerts:
                    columns, stamps = alert_rows(alerts, time.time_ns())
                    self._write_partitions(layout.ALERTS, to_table(columns, ALERT_SCHEMA), stamps, first_seq,
                                           last_seq, written)
                if events:
                    columns, stamps = event_rows(events)
                    self._write_partitions(layout.EVENTS, to_table(columns, EVENT_SCHEMA), stamps, first_seq,
                                           last_seq, written)
                sync_filesystem(self.root)  # every file of the batch on disk before the commit refers to them
                write_durably(self.root / layout.committed_name(self.stripe), orjson.dumps({"seq": last_seq}))
            except BaseException:
                self._dirty = True
                for path in written:
                    unlink(path)
                raise
            self._committed = last_seq

    def _write_partitions(self, kind: str, table: pa.Table, stamps: list[int], first_seq: int, last_seq: int,
                          written: list[Path]) -> None:
        name = layout.file_name(first_seq, last_seq, self.stripe)
        hour_us = layout.HOUR_US
        first_hour = stamps[0] // hour_us
        rows: dict[int, list[int]] | None = None
        for i, stamp in enumerate(stamps):
            hour = stamp // hour_us
            if rows is None:
                if hour == first_hour:
                    continue
                rows = {first_hour: list(range(i))}  # the common case, one hour per batch, needs no index
            rows.setdefault(hour, []).append(i)
        parts = [(first_hour, table)] if rows is None else \
            [(hour, table.take(pa.array(indices, pa.int64()))) for hour, indices in sorted(rows.items())]
        for hour, part in parts:
            folder = layout.partition_path(self.root, kind, hour)
            path = folder / name
            data = parquet_bytes(part)
            try:
                ensure_dir(folder, sync=False)
                write_durably(path, data, sync=False)
            except FileNotFoundError:  # retention removed the partition meanwhile: once more
                ensure_dir(folder, sync=False)
                write_durably(path, data, sync=False)
            written.append(path)

    def compact(self, state: CompactionState | None = None, *, idle_seconds: float | None = None,
                now: float | None = None) -> CompactionResult:
        """:func:`yamori.store.compact.compact` up to the committed seq (``state``: keep it between calls)."""
        return compact(self.root, committed={self.stripe: self._committed}, state=state, idle_seconds=idle_seconds,
                       now=now)

    def apply_retention(self, max_age_seconds: float | None = None, max_bytes: int | None = None,
                        now: datetime | None = None) -> RetentionResult:
        """:func:`yamori.store.retention.apply_retention`, never while a batch is being written."""
        with self._lock:
            return apply_retention(self.root, max_age_seconds=max_age_seconds, max_bytes=max_bytes, now=now)


class StripeError(YamoriError):
    """The number of pipeline processes cannot change now (the stripes have not committed the same position)."""


def prepare_stripes(root: Path, stripes: int) -> None:
    """Record that ``stripes`` pipeline processes write the store; when that number changes, every stripe of the
    previous layout must have committed the same log position (a store drained by a clean stop), and every
    stripe of the new one starts from it. Stripes left out keep their files, still live."""
    ensure_dir(root)
    path = root / layout.STRIPES
    try:
        previous = int(orjson.loads(path.read_bytes())["stripes"])
    except FileNotFoundError:
        previous = 1
    except (ValueError, KeyError, TypeError) as error:
        raise StripeError(f"{path} is damaged: {error}") from error
    if previous == stripes and path.exists():
        return
    if previous != stripes:
        positions = {read_committed(root, stripe) for stripe in range(previous)}
        if len(positions) != 1:
            raise StripeError(f"the store was written by {previous} pipeline processes that stopped at different "
                              f"log positions: start with workers = {previous} once (a clean stop drains them), "
                              "then change")
        (position,) = positions
        if position >= 0:
            for stripe in range(stripes):
                write_durably(root / layout.committed_name(stripe), orjson.dumps({"seq": position}))
    write_durably(path, orjson.dumps({"stripes": stripes}))


class StoreBusy(YamoriError):
    """A pipeline of ``yamori serve`` is writing the store: maintenance from outside must wait."""


@contextlib.contextmanager
def without_pipelines(root: Path) -> Iterator[None]:
    """Hold every stripe's pipeline lock, so that compaction or retention run from the command line never races
    a running ``yamori serve`` (which does both itself); a pipeline starting meanwhile waits."""
    handles = []
    try:
        for path in sorted(Path(root).glob(layout.PIPELINE_LOCKS)):
            handle = path.open("a")
            handles.append(handle)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreBusy(f"yamori serve is writing {root} (it compacts and applies retention itself); "
                                "stop it first") from None
        yield
    finally:
        for handle in handles:
            handle.close()
