"""Syslog lines: the RFC 5424 and RFC 3164 envelopes, and handing each message to the parser of its format.

One line is split into its header (:class:`~yamori.parsers.base.Envelope`: time, host, program, pid, priority,
RFC 5424 msgid and structured data) and its message. Then every :class:`~yamori.parsers.base.MessageParser` of
the registry that owns the line's program (``sshd``, ``filterlog``, ...), and after those every parser that
decides by the message alone (CEF, LEEF, Cisco ASA, netfilter), is asked in priority order; the first that
returns an event wins. A line no message parser claims is still an event: a generic syslog event (logsource
``product: linux, service: syslog`` when the program is one a Linux host runs, otherwise no logsource) with
the message kept whole, so keyword rules and search see it. Such a line is Sigma's ``product: linux, service:
syslog`` (the taxonomy's home of syslog keyword rules): network devices, whose lines Linux rules must not see,
are claimed by their own message parsers.

Header forms read (``<PRI>`` optional in all):

* RFC 5424: ``<34>1 2026-11-28T03:00:00.123Z host app 1234 ID47 [exampleSDID@32473 iut="3"] message``
* RFC 3164 / BSD: ``Nov 28 03:00:00 host prog[123]: message`` (host optional; ``Nov 28 2026 03:00:00``
  and a fraction of seconds accepted, as Cisco devices write them)
* rsyslog's high-precision file format: ``2026-11-28T03:00:00.123456+01:00 host prog[123]: message``
* journalctl's short form without a time (``host prog[123]: message``) is read by ``journal_short.py``.

Fields: ``timestamp`` (as written), ``host``, ``program``, ``pid``, ``facility``, ``severity``, ``msgid``,
``message``, ``sd.<SD-ID>.<param>``; ECS: ``@timestamp``, ``host.hostname``, ``process.name``,
``process.pid``, ``log.syslog.*``, ``message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from yamori.events import BadRecord
from yamori.parsers.base import (
    Envelope,
    Family,
    Malformed,
    MessageParser,
    ParseContext,
    Parsed,
    TextParser,
    finish,
    logsource,
)
from yamori.parsers.timestamps import parse_iso, parse_month_day, utc_iso

__all__ = ["SyslogParser", "parse_envelope", "syslog_fields"]

_PRI = r"(?:<(?P<pri>\d{1,3})>)?"
_RFC5424 = re.compile(
    _PRI + r"1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r'(?P<sd>-|(?:\[[^\s\]]+(?:\s+[^\s=\]]+="(?:[^"\\]|\\.)*")*\s*\])+)(?: (?P<msg>.*))?$', re.DOTALL)
_MONTH = r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_BSD_TIME = (_MONTH + r"\s+(?P<day>\d{1,2})\s+(?:(?P<year>\d{4})\s+)?(?P<clock>\d{1,2}:\d{2}:\d{2}(?:\.\d+)?)"
             r"(?:\s+(?P<year2>\d{4}))?")
_ISO_TIME = r"(?P<iso>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
_TAG = r"(?P<prog>[^\s\[\]:]+?)(?:\[(?P<pid>[^\]\s]*)\])?(?::\s?|\s(?=\S))"
_RFC3164 = re.compile(
    _PRI + r"(?:" + _BSD_TIME + "|" + _ISO_TIME + r"):?\s+"
    r"(?:(?P<host>[^\s\[\]:]+)\s+(?=[^\s\[\]:]+?(?:\[[^\]\s]*\])?(?::|\s)))?" + _TAG + r"(?P<msg>.*)$", re.DOTALL)
_RFC3164_NO_TAG = re.compile(_PRI + r"(?:" + _BSD_TIME + "|" + _ISO_TIME + r"):?\s+(?P<msg>.*)$", re.DOTALL)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s\]=]+)(?P<params>(?:\s+[^\s=\]]+="(?:[^"\\]|\\.)*")*)\s*\]')
_SD_PARAM = re.compile(r'([^\s=\]]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(r'\\([\\"\]])')

_LINUX_SYSLOG = logsource("linux", None, "syslog")


def parse_envelope(line: str, reference: datetime) -> tuple[Envelope, str] | None:
    """Split one syslog line into header and message; None when it has no syslog header."""
    if line.startswith("<") or line[:1].isdigit():
        match = _RFC5424.match(line)
        if match is not None:
            return _rfc5424(match, line), match["msg"] or ""
    match = _RFC3164.match(line)
    if match is None:
        match = _RFC3164_NO_TAG.match(line)
        if match is None:
            return None
    timestamp = _bsd_time(match, reference)
    if timestamp is None:
        return None
    pri = int(match["pri"]) if match["pri"] else None
    groups = match.groupdict()
    envelope = Envelope(
        timestamp=timestamp, original_time=match["iso"] or _bsd_written(match), host=groups.get("host"),
        program=groups.get("prog"), pid=groups.get("pid") or None,
        facility=pri >> 3 if pri is not None else None, severity=pri & 7 if pri is not None else None,
        line=line)
    return envelope, match["msg"]


def _bsd_written(match: re.Match[str]) -> str:
    return " ".join(part for part in (match["mon"], match["day"], match["year"], match["clock"], match["year2"])
                    if part)


def _bsd_time(match: re.Match[str], reference: datetime) -> str | None:
    if match["iso"]:
        moment = parse_iso(match["iso"])
    else:
        year = match["year"] or match["year2"]
        moment = parse_month_day(match["mon"], int(match["day"]), match["clock"], reference,
                                 int(year) if year else None)
    return utc_iso(moment) if moment is not None else None


def _rfc5424(match: re.Match[str], line: str) -> Envelope:
    pri = int(match["pri"]) if match["pri"] else None
    moment = parse_iso(match["ts"]) if match["ts"] != "-" else None
    structured: dict[str, dict[str, str]] = {}
    if match["sd"] != "-":
        for element in _SD_ELEMENT.finditer(match["sd"]):
            structured[element["id"]] = {name: _SD_UNESCAPE.sub(r"\1", value)
                                         for name, value in _SD_PARAM.findall(element["params"])}

    def nil(value: str) -> str | None:
        return None if value == "-" else value

    return Envelope(
        timestamp=utc_iso(moment) if moment is not None else None, original_time=nil(match["ts"]),
        host=nil(match["host"]), program=nil(match["app"]), pid=nil(match["procid"]),
        facility=pri >> 3 if pri is not None else None, severity=pri & 7 if pri is not None else None,
        msgid=nil(match["msgid"]), structured_data=structured, line=line)


def syslog_fields(envelope: Envelope, message: str) -> dict[str, Any]:
    """The envelope's fields (original names and ECS names) plus the message."""
    fields: dict[str, Any] = {}
    if envelope.original_time is not None:
        fields["timestamp"] = envelope.original_time
    if envelope.host:
        fields["host"] = fields["host.hostname"] = envelope.host
    if envelope.program:
        fields["program"] = fields["process.name"] = envelope.program
    if envelope.pid:
        fields["pid"] = envelope.pid
        if envelope.pid.isdigit():
            fields["process.pid"] = int(envelope.pid)
    if envelope.facility is not None:
        fields["facility"] = fields["log.syslog.facility.code"] = envelope.facility
        fields["severity"] = fields["log.syslog.severity.code"] = envelope.severity
    if envelope.msgid:
        fields["msgid"] = fields["log.syslog.msgid"] = envelope.msgid
    for sd_id, params in envelope.structured_data.items():
        for name, value in params.items():
            fields[f"sd.{sd_id}.{name}"] = value
    fields["message"] = message
    return fields


class SyslogParser(TextParser):
    """Syslog files: each line's header parsed, its message handed to the message parser of its format."""

    name = "syslog"
    family = Family.SYSLOG
    description = "Syslog lines (RFC 5424, RFC 3164, rsyslog RFC 3339); messages parsed by format"
    logsources = (_LINUX_SYSLOG,)
    priority = 80

    SNIFF_SHARE: ClassVar[float] = 0.5

    def __init__(self, message_parsers: Sequence[MessageParser] | None = None) -> None:
        """``message_parsers``: None for every one of the registry (looked up on first use)."""
        self._given = message_parsers
        self._ready = False
        self.by_program: dict[str, list[MessageParser]] = {}
        self.by_message: list[MessageParser] = []
        self.bare: list[MessageParser] = []

    def _prepare(self) -> None:
        if self._ready:
            return
        self._ready = True
        parsers = self._given
        if parsers is None:
            from yamori.parsers.registry import message_parsers  # the registry imports this module
            parsers = message_parsers()
        for parser in sorted(parsers, key=lambda p: p.priority):
            for program in parser.programs:
                self.by_program.setdefault(program, []).append(parser)
            if not parser.programs:
                self.by_message.append(parser)
            if parser.bare:
                self.bare.append(parser)

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        self._prepare()
        if not lines:
            return False
        known = 0
        for line in lines:
            if parse_envelope(line, context.reference_time) is not None:
                known += 1
            else:
                envelope = Envelope(line=line)
                if any(_claims(parser, line, envelope, context) for parser in self.bare):
                    known += 1
        return known >= max(1, len(lines) * self.SNIFF_SHARE)

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        reference = context.reference_time
        for number, line in lines:
            try:
                parsed = self.parse_line(line, reference, context)
            except Malformed as error:
                yield context.bad(number, str(error), line)
                continue
            except Exception as error:  # a message parser's bug costs one line, not the file
                yield context.bad(number, f"parser failed: {type(error).__name__}: {error}", line)
                continue
            if parsed is None:
                yield context.bad(number, "neither a syslog line nor a message of a known format", line)
            else:
                parsed.position = str(number)
                if parsed.raw is None:
                    parsed.raw = line
                yield parsed

    def parse_line(self, line: str, reference: datetime, context: ParseContext) -> Parsed | None:
        """One line as an event; None when it has no syslog header and no bare-line parser claims it."""
        self._prepare()
        split = parse_envelope(line, reference)
        if split is None:
            envelope = Envelope(line=line)
            for bare_parser in self.bare:
                claimed = bare_parser.parse(line, envelope, context)
                if claimed is not None:
                    return finish(claimed, bare_parser)
            return None
        envelope, message = split
        return self.parse_message(message, envelope, context)

    def parse_message(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed:
        """The event of a message whose header is already known (a syslog line, a journal record): the first
        message parser of its program, then of its message, that claims it (finished by that parser), else a
        generic syslog event. Raises :class:`Malformed` as the message parsers do."""
        claimed = self.claim(message, envelope, context)
        if claimed is not None:
            return claimed
        fields = syslog_fields(envelope, message)
        fields["event.kind"] = "event"
        return Parsed(fields, _LINUX_SYSLOG, envelope.timestamp)


    def claim(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        """The event of the first message parser of the program, then of the message, that claims the message
        (finished by that parser); None when none does."""
        self._prepare()
        program = (envelope.program or "").lower()
        candidates: list[MessageParser] = [*self.by_program.get(program, ()), *self.by_message]
        for parser in candidates:
            parsed = parser.parse(message, envelope, context)
            if parsed is not None:
                return finish(parsed, parser)
        return None


def _claims(parser: MessageParser, line: str, envelope: Envelope, context: ParseContext) -> bool:
    try:
        return parser.parse(line, envelope, context) is not None
    except Malformed:
        return True


PARSERS = (SyslogParser(),)
