"""Turn write-ahead-log records into events with the parser registry, by record kind.

* one message (syslog datagram or frame): a JSON object goes to the JSON record parsers; a syslog line to the
  syslog parser and its message parsers; any other line to the text parser that last read this source, else the
  first text parser whose sniff accepts it;
* lines of one source (file tail, HEC raw) and files (watched folders): :func:`yamori.sources.content.read_stream`,
  the same recognition as ``yamori hunt`` (archives, EVTX, JSON layouts, text by sniffing);
* JSON bodies and HEC envelopes: each object to the JSON record parsers; a HEC envelope's string event is a line.

Every event is tagged with its input (``yamori.input``) and, for HEC, with the envelope's ``host``, ``source``,
``sourcetype`` and indexed ``fields`` where the event has none of its own. Nothing here raises for bad input.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from yamori.events import UNKNOWN_LOGSOURCE, BadRecord, Event
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.parsers.base import Malformed, ParseContext, Parsed, Parser, TextParser
from yamori.parsers.registry import text_parsers, to_event
from yamori.parsers.syslog import SyslogParser
from yamori.parsers.timestamps import from_epoch
from yamori.sources.content import RecordChooser, read_stream, record_events
from yamori.sources.files import read_file

INPUT_FIELD = "yamori.input"
_DECODER = json.JSONDecoder()


class RecordDecoder:
    """Decodes records of any kind; keeps per-source state (the text parser that last read a source)."""

    def __init__(self) -> None:
        self.syslog = SyslogParser()
        self.chooser = RecordChooser()
        self._text_parser: dict[tuple[str, str], TextParser] = {}

    def events(self, seq: int, record: IngestRecord) -> Iterator[Event | BadRecord]:
        """The events of one record, each tagged with its input; BadRecords positioned ``seq/...``."""
        context = ParseContext(record.source or f"<{record.input}>", record.input,
                               datetime.fromtimestamp(record.received_ns / 1e9, UTC))
        kind = record.kind
        if kind is RecordKind.CLOCK:
            return
        try:
            if kind is RecordKind.MESSAGE:
                items = self._message(record, context, str(seq))
            elif kind is RecordKind.HEC_EVENT:
                items = self._hec_events(record, context, seq)
            elif kind is RecordKind.FILE:
                items = _as_original(read_file(Path(record.payload.decode("utf-8", "surrogateescape"))), record)
            else:  # LINES, HEC_RAW, JSON: the file-content recognition on the body
                items = read_stream(io.BytesIO(record.payload), context)
            for item in items:
                if isinstance(item, Event):
                    item.fields[INPUT_FIELD] = record.input
                    if kind is RecordKind.HEC_RAW:
                        _hec_metadata(item, record.meta)
                yield item
        except Exception as error:  # a decoding bug costs this record, never the pipeline
            yield BadRecord.of(context.source, seq, f"cannot decode record: {type(error).__name__}: {error}",
                               record.payload[:BadRecord.MAX_KEPT])

    def _message(self, record: IngestRecord, context: ParseContext, position: str) -> Iterator[Event | BadRecord]:
        line = record.payload.decode("utf-8", "backslashreplace").rstrip("\r\n\x00")
        yield from self.line(line, context, position, record.input)

    def line(self, line: str, context: ParseContext, position: str, input_name: str) -> Iterator[Event | BadRecord]:
        """One line of unknown format: JSON object, syslog, or the text format of its source."""
        if not line.strip():
            return
        if line.startswith("{"):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                yield from record_events(value, context, position, self.chooser)
                return
        try:
            parsed = self.syslog.parse_line(line, context.reference_time, context)
        except Malformed as error:
            yield context.bad(position, str(error), line)
            return
        except Exception as error:  # a message parser's bug costs one line
            yield context.bad(position, f"parser failed: {type(error).__name__}: {error}", line)
            return
        if parsed is not None:
            yield self._event(parsed, self.syslog, context, position, line)
            return
        yield from self._text_line(line, context, position, input_name)

    def _text_line(self, line: str, context: ParseContext, position: str,
                   input_name: str) -> Iterator[Event | BadRecord]:
        key = (input_name, context.source)
        cached = self._text_parser.get(key)
        if cached is not None:  # a source keeps its format: parse straight away, sniff only when that fails
            items = self._parse_text(cached, line, context, position)
            if items and all(isinstance(item, Event) for item in items):
                yield from items
                return
        parser = next((candidate for candidate in text_parsers() if _sniffs(candidate, line, context)), None)
        if parser is None:  # live input has no file to sniff: an unknown line is still an event, never lost
            fields = {"message": line, "event.kind": "event", "event.module": "text", "event.dataset": "text"}
            yield Event(fields, UNKNOWN_LOGSOURCE, context.source, position, None, line, "text")
            return
        self._text_parser[key] = parser
        yield from self._parse_text(parser, line, context, position)

    def _parse_text(self, parser: TextParser, line: str, context: ParseContext,
                    position: str) -> list[Event | BadRecord]:
        out: list[Event | BadRecord] = []
        try:
            for item in parser.parse(iter([(1, line)]), context):
                if isinstance(item, BadRecord):
                    out.append(BadRecord(item.source, position, item.reason, item.data))
                else:
                    out.append(self._event(item, parser, context, position, line))
        except Exception as error:
            out.append(context.bad(position, f"{parser.name} parser failed: {type(error).__name__}: {error}", line))
        return out

    @staticmethod
    def _event(parsed: Parsed, parser: Parser, context: ParseContext, position: str, line: str) -> Event:
        parsed.position = None
        return to_event(parsed, parser, context, position, line)

    def _hec_events(self, record: IngestRecord, context: ParseContext, seq: int) -> Iterator[Event | BadRecord]:
        for number, envelope in enumerate(split_json_objects(record.payload)):
            position = f"{seq}/{number}"
            if isinstance(envelope, BadRecord):
                yield BadRecord(context.source, position, envelope.reason, envelope.data)
                continue
            if not isinstance(envelope, dict) or "event" not in envelope:
                yield context.bad(position, "HEC envelope without an event", _short(envelope))
                continue
            event = envelope["event"]
            host = envelope.get("host")
            here = ParseContext(str(envelope.get("source") or context.source), context.name, context.reference_time)
            if isinstance(event, dict):
                items: Iterator[Event | BadRecord] = record_events(event, here, position, self.chooser)
            elif isinstance(event, str):
                items = self.line(event, here, position, f"{record.input}:{host}")
            else:
                items = record_events({"message": event}, here, position, self.chooser)
            for item in items:
                if isinstance(item, Event):
                    _hec_metadata(item, envelope)
                yield item


def _as_original(items: Iterator[Event | BadRecord], record: IngestRecord) -> Iterator[Event | BadRecord]:
    """A watched folder's file is read from the spool: its events name the file where it was dropped."""
    spooled = record.payload.decode("utf-8", "surrogateescape")
    original = record.source or spooled
    for item in items:
        if item.source.startswith(spooled):
            item.source = original + item.source[len(spooled):]
        yield item


def _sniffs(parser: TextParser, line: str, context: ParseContext) -> bool:
    try:
        return parser.sniff([line], context)
    except Exception:
        return False


def _hec_metadata(event: Event, envelope: dict[str, Any]) -> None:
    """HEC ``host``/``source``/``sourcetype``/``time``/``fields``, where the event itself has no such value."""
    fields = event.fields
    for name, target in (("host", "host.name"), ("sourcetype", "splunk.sourcetype"), ("source", "log.file.path"),
                         ("index", "splunk.index")):
        value = envelope.get(name)
        if value and target not in fields:
            fields[target] = value
    extra = envelope.get("fields")
    if isinstance(extra, dict):
        for name, value in extra.items():
            fields.setdefault(str(name), value)
    if event.timestamp is None and envelope.get("time") is not None:
        try:
            event.timestamp = from_epoch(float(envelope["time"]))
            fields.setdefault("@timestamp", event.timestamp)
        except (TypeError, ValueError, OverflowError, OSError):
            pass


def split_json_objects(body: bytes) -> Iterator[Any | BadRecord]:
    """The JSON values of a body holding them one per line or concatenated (``{...}{...}``, as HEC senders do)."""
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
            continue
        except orjson.JSONDecodeError:
            pass
        text = line.decode("utf-8", "backslashreplace")
        at = 0
        while at < len(text):
            while at < len(text) and text[at] in " \t\r":
                at += 1
            if at >= len(text):
                break
            try:
                value, at = _DECODER.raw_decode(text, at)
            except json.JSONDecodeError as error:
                yield BadRecord.of("", f"line {number}", f"invalid JSON: {error.msg} at column {error.colno}",
                                   text[at:at + 256])
                break
            yield value


def _short(value: Any) -> str:
    return repr(value)[:256]
