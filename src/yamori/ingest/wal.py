"""The write-ahead log: inputs append IngestRecords, which are on disk before the sender is acknowledged.

Segment files ``<first seq:020d>.wal`` hold frames ``[length u32][crc32 u32][seq u64][body]``; the body is
``[meta length u32][meta JSON][payload]``. Appends from many threads share one ``fsync`` (group commit): each
appender waits until a sync has covered its records, and one sync covers every record written before it.

The pipeline reads the log (possibly from another process) with :class:`WalReader`, from the store's committed
position; segments wholly below that position are deleted by :func:`drop_segments_through`. On open, the writer
truncates a torn frame at the end of the last segment (a ``kill -9`` during a write); a record torn there was never
acknowledged.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from yamori.exceptions import YamoriError
from yamori.ingest.record import IngestRecord, RecordKind

_FRAME = struct.Struct("<IIQ")
_META_LENGTH = struct.Struct("<I")
SEGMENT_SUFFIX = ".wal"
DEFAULT_SEGMENT_BYTES = 64 << 20
MAX_RECORD_BYTES = 256 << 20


class WalError(YamoriError):
    """The write-ahead log cannot be opened or written (the disk is full, a segment is unreadable)."""


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    first_seq: int


def segments(directory: Path) -> list[Segment]:
    """The log's segments in sequence order."""
    found = []
    for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
        try:
            found.append(Segment(path, int(path.stem)))
        except ValueError:
            continue
    return sorted(found, key=lambda segment: segment.first_seq)


def encode(seq: int, record: IngestRecord) -> bytes:
    meta = orjson.dumps({"i": record.input, "k": record.kind.value, "t": record.received_ns, "s": record.source,
                         "m": record.meta})
    body = b"".join((_META_LENGTH.pack(len(meta)), meta, record.payload))
    return _FRAME.pack(len(body), zlib.crc32(body), seq) + body


def decode_body(body: bytes) -> IngestRecord:
    (length,) = _META_LENGTH.unpack_from(body)
    meta = orjson.loads(body[4:4 + length])
    return IngestRecord(meta["i"], RecordKind(meta["k"]), body[4 + length:], meta["t"], meta["s"], meta["m"])


def _read_frame(stream: IO[bytes]) -> tuple[int, bytes, int] | None:
    """(seq, body, frame size) of the next whole, intact frame; None at the end or at a torn/incomplete frame."""
    header = stream.read(_FRAME.size)
    if len(header) < _FRAME.size:
        return None
    length, crc, seq = _FRAME.unpack(header)
    if length > MAX_RECORD_BYTES:
        return None
    body = stream.read(length)
    if len(body) < length or zlib.crc32(body) != crc:
        return None
    return seq, body, _FRAME.size + length


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class WalWriter:
    """Appends records durably. Thread-safe; :meth:`append` returns once its records are fsynced."""

    def __init__(self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, sync: bool = True,
                 start_after: int = -1) -> None:
        """``start_after``: the store's committed seq, so that numbering continues above it when the log is
        empty (every segment consumed and deleted)."""
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.sync = sync
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.last_seq = max(start_after, self._recover())
        self.durable_seq = self.last_seq
        self.appended_bytes = 0
        self._file: IO[bytes] | None = None
        self._file_size = 0

    def _recover(self) -> int:
        """The last intact seq on disk, after cutting a torn frame off the end of the last segment."""
        found = segments(self.directory)
        if not found:
            return -1
        last = found[-1]
        seq = last.first_seq - 1
        good = 0
        with last.path.open("rb") as stream:
            while (frame := _read_frame(stream)) is not None:
                seq, _, size = frame
                good += size
        if good < last.path.stat().st_size:
            with last.path.open("r+b") as stream:
                stream.truncate(good)
                os.fsync(stream.fileno())
        if good == 0 and len(found) > 1:  # an empty newest segment: number on from the one before
            last.path.unlink()
            return self._recover()
        return seq

    def _open_segment(self) -> IO[bytes]:
        path = self.directory / f"{self.last_seq + 1:020d}{SEGMENT_SUFFIX}"
        stream = path.open("ab")
        _fsync_directory(self.directory)
        self._file_size = stream.tell()
        return stream

    def append(self, records: Sequence[IngestRecord]) -> int:
        """Write ``records`` and return the seq of the last one once it is on disk."""
        if not records:
            return self.last_seq
        with self._lock:
            stream = self._file
            if stream is None or self._file_size >= self.segment_bytes:
                if stream is not None:
                    self._finish_segment(stream)
                stream = self._file = self._open_segment()
            seq = self.last_seq
            frames = []
            for record in records:
                seq += 1
                frames.append(encode(seq, record))
            data = b"".join(frames)
            try:
                stream.write(data)
                stream.flush()
            except OSError as error:
                raise WalError(f"cannot write the write-ahead log: {error}") from error
            self._file_size += len(data)
            self.appended_bytes += len(data)
            self.last_seq = seq
        if self.sync:
            self._sync_through(seq)
        else:
            self.durable_seq = max(self.durable_seq, seq)
        return seq

    def _finish_segment(self, stream: IO[bytes]) -> None:
        if self.sync:
            os.fsync(stream.fileno())
        stream.close()

    def _sync_through(self, seq: int) -> None:
        # one fsync covers everything written before it: appenders queued here find their seq already durable
        with self._sync_lock:
            if self.durable_seq >= seq:
                return
            with self._lock:
                target = self.last_seq
                stream = self._file
                descriptor = os.dup(stream.fileno()) if stream is not None else -1
            if descriptor >= 0:
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            self.durable_seq = target

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._finish_segment(self._file)
                self._file = None
            self.durable_seq = self.last_seq


class WalReader:
    """Reads records after a seq, following the log as it grows; one reader per pipeline."""

    def __init__(self, directory: Path, after_seq: int) -> None:
        self.directory = directory
        self.next_seq = after_seq + 1
        self.read_bytes = 0
        self._stream: IO[bytes] | None = None
        self._segment: Segment | None = None

    def _locate(self) -> bool:
        """Open the segment holding ``next_seq``; False when it is not written yet."""
        found = segments(self.directory)
        holding = [segment for segment in found if segment.first_seq <= self.next_seq]
        if not holding:
            if found and found[0].first_seq > self.next_seq:  # consumed segments were deleted: skip ahead
                self.next_seq = found[0].first_seq
                return self._locate()
            return False
        segment = holding[-1]
        stream = segment.path.open("rb")
        while True:
            position = stream.tell()
            frame = _read_frame(stream)
            if frame is None:
                stream.seek(position)
                break
            if frame[0] >= self.next_seq:
                stream.seek(position)
                break
        self._stream, self._segment = stream, segment
        return True

    def poll(self, max_records: int = 1000, max_bytes: int = 16 << 20) -> list[tuple[int, IngestRecord]]:
        """The records written since the last poll, in order, up to a limit; empty when none is there yet."""
        if self._stream is None and not self._locate():
            return []
        out: list[tuple[int, IngestRecord]] = []
        taken = 0
        while len(out) < max_records and taken < max_bytes:
            stream = self._stream
            assert stream is not None
            position = stream.tell()
            frame = _read_frame(stream)
            if frame is None:
                stream.seek(position)
                if not self._next_segment_started():
                    break
                continue
            seq, body, size = frame
            self.read_bytes += size
            taken += size
            if seq < self.next_seq:
                continue
            out.append((seq, decode_body(body)))
            self.next_seq = seq + 1
        return out

    def _next_segment_started(self) -> bool:
        """At the end of the current segment: move to the next one if the writer has started it."""
        later = [segment for segment in segments(self.directory)
                 if self._segment is not None and segment.first_seq > self._segment.first_seq]
        if not later:
            return False
        assert self._stream is not None
        self._stream.close()
        self._stream = None
        return self._locate()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def drop_segments_through(directory: Path, committed_seq: int) -> int:
    """Delete the segments whose every record is at or below ``committed_seq`` (never the newest); returns
    the number deleted."""
    found = segments(directory)
    dropped = 0
    for segment, following in itertools.pairwise(found):
        if following.first_seq - 1 <= committed_seq:
            segment.path.unlink(missing_ok=True)
            dropped += 1
    return dropped


def iter_records(directory: Path, after_seq: int = -1) -> Iterator[tuple[int, IngestRecord]]:
    """Every intact record after ``after_seq`` now on disk (for tools and tests)."""
    reader = WalReader(directory, after_seq)
    try:
        while batch := reader.poll():
            yield from batch
    finally:
        reader.close()
