"""Watched folders: files dropped into a folder (EVTX, JSON, any log file, archives) are taken in whole.

A file is taken once its size and modification time have not changed for ``settle_seconds`` (and its name is not
a dotfile or a ``.tmp``/``.part`` download): it is moved into ``<state dir>/spool/<input>/`` (a rename on the same
file system; otherwise copied, fsynced, then the original deleted), then one
:class:`~yamori.ingest.record.RecordKind.FILE` record is submitted whose payload is the spooled path (UTF-8) and
whose ``source`` is the original path. The pipeline reads the file from the spool and deletes it once its events
are stored. This module owns settling, spooling and the submitted-file bookkeeping; it must not parse files.

**Exactly once.** ``<state dir>/watch-<input>.json`` remembers the spooled files already submitted (with their
seq); on start, spooled files neither there nor in a record of the write-ahead log were moved but never submitted
(a crash in between) and are submitted then. A file that cannot be moved is reported once and retried at every
poll; nothing here stops the input. A move across file systems interrupted by a crash after the copy and before
the original's deletion can take that file twice (same file systems: a rename, never twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fnmatch
import itertools
import logging
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink
from yamori.ingest.wal import iter_records

__all__ = ["WatchInput", "WatchSettings", "spool_dir"]

log = logging.getLogger(__name__)

_COPYING_SUFFIX = ".copying"
_MAX_NAME = 160  # bytes of the original name kept in the spooled name (file names are limited to 255)


@dataclass(frozen=True, slots=True)
class WatchSettings:
    paths: tuple[str, ...]
    """Folders to watch (created if missing)."""
    recursive: bool = False
    """Also take files dropped into sub-folders (the folders themselves stay)."""
    settle_seconds: float = 2.0
    """A file is taken once its size and mtime have been unchanged this long."""
    poll_interval: float = 1.0
    ignore: tuple[str, ...] = (".*", "*.tmp", "*.part", "*.partial", "*.crdownload", "*.download", "*.swp", "*~")
    """File-name patterns never taken: files still being written by downloaders and editors, dotfiles."""


def spool_dir(state_dir: Path, input_name: str) -> Path:
    return state_dir / "spool" / _safe_name(input_name)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@dataclass(slots=True)
class _Seen:
    size: int
    mtime_ns: int
    since: float
    failed: bool = False


@dataclass(slots=True)
class _Spooled:
    original: str
    spooled: Path
    size: int


@dataclass(slots=True)
class _State:
    submitted: dict[str, int] = field(default_factory=dict)
    """Spooled file name -> seq of its record."""


class WatchInput:
    """Takes settled files from ``settings.paths`` into the spool and submits them."""

    def __init__(self, name: str, settings: WatchSettings, sink: IngestSink, state_dir: Path) -> None:
        self.name = name
        self.settings = settings
        self.sink = sink
        self.state_dir = state_dir
        self.spool = spool_dir(state_dir, name)
        self.state_file = state_dir / f"watch-{_safe_name(name)}.json"
        self.state = _State()
        self.submitted_files = 0
        self._seen: dict[str, _Seen] = {}
        self._counter = itertools.count()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._move_failed = sink.metrics.dropped.labels(name, "move_failed")

    async def start(self) -> None:
        recovered = await asyncio.to_thread(self._restore)
        if recovered:
            log.info("input %s: submitting %d spooled files left unsubmitted by a crash", self.name, len(recovered))
            await self._submit(recovered)
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=f"yamori-watch-{self.name}")
        log.info("input %s: watching %s", self.name, ", ".join(self.settings.paths))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                spooled = await asyncio.to_thread(self._poll)
                if spooled:
                    await self._submit(spooled)
            except Exception as error:  # never let the input die; the files wait in the folder or the spool
                log.error("input %s: %s: %s", self.name, type(error).__name__, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.poll_interval)

    async def _submit(self, spooled: list[_Spooled]) -> None:
        sink = self.sink
        if sink.overloaded():
            await sink.wait_for_capacity(self.name)
        received = time.time_ns()
        records = [IngestRecord(self.name, RecordKind.FILE, os.fsencode(item.spooled), received, item.original,
                                {"size": item.size}) for item in spooled]
        while True:
            try:
                seq = await asyncio.shield(sink.submit(records, check=False))
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the files are safe in the spool: retry (and again on the next start)
                log.error("input %s: cannot write to the write-ahead log: %s", self.name, error)
                if self._stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)
        first = seq - len(records) + 1
        for offset, item in enumerate(spooled):
            self.state.submitted[item.spooled.name] = first + offset
        self.submitted_files += len(spooled)
        await asyncio.to_thread(self._write_state)

    # ------------------------------------------------------------------------------------------ state

    def _restore(self) -> list[_Spooled]:
        """Load the state; the spooled files never submitted (to submit now)."""
        self.spool.mkdir(parents=True, exist_ok=True)
        for folder in self.settings.paths:
            Path(folder).expanduser().mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            try:
                loaded = orjson.loads(self.state_file.read_bytes())
                self.state.submitted = {str(key): int(value) for key, value in loaded["submitted"].items()}
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                log.warning("input %s: state %s unreadable (%s): using the write-ahead log alone", self.name,
                            self.state_file, error)
        in_log: set[str] = set()
        for seq, record in iter_records(self.sink.wal.directory):
            if record.input == self.name and record.kind is RecordKind.FILE:
                spooled = Path(os.fsdecode(record.payload))
                in_log.add(spooled.name)
                self.state.submitted.setdefault(spooled.name, seq)
        recovered: list[_Spooled] = []
        present: set[str] = set()
        for entry in sorted(os.scandir(self.spool), key=lambda item: item.name):
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.name.endswith(_COPYING_SUFFIX):  # a copy cut short: the original is still in its folder
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            present.add(entry.name)
            if entry.name not in self.state.submitted:
                original = entry.name.split("-", 2)[-1]
                recovered.append(_Spooled(original, Path(entry.path), entry.stat().st_size))
        # forget the files the pipeline has stored and deleted
        self.state.submitted = {name: seq for name, seq in self.state.submitted.items() if name in present}
        return recovered

    def _write_state(self) -> None:
        try:
            present = {entry.name for entry in os.scandir(self.spool)}
        except OSError:
            present = set(self.state.submitted)
        self.state.submitted = {name: seq for name, seq in self.state.submitted.items() if name in present}
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        with temporary.open("wb") as stream:
            stream.write(orjson.dumps({"input": self.name, "submitted": self.state.submitted}))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.state_file)
        _fsync_directory(self.state_dir)

    # ------------------------------------------------------------------------------------------ polling

    def _poll(self) -> list[_Spooled]:
        """Look at the folders (worker thread); move the settled files into the spool."""
        now = time.monotonic()
        seen: dict[str, _Seen] = {}
        ready: list[tuple[str, os.stat_result]] = []
        for path, status in self._candidates():
            previous = self._seen.get(path)
            if previous is None or previous.size != status.st_size or previous.mtime_ns != status.st_mtime_ns:
                seen[path] = _Seen(status.st_size, status.st_mtime_ns, now)
                continue
            seen[path] = previous
            if now - previous.since >= self.settings.settle_seconds:
                ready.append((path, status))
        self._seen = seen
        spooled: list[_Spooled] = []
        if ready:
            with contextlib.suppress(OSError):  # the spool removed by hand: made again (or the move fails below)
                self.spool.mkdir(parents=True, exist_ok=True)
        for path, status in ready:
            try:
                target = self._move(path)
            except OSError as error:
                if not os.path.lexists(path):
                    self._seen.pop(path, None)  # taken by someone else
                    continue
                record = self._seen[path]
                if not record.failed:
                    record.failed = True
                    self._move_failed.inc()
                    log.warning("input %s: cannot move %s into the spool: %s (retrying)", self.name, path,
                                error.strerror or error)
                continue
            self._seen.pop(path, None)
            spooled.append(_Spooled(path, target, status.st_size))
        if spooled:
            _fsync_directory(self.spool)
        return spooled

    def _candidates(self) -> list[tuple[str, os.stat_result]]:
        found: list[tuple[str, os.stat_result]] = []
        spool = os.path.realpath(self.spool)
        pending = [os.path.expanduser(folder) for folder in self.settings.paths]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as error:
                log.debug("input %s: cannot list %s: %s", self.name, folder, error)
                continue
            for entry in entries:
                if any(fnmatch.fnmatch(entry.name, pattern) for pattern in self.settings.ignore):
                    continue
                try:
                    status = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(status.st_mode):
                    if self.settings.recursive and os.path.realpath(entry.path) != spool:
                        pending.append(entry.path)
                    continue
                if stat.S_ISREG(status.st_mode):
                    found.append((entry.path, status))
        return found

    def _move(self, path: str) -> Path:
        """Move ``path`` into the spool under a unique name; the spooled path."""
        name = os.path.basename(path)
        encoded = os.fsencode(name)
        if len(encoded) > _MAX_NAME:
            name = os.fsdecode(encoded[-_MAX_NAME:])
        target = self.spool / f"{time.time_ns()}-{next(self._counter)}-{name}"
        try:
            os.rename(path, target)
            return target
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        copying = target.with_name(target.name + _COPYING_SUFFIX)
        try:
            with open(path, "rb") as source, open(copying, "wb") as destination:
                shutil.copyfileobj(source, destination, 1 << 20)
                destination.flush()
                os.fsync(destination.fileno())
            os.rename(copying, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(copying)
            raise
        try:
            os.unlink(path)
        except OSError:  # the original stays: so must nothing else, or the file would be taken twice
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise
        _fsync_directory(self.spool)
        return target


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
