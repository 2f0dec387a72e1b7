"""Recognise what a byte stream holds and read it with the right parser, archives included.

:func:`read_stream` is the one entry point of every input (files, archive members, later network bodies):

1. containers, opened as streams without unpacking to disk: gzip (``.gz``, also around tar), zip, tar; each
   member is read by :func:`read_stream` again, its source written ``archive!member``;
2. EVTX (also inside archives: the member is read into memory, EVTX needs random access);
3. JSON (lines, arrays, pretty-printed objects): each object to the first :class:`RecordParser` that accepts it;
4. XML documents: the :class:`DocumentParser` that recognises the head (Nessus, OpenVAS);
5. text: the first :class:`TextParser` whose :meth:`sniff` accepts the first lines (comments and blank lines
   aside); the generic text parser takes any text the others do not.

Nothing here raises for bad input: every problem is a :class:`BadRecord` with source and position.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, cast

from yamori.events import UNKNOWN_LOGSOURCE, BadRecord, Event
from yamori.parsers.base import Malformed, ParseContext, Parsed, Parser, RecordParser, TextParser
from yamori.parsers.generic import flatten_json
from yamori.parsers.registry import document_parsers, record_parsers, text_parsers, to_event
from yamori.parsers.timestamps import from_epoch, parse_iso, utc_iso
from yamori.sources.evtx import EVTX_MAGIC, read_evtx
from yamori.sources.jsonfile import MAX_RECORD_BYTES, iter_json_records, sniff_json_layout
from yamori.sources.replay import rewindable

__all__ = ["MAX_ARCHIVE_DEPTH", "MAX_EVTX_MEMBER", "read_bytes", "read_stream", "record_events"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_TAR_MAGIC_AT = 257
_HEAD = 4096
_SNIFF_LINES = 40
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, io.UnsupportedOperation)
MAX_ARCHIVE_DEPTH = 4          # archives inside archives inside ... (zip bombs nest deeper)
MAX_EVTX_MEMBER = 1 << 30       # an EVTX member of an archive is read into memory: up to 1 GiB


def read_stream(stream: IO[bytes], context: ParseContext, *, max_record: int = MAX_RECORD_BYTES,
                depth: int = 0) -> Iterator[Event | BadRecord]:
    """The events of one stream, whatever it holds; a BadRecord for each part that cannot be read."""
    try:
        stream = rewindable(stream)
        start = stream.tell()
        head = stream.read(_HEAD)
        stream.seek(start)
    except _READ_ERRORS as error:
        yield context.bad("file", f"cannot read: {_reason(error)}")
        return
    try:
        yield from _dispatch(stream, head, context, max_record, depth)
    except _READ_ERRORS as error:  # a damaged archive or compressed stream: the rest cannot be read
        yield context.bad("file", f"read error, rest skipped: {_reason(error)}")


def read_bytes(data: bytes, name: str = "sample", reference_time: datetime | None = None) -> list[Event | BadRecord]:
    """Every event of an in-memory input (a sample line, a test fixture, a request body), source ``<name>``."""
    context = ParseContext(f"<{name}>", name, reference_time or datetime.now(UTC))
    return list(read_stream(io.BytesIO(data), context))


def _dispatch(stream: IO[bytes], head: bytes, context: ParseContext, max_record: int,
              depth: int) -> Iterator[Event | BadRecord]:
    if head.startswith(_GZIP_MAGIC) or head.startswith(_ZIP_MAGIC) or _is_tar(head):
        if depth >= MAX_ARCHIVE_DEPTH:
            yield context.bad("file", f"archive nested more than {MAX_ARCHIVE_DEPTH} deep, not read")
            return
        if head.startswith(_GZIP_MAGIC):
            inner = ParseContext(context.source, _strip_suffix(context.name, ".gz"), context.reference_time)
            yield from read_stream(cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb")), inner,
                                   max_record=max_record, depth=depth + 1)
        elif head.startswith(_ZIP_MAGIC):
            yield from _read_zip(stream, context, max_record, depth)
        else:
            yield from _read_tar(stream, context, max_record, depth)
        return
    if head.startswith(EVTX_MAGIC):
        yield from _read_evtx_stream(stream, context)
        return
    text_head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text_head.startswith(b"<") and not text_head[1:2].isdigit():
        yield from _read_document(stream, head, context)
        return
    layout = sniff_json_layout(stream, max_record)
    if layout == "empty":
        return
    if layout in ("array", "lines", "objects", "utf16"):
        yield from _read_json(stream, context, max_record, layout)
        return
    yield from _read_text(stream, context)


def _is_tar(head: bytes) -> bool:
    return head[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar"


def _strip_suffix(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.lower().endswith(suffix) else name


def _member_context(context: ParseContext, member: str) -> ParseContext:
    return ParseContext(f"{context.source}!{member}", member.rsplit("/", 1)[-1], context.reference_time)


def _read_zip(stream: IO[bytes], context: ParseContext, max_record: int, depth: int) -> Iterator[Event | BadRecord]:
    with zipfile.ZipFile(stream) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = _member_context(context, info.filename)
            try:
                handle = archive.open(info)
            except (RuntimeError, NotImplementedError, *_READ_ERRORS) as error:  # encrypted, unknown method
                yield member.bad("file", f"cannot open archive member: {_reason(error)}")
                continue
            with handle:
                yield from read_stream(handle, member, max_record=max_record, depth=depth + 1)


def _read_tar(stream: IO[bytes], context: ParseContext, max_record: int, depth: int) -> Iterator[Event | BadRecord]:
    with tarfile.open(fileobj=stream, mode="r|") as archive:  # streaming: members in order, no seeking
        for info in archive:
            if not info.isfile():
                continue
            member = _member_context(context, info.name)
            handle = archive.extractfile(info)
            if handle is None:
                continue
            with handle:
                yield from read_stream(handle, member, max_record=max_record, depth=depth + 1)


def _read_evtx_stream(stream: IO[bytes], context: ParseContext) -> Iterator[Event | BadRecord]:
    data = stream.read(MAX_EVTX_MEMBER + 1)
    if len(data) > MAX_EVTX_MEMBER:
        yield context.bad("file", f"EVTX inside an archive larger than {MAX_EVTX_MEMBER} bytes, not read")
        return
    yield from read_evtx(context.source, data=data)


def _read_document(stream: IO[bytes], head: bytes, context: ParseContext) -> Iterator[Event | BadRecord]:
    for parser in document_parsers():
        if parser.sniff(head, context):
            try:
                for item in parser.parse(stream, context):
                    yield item if isinstance(item, BadRecord) else _positioned(item, parser, context)
            except Malformed as error:
                yield context.bad("file", str(error))
            except _READ_ERRORS:
                raise
            except Exception as error:  # a parser bug must not stop the run
                yield context.bad("file", f"{parser.name} parser failed, rest of document skipped: "
                                  f"{type(error).__name__}: {error}")
            return
    yield context.bad("file", "XML document of an unknown kind (known: "
                      + ", ".join(parser.name for parser in document_parsers()) + ")", head[:256])


def _read_json(stream: IO[bytes], context: ParseContext, max_record: int,
               layout: str) -> Iterator[Event | BadRecord]:
    records = iter_json_records(stream, context.source, max_record, layout)
    chooser = RecordChooser()
    last = "start"
    while True:
        try:
            item = next(records)
        except StopIteration:
            return
        except _READ_ERRORS as error:
            yield context.bad(last if last == "start" else f"after {last}",
                              f"read error, rest of file skipped: {_reason(error)}")
            return
        if isinstance(item, BadRecord):
            yield item
            continue
        last = item[0]
        yield from record_events(item[1], context, item[0], chooser)


class RecordChooser:
    """Finds the parser of a JSON record; records of one file usually share it, so it is asked first."""

    def __init__(self, parsers: Iterable[RecordParser] | None = None) -> None:
        self.parsers = tuple(parsers) if parsers is not None else record_parsers()
        self.last: RecordParser | None = None

    def choose(self, record: dict[str, Any], context: ParseContext) -> RecordParser | None:
        last = self.last
        if last is not None and last.accepts(record, context):
            return last
        for parser in self.parsers:
            if parser is not last and parser.accepts(record, context):
                self.last = parser
                return parser
        return None


GENERIC_TIME_KEYS = ("@timestamp", "timestamp", "time", "eventTime", "event_time", "datetime", "date", "ts")


def generic_time(record: dict[str, Any]) -> str | None:
    """The event time of a JSON record no parser knows: the first usual time key holding an ISO 8601 time or
    seconds since 1970 (milliseconds when too large for seconds)."""
    for key in GENERIC_TIME_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            moment = parse_iso(value)
            if moment is not None:
                return utc_iso(moment)
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return from_epoch(value / 1000 if value > 1e11 else value)
    return None


def record_events(record: dict[str, Any], context: ParseContext, position: str,
                  chooser: RecordChooser | None = None) -> Iterator[Event | BadRecord]:
    """The events of one JSON record: its parser's, or the record flattened generically when no parser knows it."""
    try:
        parser = (chooser or RecordChooser()).choose(record, context)
        if parser is None:
            fields = flatten_json(record)
            fields.setdefault("event.module", "json")
            fields.setdefault("event.dataset", "json")
            yield Event(fields, UNKNOWN_LOGSOURCE, context.source, position, generic_time(record), record, "json")
            return
        for parsed in parser.parse(record, context):
            if isinstance(parsed, BadRecord):  # one broken part of a record holding many: position record/part
                yield BadRecord(context.source, f"{position}/{parsed.position}", parsed.reason, parsed.data)
            else:
                yield to_event(parsed, parser, context, position, record)
    except Malformed as error:
        yield context.bad(position, str(error), _short_repr(record))
    except Exception as error:  # one malformed record must not stop the file
        yield context.bad(position, f"cannot parse record: {type(error).__name__}: {error}", _short_repr(record))


def _short_repr(record: Any) -> str:
    return repr(record)[:BadRecord.MAX_KEPT]


def _read_text(stream: IO[bytes], context: ParseContext) -> Iterator[Event | BadRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="backslashreplace", newline=None)
    numbered = _numbered_lines(text)
    sample: list[tuple[int, str]] = []
    for numbered_line in numbered:
        sample.append(numbered_line)
        if len(sample) >= _SNIFF_LINES:
            break
    parser = _choose_text_parser(sample, context)
    if parser is None:
        first = sample[0][1] if sample else ""
        yield context.bad("file", "not a recognised format", first[:256])
        return
    lines = _chain(sample, numbered)
    if parser.comment_prefix is not None:
        lines = _without_comments(lines, parser.comment_prefix)
    last = "start"
    try:
        for item in parser.parse(lines, context):
            if isinstance(item, BadRecord):
                yield item
            else:
                last = item.position or last
                yield _positioned(item, parser, context)
    except Malformed as error:
        yield context.bad(f"after {last}", str(error))
    except Exception as error:  # a parser bug must not stop the run: report it and go on with the next file
        yield context.bad(f"after {last}", f"{parser.name} parser failed, rest of file skipped: "
                          f"{type(error).__name__}: {error}")


def _positioned(parsed: Parsed, parser: Parser, context: ParseContext) -> Event:
    """An event of a text or document parser: its own position (the line number) is the position."""
    position, parsed.position = parsed.position or "?", None
    return to_event(parsed, parser, context, position, None)


def _numbered_lines(text: io.TextIOWrapper) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) for every non-blank line."""
    for number, line in enumerate(text, 1):
        stripped = line.rstrip("\r\n")
        if stripped.strip():
            yield number, stripped


def _chain(sample: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from sample
    yield from rest


def _without_comments(lines: Iterator[tuple[int, str]], prefix: str) -> Iterator[tuple[int, str]]:
    for number, line in lines:
        if not line.startswith(prefix):
            yield number, line


def _choose_text_parser(sample: list[tuple[int, str]], context: ParseContext) -> TextParser | None:
    for parser in text_parsers():
        prefix = parser.comment_prefix
        lines = [line for _, line in sample if prefix is None or not line.startswith(prefix)]
        try:
            if parser.sniff(lines, context):
                return parser
        except Exception:
            continue
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
