"""The store's on-disk layout: where a partition and a data file live, what their names mean, which files count.

::

    <root>/committed.json                                   {"seq": N}: the last write-ahead-log seq stored
    <root>/events/day=YYYY-MM-DD/hour=HH/<first:020d>-<last:020d>.parquet
    <root>/alerts/day=YYYY-MM-DD/hour=HH/<first:020d>-<last:020d>.parquet

With several pipeline processes, each owns a *stripe* of the log (the records whose seq modulo the number of
stripes is its number) and writes ``committed-s<k>.json`` and ``<first>-<last>.s<k>.parquet`` (stripe 0 keeps the
names above). The rules below apply to each stripe's files with that stripe's committed seq.

A file holds the rows of one partition (an hour of event time, UTC) written by the batch of write-ahead-log
records ``first``..``last`` (or, after compaction, by the batches it merged). Two rules decide which files are
*live* (read by search, counted by stats), and recovery deletes the others:

* a file whose ``first`` is above the committed seq belongs to a batch that was not committed (a crash between
  its files and ``committed.json``): the pipeline replays those records, so the file must not count;
* a file whose seq range lies inside another file's range in the same partition was merged into it (a crash
  between writing the merged file and deleting its inputs).

Temporary files start with ``.`` and end with ``.tmp``: nothing but recovery looks at them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

EVENTS = "events"
ALERTS = "alerts"
KINDS = (EVENTS, ALERTS)
COMMITTED = "committed.json"
HOUR_US = 3_600_000_000
TMP_SUFFIX = ".tmp"
_FILE_NAME = re.compile(r"^(\d{20})-(\d{20})(?:\.s(\d{1,4}))?\.parquet$")
_STRIPE_COMMIT = re.compile(r"^committed-s(\d{1,4})\.json$")
STRIPES = "stripes.json"
_DAY = re.compile(r"^day=(\d{4})-(\d{2})-(\d{2})$")
_HOUR = re.compile(r"^hour=(\d{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DataFile:
    path: Path
    first: int
    last: int
    size: int
    mtime_ns: int
    stripe: int = 0


@dataclass(frozen=True, slots=True)
class Partition:
    kind: str
    hour: int
    """Hours since the Unix epoch (UTC): the partition holds event times in [hour, hour + 1 h)."""
    path: Path

    @property
    def start(self) -> datetime:
        return hour_start(self.hour)

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def file_name(first: int, last: int, stripe: int = 0) -> str:
    suffix = f".s{stripe}" if stripe else ""
    return f"{first:020d}-{last:020d}{suffix}.parquet"


def parse_file_name(name: str) -> tuple[int, int] | None:
    parsed = parse_data_name(name)
    return (parsed[0], parsed[1]) if parsed else None


def parse_data_name(name: str) -> tuple[int, int, int] | None:
    """(first, last, stripe) of a data file's name."""
    match = _FILE_NAME.match(name)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def stripe_of_temp(name: str) -> int:
    """The stripe a temporary file (``.<data or commit file name>.tmp``) belongs to."""
    inner = name[1:-len(TMP_SUFFIX)] if name.startswith(".") and name.endswith(TMP_SUFFIX) else name
    parsed = parse_data_name(inner)
    if parsed is not None:
        return parsed[2]
    match = _STRIPE_COMMIT.match(inner)
    return int(match.group(1)) if match else 0


PIPELINE_LOCKS = ".pipeline-*.lock"


def pipeline_lock_name(stripe: int = 0) -> str:
    """The lock a pipeline holds on the store for its stripe while it runs (``flock``)."""
    return f".pipeline-{stripe}.lock"


def committed_name(stripe: int = 0) -> str:
    return COMMITTED if stripe == 0 else f"committed-s{stripe}.json"


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def partition_path(root: Path, kind: str, hour: int) -> Path:
    moment = hour_start(hour)
    return root / kind / f"day={moment:%Y-%m-%d}" / f"hour={moment:%H}"


_HOUR_DELTA = datetime(1970, 1, 1, 1, tzinfo=UTC) - _EPOCH


def _hour_index(day: re.Match[str], hour: re.Match[str]) -> int | None:
    try:
        moment = datetime(int(day.group(1)), int(day.group(2)), int(day.group(3)), int(hour.group(1)), tzinfo=UTC)
    except ValueError:
        return None
    return (moment - _EPOCH) // _HOUR_DELTA


def read_committed(root: Path, stripe: int = 0) -> int:
    """The last write-ahead-log seq a stripe committed (-1 for none)."""
    path = root / committed_name(stripe)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return -1
    seq = data.get("seq") if isinstance(data, dict) else None
    if not isinstance(seq, int):
        raise ValueError(f"{path} is damaged: {data!r}")
    return seq


def read_commits(root: Path) -> dict[int, int]:
    """The committed seq of every stripe that has committed (stripe 0 alone in a one-pipeline store)."""
    commits = {}
    for name in _names(root):
        match = _STRIPE_COMMIT.match(name)
        if match is not None:
            commits[int(match.group(1))] = read_committed(root, int(match.group(1)))
    if (root / COMMITTED).exists() or not commits:
        commits[0] = read_committed(root, 0)
    return commits


def list_partitions(root: Path, kind: str, first_hour: int | None = None,
                    last_hour: int | None = None) -> list[Partition]:
    """The partitions of ``kind`` in time order, only those whose hour lies in [first_hour, last_hour] when given.

    Pruning is by folder name: a day folder outside the range is not even listed.
    """
    base = root / kind
    first_day = hour_start(first_hour).strftime("%Y-%m-%d") if first_hour is not None else None
    last_day = hour_start(last_hour).strftime("%Y-%m-%d") if last_hour is not None else None
    found: list[Partition] = []
    for day_name in _names(base):
        day = _DAY.match(day_name)
        if day is None:
            continue
        stamp = day_name[4:]
        if (first_day is not None and stamp < first_day) or (last_day is not None and stamp > last_day):
            continue
        for hour_name in _names(base / day_name):
            hour_match = _HOUR.match(hour_name)
            if hour_match is None:
                continue
            hour = _hour_index(day, hour_match)
            if hour is None or (first_hour is not None and hour < first_hour) or \
                    (last_hour is not None and hour > last_hour):
                continue
            found.append(Partition(kind, hour, base / day_name / hour_name))
    found.sort(key=lambda partition: partition.hour)
    return found


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []


def data_files(partition: Path) -> list[DataFile]:
    """Every data file of a partition (live or not), by first seq; temporary files are not data files."""
    files: list[DataFile] = []
    try:
        entries = list(os.scandir(partition))
    except (FileNotFoundError, NotADirectoryError):
        return files
    for entry in entries:
        parsed = parse_data_name(entry.name)
        if parsed is None:
            continue
        try:
            info = entry.stat()
        except FileNotFoundError:  # compacted or dropped meanwhile
            continue
        files.append(DataFile(Path(entry.path), parsed[0], parsed[1], info.st_size, info.st_mtime_ns, parsed[2]))
    files.sort(key=lambda file: (file.first, -file.last))
    return files


def split_live(files: list[DataFile], committed: int | Mapping[int, int]) -> tuple[list[DataFile], list[DataFile]]:
    """(live, dead) files of one partition: dead are the uncommitted ones and those another file of the same
    stripe covers. ``committed``: one seq for every stripe, or each stripe's (a stripe not named: none).

    ``files`` must be sorted by (first, -last), as :func:`data_files` returns them.
    """
    live: list[DataFile] = []
    dead: list[DataFile] = []
    reach: dict[int, int] = {}
    for file in files:
        limit = committed if isinstance(committed, int) else committed.get(file.stripe, -1)
        if file.first > limit or file.last <= reach.get(file.stripe, -1):
            dead.append(file)
        else:
            live.append(file)
            reach[file.stripe] = max(reach.get(file.stripe, -1), file.last)
    return live, dead


def temp_files(partition: Path) -> Iterator[Path]:
    for name in _names(partition):
        if name.startswith(".") and name.endswith(TMP_SUFFIX):
            yield partition / name


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
