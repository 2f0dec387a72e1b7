"""File tail input: follows the files matching glob patterns, through rotation and truncation, with checkpoints.

Each submitted record is :class:`~yamori.ingest.record.RecordKind.LINES`: complete lines (up to
``max_record_bytes``) of one file, ``source`` = its path, ``meta`` = ``{"path", "dev", "ino", "start", "end",
"fingerprint"}`` (byte offsets ``[start, end)``). A partial last line waits for its newline. It owns discovering,
following and checkpointing files; it must not parse lines.

**Identity.** A file is (device, inode) plus a fingerprint: a hash of its first bytes (up to
:data:`FINGERPRINT_BYTES`, as many as it had when recorded). A saved offset applies to a file only if both match,
so an inode reused by a new file after rotation starts from 0, never at a stale offset.

**Rotation.** *Rename and create*: the renamed file is read to its end (and followed for ``rotate_wait`` seconds,
for writers that have not reopened yet) before the new file, from 0. *Copytruncate*: a size below the offset, or
first bytes that changed, means the file was truncated: it is read again from 0. Lines a writer adds between
logrotate's copy and its truncation are lost to every reader of copytruncate; rename rotation loses nothing.

**Checkpoints: a restart neither re-reads nor skips.** Offsets advance only once the record holding the lines is
on disk (the sink's ``submit`` returned). Each record carries its file's identity and end offset, and after each
submit ``<state dir>/tail-<input>.json`` is written (atomically, fsynced) with every file's offset and the last
seq. On start, a file resumes at the larger of the checkpoint's offset and the newest end offset found in the
write-ahead log after the checkpoint's seq: a ``kill -9`` between the log append and the checkpoint write costs
nothing. A file renamed out of the patterns while Yamori was down cannot be found again: its unread end is lost.

**Back-pressure**: while the pipeline is behind, the tail waits (nothing is dropped); files are read on a worker
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import glob
import hashlib
import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink
from yamori.ingest.wal import iter_records

__all__ = ["FINGERPRINT_BYTES", "TailInput", "TailSettings", "checkpoint_path"]

log = logging.getLogger(__name__)

FINGERPRINT_BYTES = 1024
CHECKPOINT_VERSION = 1
_RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class TailSettings:
    paths: tuple[str, ...]
    """Glob patterns (``**`` for any depth); files that start matching while running are picked up."""
    exclude: tuple[str, ...] = ("*.gz", "*.bz2", "*.xz", "*.zst", "*.zip", "*.lz4")
    """File-name patterns left out (compressed rotations matched by ``auth.log*``)."""
    poll_interval: float = 0.25
    """Seconds between looks at the files (new data, new files, rotation)."""
    read_from: Literal["beginning", "end"] = "beginning"
    """Where files found on the very first start (no checkpoint yet) are read from; later files always from 0."""
    rotate_wait: float = 5.0
    """Seconds a rotated (renamed or deleted) file is still followed after its last growth."""
    max_record_bytes: int = 1 << 20
    """Lines per record up to this size; a single longer line is cut into pieces of this size (logged)."""
    max_batch_bytes: int = 8 << 20
    """Bytes read between two submits (one write-ahead-log sync and one checkpoint write each)."""


def checkpoint_path(state_dir: Path, input_name: str) -> Path:
    return state_dir / f"tail-{_safe_name(input_name)}.json"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _fingerprint(head: bytes) -> str:
    return f"{len(head)}:{hashlib.blake2b(head, digest_size=8).hexdigest()}"


def _fingerprint_length(fingerprint: str) -> int:
    length, _, _ = fingerprint.partition(":")
    return int(length)


@dataclass(slots=True)
class _Saved:
    """A resume point from the checkpoint or the write-ahead log, valid only for a file whose head matches."""

    fingerprint: str
    offset: int
    path: str


@dataclass(slots=True)
class _File:
    path: str
    dev: int
    ino: int
    descriptor: int
    offset: int
    fingerprint: str
    size: int = 0
    last_growth: float = field(default_factory=time.monotonic)
    rotated: bool = False
    """Its path names another file now (or nothing): read to the end, then closed after ``rotate_wait``."""
    warned: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)


@dataclass(slots=True)
class _Piece:
    file: _File
    record: IngestRecord
    end: int


class TailInput:
    """Follows files matching ``settings.paths``; ``state_dir`` holds its checkpoint."""

    def __init__(self, name: str, settings: TailSettings, sink: IngestSink, state_dir: Path) -> None:
        self.name = name
        self.settings = settings
        self.sink = sink
        self.state_dir = state_dir
        self.checkpoint = checkpoint_path(state_dir, name)
        self.files: dict[tuple[int, int], _File] = {}
        self.last_seq = -1
        self._saved: dict[tuple[int, int], list[_Saved]] = {}
        self._first_run = False
        self._discovered = False
        self._next_discovery = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unreadable: set[str] = set()
        metrics = sink.metrics
        self._errors = metrics.dropped.labels(name, "unreadable")

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._saved.clear()
        self._discovered = False
        self._next_discovery = 0.0
        await asyncio.to_thread(self._restore)
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=f"yamori-tail-{self.name}")
        log.info("input %s: tailing %s", self.name, ", ".join(self.settings.paths))

    async def stop(self) -> None:
        """Finish the submit in progress, write the checkpoint, close the files."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        for file in self.files.values():
            with contextlib.suppress(OSError):
                os.close(file.descriptor)
        self.files.clear()

    async def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                pieces, more = await asyncio.to_thread(self._collect)
                if pieces:
                    await self._submit(pieces)
                attempt = 0
            except Exception as error:  # never let the tail die: retry the same offsets a little later
                log.error("input %s: %s: %s", self.name, type(error).__name__, error)
                await self._sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
                attempt += 1
                continue
            if not more:
                await self._sleep(self.settings.poll_interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _submit(self, pieces: list[_Piece]) -> None:
        sink = self.sink
        if sink.overloaded():  # wait for room; nothing is dropped, the files keep the data meanwhile
            sink.metrics.pushback.labels(self.name).inc()
            while sink.overloaded():
                if self._stop.is_set():
                    return  # the offsets did not move: these lines are read again on the next start
                await self._sleep(0.05)
        # the offsets advance only once the records are on disk; stop() waits for this submit to finish
        seq = await asyncio.shield(sink.submit([piece.record for piece in pieces], check=False))
        for piece in pieces:
            piece.file.offset = piece.end
        self.last_seq = seq
        await asyncio.to_thread(self._write_checkpoint)

    # ------------------------------------------------------------------------------------------ state

    def _restore(self) -> None:
        """Resume points from the checkpoint, then from this input's newer records in the write-ahead log."""
        after_seq = -1
        found_state = False
        try:
            state = orjson.loads(self.checkpoint.read_bytes())
            after_seq = int(state.get("seq", -1))
            self.last_seq = after_seq
            for entry in state.get("files", []):
                self._remember(int(entry["dev"]), int(entry["ino"]), str(entry["fingerprint"]),
                               int(entry["offset"]), str(entry.get("path", "")))
            found_state = True
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("input %s: checkpoint %s unreadable (%s): resuming from the write-ahead log alone",
                        self.name, self.checkpoint, error)
            after_seq = -1
        for seq, record in iter_records(self.sink.wal.directory, after_seq):
            if record.input != self.name or record.kind is not RecordKind.LINES:
                continue
            meta = record.meta
            try:
                self._remember(int(meta["dev"]), int(meta["ino"]), str(meta["fingerprint"]), int(meta["end"]),
                               str(meta.get("path", "")))
            except (KeyError, TypeError, ValueError):
                continue
            self.last_seq = max(self.last_seq, seq)
            found_state = True
        self._first_run = not found_state

    def _remember(self, dev: int, ino: int, fingerprint: str, offset: int, path: str) -> None:
        saved = self._saved.setdefault((dev, ino), [])
        for item in saved:
            if item.fingerprint == fingerprint:
                item.offset = max(item.offset, offset)
                return
        saved.append(_Saved(fingerprint, offset, path))

    def _write_checkpoint(self) -> None:
        files = [{"path": file.path, "dev": file.dev, "ino": file.ino, "offset": file.offset,
                  "fingerprint": file.fingerprint} for file in self.files.values()]
        data = orjson.dumps({"version": CHECKPOINT_VERSION, "input": self.name, "seq": self.last_seq,
                             "files": files})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint.with_name(self.checkpoint.name + ".tmp")
        with temporary.open("wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.checkpoint)
        descriptor = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    # ------------------------------------------------------------------------------------------ reading

    def _collect(self) -> tuple[list[_Piece], bool]:
        """Read what is new (worker thread): the pieces to submit, and whether more is waiting."""
        now = time.monotonic()
        if now >= self._next_discovery:
            self._discover(now)
            self._next_discovery = now + self.settings.poll_interval
        pieces: list[_Piece] = []
        budget = self.settings.max_batch_bytes
        more = False
        statuses: list[tuple[_File, os.stat_result]] = []
        for file in self.files.values():
            try:
                statuses.append((file, os.fstat(file.descriptor)))
            except OSError as error:
                log.warning("input %s: cannot stat %s: %s", self.name, file.path, error)
        # rotated files first, then the least recently written: a file's old content goes to the log before
        # its successor's (also when the renamed file still matches the patterns)
        statuses.sort(key=lambda item: (not item[0].rotated, item[1].st_mtime_ns, item[0].path))
        for file, status in statuses:
            taken, full = self._read(file, status, budget, now, pieces)
            budget -= taken
            if full:
                more = True
                break
        for file in [file for file in self.files.values() if file.rotated]:
            if file.offset >= file.size and now - file.last_growth >= self.settings.rotate_wait \
                    and not any(piece.file is file for piece in pieces):
                log.info("input %s: finished rotated file %s at %d", self.name, file.path, file.offset)
                with contextlib.suppress(OSError):
                    os.close(file.descriptor)
                del self.files[file.key]
        return pieces, more

    def _discover(self, now: float) -> None:
        settings = self.settings
        current: dict[tuple[int, int], str] = {}
        for pattern in settings.paths:
            for path in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
                name = os.path.basename(path)
                if any(fnmatch.fnmatch(name, excluded) for excluded in settings.exclude):
                    continue
                try:
                    status = os.stat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(status.st_mode):
                    continue
                key = (status.st_dev, status.st_ino)
                current.setdefault(key, path)
        for key, path in current.items():
            file = self.files.get(key)
            if file is not None:
                if file.path != path:
                    log.info("input %s: %s is now %s", self.name, file.path, path)
                file.path, file.rotated = path, False
                continue
            opened = self._open(path, key, now)
            if opened is not None:
                self.files[key] = opened
        for key, file in self.files.items():
            if key not in current and not file.rotated:
                log.info("input %s: %s was rotated or removed; reading it to its end", self.name, file.path)
                file.rotated = True
        if not self._discovered:
            self._discovered = True
            self._saved.clear()  # resume points of files that are gone no longer apply to anything

    def _open(self, path: str, key: tuple[int, int], now: float) -> _File | None:
        try:
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as error:
            if path not in self._unreadable:
                self._unreadable.add(path)
                self._errors.inc()
                log.warning("input %s: cannot open %s: %s (retrying)", self.name, path, error.strerror or error)
            return None
        self._unreadable.discard(path)
        try:
            status = os.fstat(descriptor)
            if (status.st_dev, status.st_ino) != key:  # replaced between stat and open: next look
                os.close(descriptor)
                return None
            head = os.pread(descriptor, FINGERPRINT_BYTES, 0)
        except OSError:
            os.close(descriptor)
            return None
        offset = 0
        for saved in self._saved.get(key, ()):
            length = _fingerprint_length(saved.fingerprint)
            if len(head) >= length and _fingerprint(head[:length]) == saved.fingerprint:
                offset = max(offset, saved.offset)
        if not self._discovered and self._first_run and self.settings.read_from == "end":
            offset = _line_start_at_or_before(descriptor, status.st_size)
        if offset > status.st_size:  # truncated while we were away
            offset = 0
        if offset:
            log.info("input %s: resuming %s at %d", self.name, path, offset)
        file = _File(path, key[0], key[1], descriptor, offset, _fingerprint(head), status.st_size, now)
        return file

    def _read(self, file: _File, status: os.stat_result, budget: int, now: float,
              pieces: list[_Piece]) -> tuple[int, bool]:
        """Append ``file``'s new complete lines to ``pieces``; the bytes taken, and whether more is waiting."""
        settings = self.settings
        size = status.st_size
        if status.st_nlink == 0 and not file.rotated:
            file.rotated = True
        if size != file.size:
            file.last_growth = now
            if not self._same_head(file):
                log.info("input %s: %s was truncated and rewritten; reading it again from 0", self.name, file.path)
                file.offset = 0
                self._refresh_head(file)
        if size < file.offset:
            log.info("input %s: %s was truncated (size %d < offset %d); reading it again from 0", self.name,
                     file.path, size, file.offset)
            file.offset = 0
            self._refresh_head(file)
        file.size = size
        if size > _fingerprint_length(file.fingerprint) < FINGERPRINT_BYTES:
            self._refresh_head(file)  # the head grew: fingerprint more of it
        position = file.offset
        taken = 0
        while position < size:
            want = min(settings.max_record_bytes, size - position)
            if taken + want > budget and (taken or pieces):  # the batch is full: the rest on the next round
                return taken, True
            try:
                data = os.pread(file.descriptor, want, position)
            except OSError as error:
                log.warning("input %s: cannot read %s at %d: %s", self.name, file.path, position, error)
                return taken, False
            if not data:
                break
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < settings.max_record_bytes:
                    if not (file.rotated and now - file.last_growth >= settings.rotate_wait):
                        break  # a partial last line waits for its newline
                    cut = len(data)  # a rotated file's writer is gone: its last line will never be finished
                else:
                    cut = len(data)
                    if not file.warned:
                        file.warned = True
                        log.warning("input %s: %s has a line over %d bytes at %d: cut into pieces", self.name,
                                    file.path, settings.max_record_bytes, position)
            end = position + cut
            meta: dict[str, Any] = {"path": file.path, "dev": file.dev, "ino": file.ino, "start": position,
                                    "end": end, "fingerprint": file.fingerprint}
            pieces.append(_Piece(file, IngestRecord(self.name, RecordKind.LINES, data[:cut], time.time_ns(),
                                                    file.path, meta), end))
            position = end
            taken += cut
        return taken, False

    def _same_head(self, file: _File) -> bool:
        length = _fingerprint_length(file.fingerprint)
        try:
            head = os.pread(file.descriptor, length, 0)
        except OSError:
            return True
        return len(head) == length and _fingerprint(head) == file.fingerprint

    def _refresh_head(self, file: _File) -> None:
        with contextlib.suppress(OSError):
            file.fingerprint = _fingerprint(os.pread(file.descriptor, FINGERPRINT_BYTES, 0))


def _line_start_at_or_before(descriptor: int, size: int) -> int:
    """The offset just after the last newline before ``size`` (``read_from = "end"`` skips whole lines only)."""
    position = size
    while position > 0:
        start = max(0, position - 65536)
        data = os.pread(descriptor, position - start, start)
        found = data.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0
