"""The parser contract: what a format parser declares and what it produces.

A format is one module in :mod:`yamori.parsers` with a module-level ``PARSERS`` tuple; the registry
(:mod:`yamori.parsers.registry`) finds every such module, so adding a format is adding one module. Four kinds:

* :class:`RecordParser` - one JSON object in, events out (CloudTrail, Suricata EVE, Okta, ...). Asked per
  record, in priority order; a file's records usually share one parser, which is tried first.
* :class:`TextParser` - a whole text file (a stream of numbered lines) in, events out. Chosen per file by
  :meth:`TextParser.sniff` over the first lines. Stateful formats (IIS ``#Fields:`` headers, auditd's multi-record
  events) keep their state in the generator.
* :class:`DocumentParser` - a whole structured document (XML reports: Nessus, OpenVAS) in, events out.
* :class:`MessageParser` - the payload of one syslog line (or a bare line) in, one event out: sshd, sudo,
  netfilter, filterlog, Cisco ASA, CEF, LEEF. The syslog text parser asks them in priority order.

Every parser declares its Sigma logsources (so rules no parser can reach are reported) and its ECS mapping
(``ecs``: original field name -> ECS field name, applied by :func:`apply_ecs`). Events carry the original fields
under their own names (what Sigma rules use) plus the ECS names (what search and correlation use).
A parser never raises for bad input: it yields a :class:`~yamori.events.BadRecord` (or raises
:class:`Malformed` from the per-record methods, which the caller turns into one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any, ClassVar

from yamori.events import BadRecord, LogSource
from yamori.exceptions import YamoriError

__all__ = [
    "DocumentParser",
    "Family",
    "Malformed",
    "MessageParser",
    "ParseContext",
    "Parsed",
    "Parser",
    "RecordParser",
    "TextParser",
    "apply_ecs",
    "finish",
    "logsource",
]


class Family(StrEnum):
    """The source families a SIEM must cover (and two for everything else)."""

    IDENTITY = "identity"          # Windows, Linux auth, auditd, journald, directory and IAM logs
    FIREWALL = "firewall"
    WEB = "web"
    IDS = "ids"                    # IDS/IPS and network monitoring
    VULNERABILITY = "vulnerability"
    CLOUD = "cloud"
    SYSLOG = "syslog"              # syslog lines no specific parser claims
    GENERIC = "generic"            # anything else with a timestamp


class Malformed(YamoriError):
    """One record of a recognised format is broken; the message is the reason reported in the BadRecord."""


@dataclass(slots=True)
class Parsed:
    """One event as a parser produces it; the reader adds source, position and the raw record."""

    fields: dict[str, Any]
    logsource: LogSource
    timestamp: str | None = None
    """ISO 8601 in UTC (``...Z``); the original timestamp stays in ``fields`` under its own name."""
    position: str | None = None
    """Set when one input record gives several events (``Records`` of CloudTrail): appended to its position."""
    raw: Any = None
    """The original record (a line, a JSON object); None: the reader keeps what it read."""
    parser: str = ""
    """Set by :func:`finish`: the parser closest to the format (a message parser inside syslog)."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser may know about where its input comes from."""

    source: str
    """The path (``archive.tar.gz!member/file.log`` inside archives); used in BadRecords."""
    name: str = ""
    """The file's own name (``conn.log``, ``dns.05:00:00-06:00:00.log.gz``) without folders."""
    reference_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    """For timestamps without a year (RFC 3164): the file's modification time, or now for live input."""

    def bad(self, position: str | int, reason: str, data: bytes | str | None = None) -> BadRecord:
        return BadRecord.of(self.source, position, reason, data)


def logsource(product: str | None = None, category: str | None = None, service: str | None = None,
              *more_categories: str) -> LogSource:
    """A LogSource from single facet values (the usual case for non-Windows formats)."""
    return LogSource(product=(product,) if product else (),
                     category=((category,) if category else ()) + more_categories,
                     service=(service,) if service else ())


def apply_ecs(fields: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Copy each original field named in ``mapping`` to its ECS name (when present, non-empty, and the ECS name
    is not set already). Returns ``fields`` for chaining."""
    for original, ecs_name in mapping.items():
        value = fields.get(original)
        if value is not None and value != "" and value != "-" and ecs_name not in fields:
            fields[ecs_name] = value
    return fields


def finish(parsed: Parsed, parser: Parser) -> Parsed:
    """The parts every event gets: the parser's ECS mapping, ``@timestamp``, ``event.module``, ``event.dataset``.

    Applied once, by the parser closest to the format (a message parser inside syslog, not the syslog reader).
    """
    fields = parsed.fields
    if not parsed.parser:
        parsed.parser = parser.name
    if parser.ecs:
        apply_ecs(fields, parser.ecs)
    if parsed.timestamp is not None and "@timestamp" not in fields:
        fields["@timestamp"] = parsed.timestamp
    if "event.module" not in fields:
        fields["event.module"] = parser.name
    if "event.dataset" not in fields:
        fields["event.dataset"] = parser.name
    return parsed


class Parser:
    """What every parser declares."""

    name: ClassVar[str]
    """Short, stable identifier (``suricata_eve``); also written to ``event.module``/``event.dataset``."""
    family: ClassVar[Family]
    description: ClassVar[str]
    logsources: ClassVar[tuple[LogSource, ...]]
    """Every logsource its events can carry."""
    ecs: ClassVar[Mapping[str, str]] = {}
    """Original field -> ECS field, applied to every event (computed ECS fields are set by the parser)."""
    priority: ClassVar[int] = 50
    """Lower is asked first; specific formats before generic ones."""


class RecordParser(Parser):
    """Parses JSON objects."""

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        raise NotImplementedError

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterable[Parsed | BadRecord]:
        """The events of one record (usually one); raise :class:`Malformed` for a broken record, or yield a
        BadRecord for one broken part of a record holding many (its position is the part, e.g. ``3``; the reader
        makes it ``<record position>/3``), and go on with the next part."""
        raise NotImplementedError


class TextParser(Parser):
    """Parses a text file line by line."""

    comment_prefix: ClassVar[str | None] = "#"
    """Lines starting with this are comments, skipped before :meth:`parse` sees them (None: parse sees all)."""

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        """True when the first lines of a file (comments and blank lines removed) are in this format."""
        raise NotImplementedError

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        """Events from ``(line number, text without line end)`` pairs; a BadRecord per line it cannot read."""
        raise NotImplementedError


class DocumentParser(Parser):
    """Parses a whole document (XML) from a binary stream."""

    def sniff(self, head: bytes, context: ParseContext) -> bool:
        raise NotImplementedError

    def parse(self, stream: IO[bytes], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Envelope:
    """The syslog header of a line (all optional: bare lines have none)."""

    timestamp: str | None = None
    """ISO 8601 UTC."""
    original_time: str | None = None
    host: str | None = None
    program: str | None = None
    pid: str | None = None
    facility: int | None = None
    severity: int | None = None
    msgid: str | None = None
    structured_data: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    line: str = ""
    """The whole line as read (for formats whose parser needs more than the message)."""


class MessageParser(Parser):
    """Parses the message part of a syslog line, or a bare line in the same format."""

    programs: ClassVar[frozenset[str]] = frozenset()
    """Syslog program names this parser owns (lower case); empty: it decides by the message alone."""
    bare: ClassVar[bool] = False
    """Also recognise lines without a syslog header (CEF, LEEF, ASA messages written straight to a file)."""

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        """The event, or None when the message is not in this format; raise :class:`Malformed` when it is in this
        format but broken."""
        raise NotImplementedError
