"""`yamori store stats`: how much the store holds, from the Parquet footers alone (no data page is read)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from yamori.store import layout


@dataclass(slots=True)
class StoreStats:
    root: str
    committed_seq: int
    events: int = 0
    alerts: int = 0
    event_files: int = 0
    alert_files: int = 0
    partitions: int = 0
    """Hours holding events or alerts."""
    event_bytes: int = 0
    alert_bytes: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    unreadable_files: int = 0

    @property
    def bytes(self) -> int:
        return self.event_bytes + self.alert_bytes

    @property
    def files(self) -> int:
        return self.event_files + self.alert_files

    @property
    def bytes_per_event(self) -> float:
        return self.event_bytes / self.events if self.events else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(bytes=self.bytes, files=self.files, bytes_per_event=round(self.bytes_per_event, 1),
                    oldest=_iso(self.oldest), newest=_iso(self.newest))
        return data


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment is not None else None


def store_size(root: Path) -> int:
    """Bytes of the store's files on disk, from directory listings alone (cheap enough for every few seconds;
    :func:`store_stats` also reads every footer)."""
    total = 0
    for kind in layout.KINDS:
        for partition in layout.list_partitions(root, kind):
            total += sum(file.size for file in layout.data_files(partition.path))
    return total


def store_stats(root: Path) -> StoreStats:
    """Counts, sizes and time span of the live files of the store at ``root``."""
    committed = layout.read_commits(root)
    stats = StoreStats(str(root), min(committed.values()))
    hours: set[int] = set()
    for kind in layout.KINDS:
        for partition in layout.list_partitions(root, kind):
            live, _ = layout.split_live(layout.data_files(partition.path), committed)
            if live:
                hours.add(partition.hour)
            for file in live:
                try:
                    metadata = pq.read_metadata(file.path)
                except (OSError, ValueError):  # dropped meanwhile, or damaged
                    stats.unreadable_files += 1
                    continue
                if kind == layout.EVENTS:
                    stats.events += metadata.num_rows
                    stats.event_files += 1
                    stats.event_bytes += file.size
                    _span(stats, metadata)
                else:
                    stats.alerts += metadata.num_rows
                    stats.alert_files += 1
                    stats.alert_bytes += file.size
    stats.partitions = len(hours)
    return stats


def _span(stats: StoreStats, metadata: pq.FileMetaData) -> None:
    column = metadata.schema.names.index("timestamp")
    for index in range(metadata.num_row_groups):
        statistics = metadata.row_group(index).column(column).statistics
        if statistics is None or not statistics.has_min_max:
            continue
        low, high = statistics.min, statistics.max
        if isinstance(low, datetime) and (stats.oldest is None or low < stats.oldest):
            stats.oldest = low
        if isinstance(high, datetime) and (stats.newest is None or high > stats.newest):
            stats.newest = high
