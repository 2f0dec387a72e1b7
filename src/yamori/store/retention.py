"""Retention: drop whole hour partitions (events and alerts of that hour together) by age and by total size.

Dropping a partition renames its folder out of the tree first (one atomic step readers see), then deletes it; a
crash in the middle leaves a ``.drop-*`` folder that the next run deletes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from yamori.store import layout


@dataclass(frozen=True, slots=True)
class DroppedPartition:
    hour: int
    start: datetime
    bytes: int
    files: int
    reason: str
    """``age`` or ``size``."""


@dataclass(slots=True)
class RetentionResult:
    dropped: list[DroppedPartition] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def bytes_dropped(self) -> int:
        return sum(part.bytes for part in self.dropped)


@dataclass(slots=True)
class _Hour:
    hour: int
    folders: list[Path] = field(default_factory=list)
    bytes: int = 0
    files: int = 0


def _hours(root: Path) -> list[_Hour]:
    hours: dict[int, _Hour] = {}
    for kind in layout.KINDS:
        for partition in layout.list_partitions(root, kind):
            entry = hours.setdefault(partition.hour, _Hour(partition.hour))
            entry.folders.append(partition.path)
            for file in _sizes(partition.path):
                entry.bytes += file
                entry.files += 1
    return [hours[hour] for hour in sorted(hours)]


def _sizes(folder: Path) -> list[int]:
    sizes = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    sizes.append(entry.stat().st_size)
                except FileNotFoundError:
                    continue
    except FileNotFoundError:
        pass
    return sizes


def apply_retention(root: Path, *, max_age_seconds: float | None = None, max_bytes: int | None = None,
                    now: datetime | None = None) -> RetentionResult:
    """Drop partitions whose hour ended more than ``max_age_seconds`` ago, then the oldest ones until the store's
    data files total at most ``max_bytes``; returns what was dropped."""
    result = RetentionResult()
    _purge_leftovers(root)
    hours = _hours(root)
    total = sum(entry.bytes for entry in hours)
    result.bytes_before = total
    moment = (now or datetime.now(UTC)).timestamp()
    for entry in hours:
        reason = None
        if max_age_seconds is not None and (entry.hour + 1) * 3600 <= moment - max_age_seconds:
            reason = "age"
        elif max_bytes is not None and total > max_bytes:
            reason = "size"
        if reason is None:
            # hours are oldest first: once neither limit applies, nothing newer is dropped either
            break
        if _drop(entry, result):
            total -= entry.bytes
            result.dropped.append(DroppedPartition(entry.hour, layout.hour_start(entry.hour), entry.bytes,
                                                   entry.files, reason))
    result.bytes_after = total
    for kind in layout.KINDS:  # day folders left empty
        for day in _subfolders(root / kind):
            with contextlib.suppress(OSError):
                day.rmdir()
    return result


def _drop(entry: _Hour, result: RetentionResult) -> bool:
    for folder in entry.folders:
        doomed = folder.parent.parent / f".drop-{folder.parent.name}-{folder.name}-{time.time_ns()}"
        try:
            os.replace(folder, doomed)
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.errors.append(f"{folder}: {exc}")
            return False
        layout.fsync_dir(folder.parent)
        shutil.rmtree(doomed, ignore_errors=True)
    return True


def _purge_leftovers(root: Path) -> None:
    for kind in layout.KINDS:
        base = root / kind
        for name in _names(base):
            if name.startswith(".drop-"):
                shutil.rmtree(base / name, ignore_errors=True)


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def _subfolders(folder: Path) -> list[Path]:
    return [folder / name for name in _names(folder) if name.startswith("day=") and (folder / name).is_dir()]
