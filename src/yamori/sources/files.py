"""Files and folders to events: find the input files, recognise each by its content, read it as a stream.

:func:`read_file` never raises for bad input: a file that cannot be opened or read, and each record that cannot
be turned into an event, is a :class:`BadRecord` (source = the path, position = record position or ``file``).
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from yamori.events import UNKNOWN_LOGSOURCE, BadRecord, Event
from yamori.parsers.generic import flatten_json
from yamori.parsers.windows import windows_json_to_fields
from yamori.sources.evtx import EVTX_MAGIC, looks_like_damaged_evtx, read_evtx
from yamori.sources.jsonfile import MAX_RECORD_BYTES, iter_json_records

__all__ = ["expand_paths", "json_to_event", "read_file", "read_paths"]

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 4096 + 8  # an EVTX header block and the signature of its first chunk
_READ_ERRORS = (OSError, EOFError, zlib.error)


def expand_paths(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Yield the files to read: each file given, and every file below each folder given (recursively).

    Folder contents are sorted by name; the paths given keep their order; a file is yielded once. Nothing is
    skipped silently: a path that does not exist, a folder that cannot be listed, or something that is neither
    file nor folder is yielded as it is, so that :func:`read_file` reports it as a BadRecord. Symbolic links
    are followed (a folder loop is entered once).
    """
    seen_files: set[Path] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk(path, seen_files, seen_dirs)
        elif path not in seen_files:
            seen_files.add(path)
            yield path


def _walk(folder: Path, seen_files: set[Path], seen_dirs: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen_dirs:
            return
        seen_dirs.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as entries:
            children = sorted(entries, key=lambda entry: entry.name)
    except OSError:
        if folder not in seen_files:
            seen_files.add(folder)
            yield folder  # read_file reports why it cannot be listed
        return
    for entry in children:
        child = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(child, seen_files, seen_dirs)
        elif child not in seen_files:
            seen_files.add(child)
            yield child


def read_paths(paths: Iterable[Path | str]) -> Iterator[Event | BadRecord]:
    """:func:`read_file` over every file :func:`expand_paths` finds."""
    for path in expand_paths(paths):
        yield from read_file(path)


def read_file(path: Path | str, *, evtx_threads: int = 1,
              max_record: int = MAX_RECORD_BYTES) -> Iterator[Event | BadRecord]:
    """Yield the events of one file, and a BadRecord for each part that cannot be read.

    The format is recognised by content, not by name: EVTX (``ElfFile\\0``), gzip-compressed JSON, a JSON array,
    JSON lines, or pretty-printed JSON objects. JSON objects in a Windows shape (EVTX JSON, Winlogbeat, NXLog)
    are flattened by :mod:`yamori.parsers.windows`; any other object is flattened generically (dotted names)
    with no logsource facets.
    """
    source = str(path)
    try:
        info = os.stat(source)
    except OSError as error:
        yield BadRecord.of(source, "file", f"cannot read: {_reason(error)}")
        return
    if stat.S_ISDIR(info.st_mode):
        try:
            os.listdir(source)
        except OSError as error:
            yield BadRecord.of(source, "file", f"cannot list folder: {_reason(error)}")
        else:
            yield BadRecord.of(source, "file", "is a folder (use expand_paths)")
        return
    if not stat.S_ISREG(info.st_mode):
        yield BadRecord.of(source, "file", "not a regular file")
        return
    try:
        handle: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed below, also when the caller stops early
    except OSError as error:
        yield BadRecord.of(source, "file", f"cannot read: {_reason(error)}")
        return
    try:
        try:
            head = handle.read(_SNIFF_BYTES)
        except OSError as error:
            yield BadRecord.of(source, "file", f"cannot read: {_reason(error)}")
            return
        magic = head[:len(EVTX_MAGIC)]
        if magic == EVTX_MAGIC:
            handle.close()
            yield from read_evtx(source, threads=evtx_threads)
            return
        if looks_like_damaged_evtx(head):
            handle.close()
            yield BadRecord.of(source, "file", "EVTX file signature damaged; read as EVTX anyway",
                               head[:len(EVTX_MAGIC)])
            yield from read_evtx(source, threads=evtx_threads, repair_signature=True)
            return
        handle.seek(0)
        stream: IO[bytes] = handle
        if magic.startswith(_GZIP_MAGIC):
            stream = cast(IO[bytes], gzip.GzipFile(fileobj=handle, mode="rb"))
            try:
                if stream.read(len(EVTX_MAGIC)) == EVTX_MAGIC:
                    yield BadRecord.of(source, "file", "gzip-compressed EVTX is not supported: decompress it")
                    return
                stream.seek(0)
            except _READ_ERRORS as error:
                yield BadRecord.of(source, "file", f"cannot decompress: {_reason(error)}")
                return
        yield from _read_json(stream, source, max_record)
    finally:
        handle.close()


def _read_json(stream: IO[bytes], source: str, max_record: int) -> Iterator[Event | BadRecord]:
    records = iter_json_records(stream, source, max_record)
    last = "start"
    while True:
        try:
            item = next(records)
        except StopIteration:
            return
        except _READ_ERRORS as error:
            yield BadRecord.of(source, last if last == "start" else f"after {last}",
                               f"read error, rest of file skipped: {_reason(error)}")
            return
        if isinstance(item, BadRecord):
            yield item
            continue
        last = item[0]
        yield json_to_event(item[1], source, item[0])


def json_to_event(obj: dict[str, Any], source: str, position: str) -> Event | BadRecord:
    """One JSON object as an Event: Windows shapes through the Windows parser, others flattened generically."""
    try:
        parsed = windows_json_to_fields(obj)
        if parsed is None:
            return Event(flatten_json(obj), UNKNOWN_LOGSOURCE, source, position, None, obj)
    except Exception as error:  # one malformed record must not stop the file
        return BadRecord.of(source, position, f"cannot flatten record: {type(error).__name__}: {error}",
                            repr(obj))
    fields, logsource, timestamp = parsed
    return Event(fields, logsource, source, position, timestamp, obj)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
