"""EVTX files: records via the ``evtx`` package (Rust), flattened by :mod:`yamori.parsers.windows`.

Streaming: the Rust parser reads one 64 KiB chunk at a time (a few per worker thread), so memory does not grow
with the file. Damage is reported, never fatal:

* the iterator raises ``RuntimeError`` for a record or a chunk it cannot parse and then carries on with the
  next one; each such error becomes a :class:`BadRecord` (position: the record number or ``chunk N`` the
  message names, else ``after <last good record id>``). A broken record *header* costs the rest of its chunk
  (the parser cannot find the next record), never the rest of the file;
* a file cut short inside a chunk: the ``evtx`` package silently ignores the partial chunk, so this module
  compares the file size with the chunk layout and reports the lost tail as a BadRecord;
* a record whose JSON cannot be flattened (no ``Event.System``) is a BadRecord with the JSON kept;
* a file that cannot be opened at all is one BadRecord at position ``file``.

Chunks the parser treats as unused (all zero bytes) are skipped silently by the ``evtx`` package: they are
indistinguishable from the pre-allocated empty chunks of a live log.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from evtx import PyEvtxParser

from yamori.events import BadRecord, Event
from yamori.parsers.windows import finish_windows, flatten_evtx_json

__all__ = ["CHUNK_MAGIC", "EVTX_MAGIC", "looks_like_damaged_evtx", "read_evtx"]

EVTX_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
_HEADER_BLOCK = 4096
_CHUNK_SIZE = 65536
_MAX_ERRORS = 100_000  # a file this broken is given up on (guards against a parser that never advances)

_RECORD_NUMBER = re.compile(r"record (?:number|id) (\d+)", re.IGNORECASE)
_RECORD_RANGE = re.compile(r"record IDs (\d+)\.\.(\d+)", re.IGNORECASE)
_CHUNK_NUMBER = re.compile(r"chunk (?:number )?(\d+)", re.IGNORECASE)


def read_evtx(path: Path | str, *, threads: int = 1, repair_signature: bool = False,
              data: bytes | None = None) -> Iterator[Event | BadRecord]:
    """Yield one :class:`Event` per record of the EVTX file, a :class:`BadRecord` per damaged part.

    ``threads`` is the number of Rust worker threads parsing chunks (0: one per core). ``Event.position`` is the
    record's EventRecordID (System/EventRecordID, what Event Viewer shows; the record header's number when the
    record has none), ``Event.raw`` the record as the ``evtx`` package renders it to JSON (unflattened).
    Parse errors are positioned by the record header's number (``file record N``): in an exported or filtered
    log it differs from EventRecordID, which counts in the original log.
    ``repair_signature`` reads a file whose ``ElfFile`` signature is damaged (see
    :func:`looks_like_damaged_evtx`) as if it were intact. ``data``: the file's bytes, already read (an archive
    member); ``path`` then only names it.
    """
    source = str(path)
    handle: io.BufferedReader | io.BytesIO | None = None
    try:
        layout_problem = _layout_problem(len(data) if data is not None else os.stat(source).st_size)
        if data is not None:
            handle = io.BytesIO(data)
            parser = PyEvtxParser(handle, number_of_threads=threads)
        elif repair_signature:
            handle = io.BufferedReader(_SignatureFixed(source))
            parser = PyEvtxParser(handle, number_of_threads=threads)
        else:
            parser = PyEvtxParser(source, number_of_threads=threads)
        records = parser.records_json()
    except (OSError, RuntimeError, ValueError) as error:
        if handle is not None:
            handle.close()
        yield BadRecord.of(source, "file", f"cannot open EVTX file: {error}")
        return
    try:
        yield from _records(records, source, layout_problem)
    finally:
        if handle is not None:
            handle.close()


def _records(records: Iterator[Any], source: str, layout_problem: str | None) -> Iterator[Event | BadRecord]:
    loads = orjson.loads
    flatten = flatten_evtx_json
    last_id: Any = None
    errors = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as error:  # the evtx package raises RuntimeError and keeps going on the next call
            errors += 1
            yield BadRecord.of(source, _error_position(str(error), last_id), f"EVTX parse error: {error}")
            if errors >= _MAX_ERRORS:
                yield BadRecord.of(source, "file", f"gave up after {errors} EVTX parse errors")
                return
            continue
        except BaseException as error:
            if type(error).__name__ != "PanicException":  # pyo3's wrapper of a Rust panic
                raise
            yield BadRecord.of(source, _after(last_id), f"EVTX parser crashed, rest of file skipped: {error}")
            return
        record_id = record.get("event_record_id")
        data = record.get("data")
        try:
            obj = loads(data)
            fields, logsource, timestamp = flatten(obj)
        except Exception as error:  # whatever is wrong with one record must not stop the file
            yield BadRecord.of(source, f"file record {record_id}", f"cannot read EVTX record: {error}",
                               data if isinstance(data, str | bytes) else None)
            continue
        system_id = fields.get("EventRecordID")
        last_id = record_id if system_id is None else system_id
        finish_windows(fields, timestamp)
        yield Event(fields, logsource, source, str(last_id), timestamp, obj, "windows")
    if layout_problem is not None:
        yield BadRecord.of(source, _after(last_id), layout_problem)


def _layout_problem(size: int) -> str | None:
    """A message when the file ends inside a chunk (the evtx package drops such a tail without a word)."""
    if size < _HEADER_BLOCK:
        return f"EVTX file truncated: {size} bytes, shorter than its 4096-byte header"
    tail = (size - _HEADER_BLOCK) % _CHUNK_SIZE
    if tail:
        chunk = (size - _HEADER_BLOCK) // _CHUNK_SIZE
        return (f"EVTX file truncated: chunk {chunk} has only {tail} of {_CHUNK_SIZE} bytes; "
                "its records were not read")
    return None


def looks_like_damaged_evtx(head: bytes) -> bool:
    """True for the first bytes of an EVTX file whose signature is damaged but whose first chunk is there."""
    return head[:len(EVTX_MAGIC)] != EVTX_MAGIC and head[_HEADER_BLOCK:_HEADER_BLOCK + len(CHUNK_MAGIC)] == CHUNK_MAGIC


class _SignatureFixed(io.RawIOBase):
    """A file whose first 8 bytes read as the EVTX signature, whatever they are on disk."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self._file = open(source, "rb", buffering=0)  # noqa: SIM115 - closed in close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        position = self._file.tell()
        count = self._file.readinto(buffer)
        if count and position < len(EVTX_MAGIC):
            end = min(len(EVTX_MAGIC) - position, count)
            buffer[:end] = EVTX_MAGIC[position:position + end]
        return count or 0

    def close(self) -> None:
        self._file.close()
        super().close()


def _error_position(message: str, last_id: Any) -> str:
    match = _RECORD_NUMBER.search(message)
    if match:
        return f"file record {match.group(1)}"
    match = _RECORD_RANGE.search(message)
    if match:
        return f"file records {match.group(1)}..{match.group(2)}"
    match = _CHUNK_NUMBER.search(message)
    if match:
        return f"chunk {match.group(1)}"
    return _after(last_id)


def _after(last_id: Any) -> str:
    return "start" if last_id is None else f"after {last_id}"
