"""Files and folders to events: find the input files, recognise each by its content, read it as a stream.

:func:`read_file` never raises for bad input: a file that cannot be opened or read, and each record that cannot
be turned into an event, is a :class:`BadRecord` (source = the path, position = record position or ``file``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from yamori.events import BadRecord, Event
from yamori.parsers.base import ParseContext
from yamori.sources.content import read_stream
from yamori.sources.evtx import EVTX_MAGIC, looks_like_damaged_evtx, read_evtx
from yamori.sources.jsonfile import MAX_RECORD_BYTES

__all__ = ["expand_paths", "read_file", "read_paths"]

_SNIFF_BYTES = 4096 + 8  # an EVTX header block and the signature of its first chunk


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

    The format is recognised by content, not by name: EVTX (``ElfFile\\0``, read natively), and everything
    else by :func:`yamori.sources.content.read_stream` (archives, JSON, XML reports, text formats).
    Year-less timestamps are resolved against the file's modification time.
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
        context = ParseContext(source, os.path.basename(source), datetime.fromtimestamp(info.st_mtime, UTC))
        yield from read_stream(handle, context, max_record=max_record)
    finally:
        handle.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
