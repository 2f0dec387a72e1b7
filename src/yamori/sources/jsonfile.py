"""JSON inputs, streamed: JSON lines, JSON arrays, and files of pretty-printed objects one after another.

:func:`iter_json_records` reads a binary stream and yields ``(position, object)`` for every JSON object and a
:class:`BadRecord` for everything else. Memory stays flat: nothing larger than one record (at most
``max_record`` bytes, 16 MiB by default) is held, whatever the file size.

Layouts, decided from the first bytes:

* ``[`` - a JSON array (or several, one after another): each element is one record, position = its index
  (0-based, counted across the file). Streamed with a small scanner that finds element boundaries (strings,
  escapes and nesting respected) and hands each element to orjson.
* a first line that is a complete JSON object, or that is not but one of the next lines is - JSON lines:
  one object per line, position = line number (1-based). Blank lines and ``#`` comment lines are skipped.
* ``{`` otherwise (one pretty-printed object, or several one after another; ``evtx_dump -o json``'s
  ``Record N`` separator lines are accepted) - each top-level object is one record, position = the line it
  starts on.
* anything else: not JSON; one BadRecord for the file.

Each of these is a BadRecord with source and position, and reading goes on with the next record: invalid JSON,
invalid UTF-8, a record over ``max_record`` bytes (skipped without being held in memory), a value that is not an
object (``3``, ``"x"``, ``[...]`` as an array element or line), stray text between top-level objects, and a
record or array cut short at the end of the file. UTF-16 files (a UTF-16 byte-order mark) are reported as
unsupported; a UTF-8 byte-order mark is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

from yamori.events import BadRecord

__all__ = ["MAX_RECORD_BYTES", "iter_json_records", "sniff_json_layout"]

MAX_RECORD_BYTES = 16 * 1024 * 1024
_READ_SIZE = 1 << 20
_SNIFF_LINES = 6

JsonItem = tuple[str, dict[str, Any]] | BadRecord

_UTF8_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_TOKEN = re.compile(rb'[\[\]{},"]')
_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)  # the rest of a string up to its closing quote
_RECORD_SEPARATOR = re.compile(rb"\s*(?:Record \d+\s*)*", re.ASCII)  # evtx_dump -o json


def sniff_json_layout(stream: IO[bytes], max_record: int = MAX_RECORD_BYTES) -> str:
    """``array``, ``lines``, ``objects``, ``utf16``, ``empty`` or ``unknown``; the stream is rewound after."""
    start = stream.tell()
    try:
        if stream.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return "utf16"
        stream.seek(start)
        if stream.read(len(_UTF8_BOM)) != _UTF8_BOM:
            stream.seek(start)
        first = _read_line(stream, max_record)
        while first is not None and not first.strip():
            first = _read_line(stream, max_record)
        if first is None:
            return "empty"
        head = first.lstrip(_WHITESPACE)
        if head.startswith(b"[") and _opens_array(head):
            return "array"
        if _is_object(first):
            return "lines"
        if head.rstrip() == b"{" or head.startswith(b"Record ") or (
                head.startswith(b"{") and head.rstrip()[-1:] in (b"{", b"[", b",", b":")):
            return "objects"  # pretty-printed JSON (``{"Records": [`` opens an object), or evtx_dump's output
        for _ in range(_SNIFF_LINES - 1):
            line = _read_line(stream, max_record)
            if line is None:
                break
            if _is_object(line):
                return "lines"
        if head.startswith(b"{") or head.startswith(b"Record "):
            return "objects"
        return "unknown"
    finally:
        stream.seek(start)


def _read_line(stream: IO[bytes], max_record: int) -> bytes | None:
    """The next line (its first ``max_record`` bytes; the rest is read and dropped), None at the end."""
    line = stream.readline(max_record)
    if not line:
        return None
    if not line.endswith(b"\n"):
        while True:
            rest = stream.readline(_READ_SIZE)
            if not rest or rest.endswith(b"\n"):
                break
    return line


def _opens_array(line: bytes) -> bool:
    """A JSON array starts here, not a text line such as Apache's ``[Sat Nov 28 ...] [error]``."""
    rest = line[1:].lstrip(_WHITESPACE)
    if not rest or rest[:1] in (b"{", b"[", b"]"):
        return True
    try:
        return type(orjson.loads(line)) is list
    except orjson.JSONDecodeError:
        return False


def _is_object(line: bytes) -> bool:
    try:
        return type(orjson.loads(line)) is dict
    except orjson.JSONDecodeError:
        return False


def iter_json_records(stream: IO[bytes], source: str, max_record: int = MAX_RECORD_BYTES,
                      layout: str | None = None) -> Iterator[JsonItem]:
    """Yield ``(position, object)`` per JSON object of ``stream`` and a BadRecord per unusable part.

    ``stream`` must be seekable (it is rewound after sniffing its layout). I/O errors propagate.
    ``layout``: what :func:`sniff_json_layout` said of this stream, when the caller asked it already.
    """
    start = stream.tell()
    if layout is None:
        layout = sniff_json_layout(stream, max_record)
    if layout == "empty":
        return
    if layout == "utf16":
        yield BadRecord.of(source, "file", "UTF-16 text is not supported: convert the file to UTF-8")
        return
    if layout == "unknown":
        yield BadRecord.of(source, "file", "not a recognised format (neither EVTX nor JSON)", stream.read(256))
        return
    if stream.read(len(_UTF8_BOM)) != _UTF8_BOM:
        stream.seek(start)
    if layout == "lines":
        yield from _iter_lines(stream, source, max_record)
    else:
        yield from _Scanner(stream, source, max_record).run()


def _iter_lines(stream: IO[bytes], source: str, max_record: int) -> Iterator[JsonItem]:
    loads = orjson.loads
    number = 0
    while True:
        line = stream.readline(max_record + 1)
        if not line:
            return
        number += 1
        if len(line) > max_record and not line.endswith(b"\n"):
            kept = line[:BadRecord.MAX_KEPT]
            del line
            while True:  # drop the rest of the line without holding it
                rest = stream.readline(_READ_SIZE)
                if not rest or rest.endswith(b"\n"):
                    break
            yield BadRecord.of(source, number, f"line longer than {max_record} bytes, skipped", kept)
            continue
        if line.startswith(b"#"):
            continue  # a comment line (headers some tools write above JSON lines)
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as error:
            if not line.strip():
                continue
            yield BadRecord.of(source, number, f"invalid JSON: {error}", line)
            continue
        if type(obj) is dict:
            yield str(number), obj
        else:
            yield BadRecord.of(source, number, f"not a JSON object but {_kind(obj)}", line)


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


_QUOTE, _COMMA, _OPEN_ARRAY, _CLOSE_ARRAY, _OPEN_OBJECT = 0x22, 0x2C, 0x5B, 0x5D, 0x7B


class _Scanner:
    """Splits a byte stream into top-level JSON objects and array elements without parsing them.

    Tracks only the nesting depth and whether it is inside a string, jumping with regular expressions from one
    structural character to the next (C speed on everything in between); each record found is parsed by
    orjson. Holds at most one record (``max_record`` bytes) plus one read block.
    """

    def __init__(self, stream: IO[bytes], source: str, max_record: int) -> None:
        self.stream = stream
        self.source = source
        self.max_record = max_record
        self.buf = bytearray()
        self.eof = False
        self.line = 1      # line number at buf[self.counted]
        self.counted = 0
        self.index = 0     # index of the next array element

    def _line_at(self, offset: int) -> int:
        if offset > self.counted:
            self.line += self.buf.count(b"\n", self.counted, offset)
            self.counted = offset
        return self.line

    def _refill(self, drop: int) -> None:
        """Forget buf[:drop] and append the next block of input."""
        if drop:
            self._line_at(drop)
            del self.buf[:drop]
            self.counted -= drop
        block = self.stream.read(_READ_SIZE)
        if block:
            self.buf += block
        else:
            self.eof = True

    def run(self) -> Iterator[JsonItem]:
        buf = self.buf
        token_search = _TOKEN.search
        string_rest = _STRING_REST.match
        max_record = self.max_record
        pos = 0
        depth = 0
        in_string = False
        in_array = False     # the open top-level value is an array: its elements are the records
        start = -1           # where the current record starts (-1: between records)
        start_line = 0
        after_comma = False  # the current array element follows a comma (so it must not be empty)
        oversized = False    # the current record passed max_record: its bytes are being dropped
        gap = 0              # where the text between top-level records starts
        while True:
            if in_string:
                rest = string_rest(buf, pos)
                end = rest.end() if rest is not None else pos  # (the pattern always matches)
                if end < len(buf) and buf[end] == _QUOTE:
                    in_string = False
                    pos = end + 1
                    continue
                pos = end  # the string goes on beyond the buffer
            else:
                match = token_search(buf, pos)
                if match is not None:
                    at = match.start()
                    char = buf[at]
                    pos = at + 1
                    if char == _QUOTE:
                        in_string = True
                    elif depth == 0:
                        if char in (_OPEN_ARRAY, _OPEN_OBJECT):
                            yield from self._stray(gap, at)
                            depth = 1
                            in_array = char == _OPEN_ARRAY
                            after_comma = False
                            if in_array:
                                start = pos
                            else:
                                start, start_line = at, self._line_at(at)
                        # any other structural character here is stray text, reported with the gap
                    elif char in (_OPEN_ARRAY, _OPEN_OBJECT):
                        depth += 1
                    elif char == _COMMA:
                        if depth == 1 and in_array:
                            yield self._element(start, at, oversized)
                            oversized = False
                            after_comma = True
                            start = pos
                    else:  # } or ]
                        depth -= 1
                        if depth == 0:
                            if in_array:
                                if after_comma or oversized or buf[start:at].strip():
                                    yield self._element(start, at, oversized)
                            elif oversized or pos - start > max_record:
                                yield self._too_big(str(start_line))
                            else:
                                yield self._decode(bytes(buf[start:pos]), str(start_line))
                            oversized = False
                            start = -1
                            gap = pos
                    continue
                pos = len(buf)
            # the buffer is used up: read more, keeping the record (or stray text) in progress
            if self.eof:
                break
            keep = start if start >= 0 else gap
            if pos - keep > max_record:
                if start >= 0:
                    oversized = True
                else:
                    yield from self._stray(gap, pos)
                keep = pos
            self._refill(keep)
            pos -= keep
            gap = max(gap - keep, 0)
            if start >= 0:
                start = max(start - keep, 0)
        yield from self._finish(depth, in_string, in_array, start, start_line, oversized, gap)

    def _finish(self, depth: int, in_string: bool, in_array: bool, start: int, start_line: int,
                oversized: bool, gap: int) -> Iterator[JsonItem]:
        if depth == 0:
            yield from self._stray(gap, len(self.buf))
            return
        rest = bytes(self.buf[start:]).strip() if start >= 0 and not oversized else b""
        if in_array and depth == 1 and not in_string:
            # the array lacks its closing bracket; its last element may still be whole
            if oversized or rest:
                yield self._element(start, len(self.buf), oversized)
            yield BadRecord.of(self.source, str(self.index), "JSON array not closed (file cut short?)")
            return
        position = str(self.index) if in_array else str(start_line)
        if oversized:
            yield self._too_big(position)
        else:
            yield BadRecord.of(self.source, position, "JSON cut short at the end of the file", rest)

    def _element(self, start: int, end: int, oversized: bool) -> JsonItem:
        position = str(self.index)
        self.index += 1
        if oversized or end - start > self.max_record:
            return self._too_big(position)
        data = bytes(self.buf[start:end]).strip()
        if not data:
            return BadRecord.of(self.source, position, "empty array element")
        return self._decode(data, position)

    def _decode(self, data: bytes, position: str) -> JsonItem:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            return BadRecord.of(self.source, position, f"invalid JSON: {error}", data)
        if type(obj) is dict:
            return position, obj
        return BadRecord.of(self.source, position, f"not a JSON object but {_kind(obj)}", data)

    def _too_big(self, position: str) -> BadRecord:
        return BadRecord.of(self.source, position, f"record longer than {self.max_record} bytes, skipped")

    def _stray(self, begin: int, end: int) -> Iterator[BadRecord]:
        """Report non-blank text between top-level records (``Record N`` lines of evtx_dump excepted)."""
        if end <= begin:
            return
        text = bytes(self.buf[begin:end])
        if not text.strip() or _RECORD_SEPARATOR.fullmatch(text):
            return
        stripped = text.lstrip()
        yield BadRecord.of(self.source, str(self._line_at(begin + len(text) - len(stripped))),
                           "text outside any JSON object", stripped.rstrip())
