"""Text files line by line when no specific parser recognises them, and the application logs whose lines only
look like syslog: MySQL/MariaDB error log, MSSQL errorlog, MongoDB (before 4.4), GitLab ``application.log``,
Grafana (logfmt), PortSentry history, daemontools/multilog (TAI64N).

Three parsers:

* :class:`AppLogParser` (``app_log``, priority 75, before the syslog parser): a file whose first lines are mostly
  in one of the application forms below. Their ISO timestamps would otherwise make the syslog parser read a word
  of the message as the program name.
* :class:`GenericTextParser` (``text``, priority 99, asked last): any text file no other parser recognises and
  that looks like a log (one of its first lines starts with a time, is key=value pairs, or is ``[host]
  program[pid]: message``; prose such as a README stays one "not a recognised format" BadRecord), so that "not a
  recognised format" almost never happens for logs. Every non-blank line is an event: nothing is dropped, and
  nothing is a BadRecord (there is no format to break) except what a message parser raises for a syslog line.
* :class:`TimestampedLineParser` (a bare-line message parser): the same application lines met inside a syslog
  file (a TAI64N line among syslog lines), so that they are events rather than BadRecords.

Each line is read, in this order, as:

1. an application line: ``130324  0:04:00 [Warning] ...`` / ``2015-10-07  8:25:38 139845 [Warning] ...`` /
   ``2019-01-03T08:50:04.634875Z 113 [Note] [MY-010926] [Server] ...`` (MySQL, MariaDB); ``2020-02-24
   16:05:21.00 Logon  Login failed ...`` (MSSQL); ``2016-11-20T00:04:00.110+0100 [conn1] ...`` and ``... I
   ACCESS  [conn1] ...`` (MongoDB); ``2020-04-09T14:04:00.667Z: Failed Login: ...`` (GitLab);
   ``t=2020-10-19T17:44:33+0200 lvl=eror msg="..." ...`` (Grafana: the key=value pairs become fields);
   ``1403884279 - 06/27/2014 17:51:19 Host: ...`` (PortSentry: the epoch seconds are the time);
   ``Fri Jan 19 12:20:33 2007 [pid 27202] ...`` (vsftpd, read by :mod:`yamori.parsers.service_auth`);
   ``@400000004c91b044077a9e94 prog: message`` (daemontools multilog: the TAI64N label is decoded as daemontools
   writes it, UNIX time + 2^62 + 10; a ``prog[pid]: message`` after it is read like a syslog message, by the
   message parser of that program);
2. a syslog line (the syslog parser's envelope and message parsers);
3. any other line: the time it starts with when it is one of ISO 8601 (``T`` or spaces, ``,``/``.`` fractions,
   zone), ``2018/09/14 19:03:05``, MySQL's ``YYMMDD hh:mm:ss``, ctime ``Fri Jan 19 12:20:33 2007`` (also in
   brackets), epoch seconds (10 digits, fraction optional); a logfmt line (``key=value key="v w"``, time from
   ``t``/``ts``/``time``) gives its pairs as fields. A line without a time is an event without one.

Every application line and generic line is also read with the authentication table of
:mod:`yamori.parsers.auth_patterns` (MySQL ``Access denied``, MSSQL ``Login failed``, MongoDB ``Failed to
authenticate``, Grafana ``Invalid username or password``, GitLab ``Failed Login``, PortSentry blocks - network
denials -, and the generic wording of failed logons), which gives ``event.category``/``event.outcome``/
``user.name``/``source.ip``; a generic line is only read so when it holds a word of a logon message
(:func:`~yamori.parsers.auth_patterns.may_be_auth`, the cheap test that keeps the fallback fast).

MongoDB writes the client address of a failed authentication in another line of the same connection: the
``connection accepted from IP:port #N`` line before it, or the ``[connN] end connection IP:port`` line after it.
The parser keeps a per-file map of connections, and holds events back (at most 200 lines, order kept) until the
end of a connection whose failure has no address yet.

Line 2 (syslog) applies to lines starting with a syslog header: ``<PRI>``, a BSD time, or an ISO time followed by
``[host] program[pid]:``; an ISO time followed by anything else (``2025-11-20 09:30:00,123 INFO started``) is an
application's line, which the syslog parser would read with ``INFO`` as its program.

Fields: ``timestamp`` (as written), ``message`` (the line after its time), the fields the table finds, logfmt
pairs; ``event.kind: event``; ``event.module`` the parser's name, ``event.dataset`` the application (``mysql``,
``mongodb``, ..., or the service the table recognised).

Logsource: ``product: mysql``, ``mssql``, ``mongodb``, ``grafana``, ``gitlab``, ``portsentry`` for application
lines (no Sigma rule names these products: they give the events a facet to search and to write rules for), the
syslog parsers' logsources for syslog lines (multilog lines with a program included), none for other lines.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from yamori.events import BadRecord, LogSource
from yamori.parsers.auth_patterns import (
    ALL_RULES,
    GENERIC,
    GITLAB,
    GRAFANA,
    MONGODB,
    MSSQL,
    MYSQL,
    PORTSENTRY,
    AuthMatch,
    Rule,
    classify,
    logfmt,
    may_be_auth,
    put_address,
)
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed, TextParser
from yamori.parsers.service_auth import parse_vsftpd_line
from yamori.parsers.syslog import SyslogParser, parse_envelope
from yamori.parsers.timestamps import from_epoch, parse_iso, parse_month_day, utc_iso

__all__ = ["AppLogParser", "GenericTextParser", "LineReader", "TimestampedLineParser", "tai64n"]

_NO_LOGSOURCE = LogSource()
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_TAI64_BASE = (1 << 62) + 10


def tai64n(label: str) -> str | None:
    """A TAI64N label (24 hex digits, without ``@``) as ISO UTC, as daemontools' ``tai64nlocal`` reads it."""
    try:
        seconds = int(label[:16], 16) - _TAI64_BASE
        nanoseconds = int(label[16:24], 16)
        moment = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)
    except (ValueError, OverflowError, OSError):
        return None
    return utc_iso(moment)


def _numeric_time(date: str, clock: str, fraction: str | None = None) -> str | None:
    """``2015-10-07`` or ``151007`` with ``8:25:38`` (and a fraction) as ISO UTC."""
    try:
        if len(date) == 6:
            year, month, day = 2000 + int(date[:2]), int(date[2:4]), int(date[4:6])
        else:
            year, month, day = int(date[:4]), int(date[5:7]), int(date[8:10])
        hour, minute, second = (int(part) for part in clock.split(":"))
        micro = int((fraction + "000000")[:6]) if fraction else 0
        return utc_iso(datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC))
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------ application shapes

_MYSQL_LINE = re.compile(
    r"(?P<ts>(?P<date>\d{6}|\d{4}-\d\d-\d\d)(?:T| +)(?P<clock>\d{1,2}:\d\d:\d\d)(?:\.(?P<fraction>\d+))?(?P<z>Z)?)"
    r" +(?P<rest>(?:\d+ +)?\[(?:Warning|Note|Error|ERROR|Info|System)\].*)\Z", re.DOTALL)
_MSSQL_LINE = re.compile(r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d) (?P<rest>\S.*)\Z", re.DOTALL)
_MONGO_LINE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) +"
    r"(?P<rest>(?:[FEWIDS]\d? +[A-Z_-]+ +\[[\w-]+\]|\[(?:conn\d+|initandlisten|listener)\]) .*)\Z", re.DOTALL)
_GITLAB_LINE = re.compile(r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z): (?P<rest>.*)\Z", re.DOTALL)
_GRAFANA_LINE = re.compile(r"t=(?P<ts>\d{4}-\d\d-\d\dT\S+) (?P<rest>(?:lvl|level)=.*)\Z", re.DOTALL)
_PORTSENTRY_LINE = re.compile(r"(?P<ts>\d{9,10}) - \d\d/\d\d/\d{4} \d\d:\d\d:\d\d (?P<rest>.*)\Z", re.DOTALL)
_TAI64N_LINE = re.compile(r"@(?P<ts>[0-9a-fA-F]{24})\s+(?P<rest>.*)\Z", re.DOTALL)
_VSFTPD_SHAPE = re.compile(_WEEKDAY + " " + _MONTH + r" [ \d]\d \d\d:\d\d:\d\d \d{4} \[pid \d+\] ")
_PROGRAM_MESSAGE = re.compile(
    r"(?P<prog>[A-Za-z0-9_][\w.-]*(?:\([^()\s]*\))?)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)\Z", re.DOTALL)


class _Shape:
    """One application line form: its regex, how its time reads, its rules and logsource."""

    __slots__ = ("logsource", "module", "regex", "rules", "time")

    def __init__(self, module: str, regex: re.Pattern[str], time: Callable[[re.Match[str]], str | None],
                 rules: tuple[Rule, ...], product: str | None) -> None:
        self.module = module
        self.regex = regex
        self.time = time
        self.rules = rules
        self.logsource = LogSource(product=(product,)) if product else _NO_LOGSOURCE


def _iso_time(match: re.Match[str]) -> str | None:
    moment = parse_iso(match["ts"])
    return utc_iso(moment) if moment is not None else None


def _mysql_time(match: re.Match[str]) -> str | None:
    return _numeric_time(match["date"], match["clock"], match["fraction"])


_SHAPES: dict[str, tuple[_Shape, ...]] = {
    "@": (_Shape("daemontools", _TAI64N_LINE, lambda m: tai64n(m["ts"]), ALL_RULES, None),),
    "t": (_Shape("grafana", _GRAFANA_LINE, _iso_time, GRAFANA + GENERIC, "grafana"),),
    "digit": (
        _Shape("mysql", _MYSQL_LINE, _mysql_time, MYSQL + GENERIC, "mysql"),
        _Shape("mssql", _MSSQL_LINE, _iso_time, MSSQL + GENERIC, "mssql"),
        _Shape("mongodb", _MONGO_LINE, _iso_time, MONGODB + GENERIC, "mongodb"),
        _Shape("gitlab", _GITLAB_LINE, _iso_time, GITLAB + GENERIC, "gitlab"),
        _Shape("portsentry", _PORTSENTRY_LINE, lambda m: from_epoch(m["ts"]), PORTSENTRY + GENERIC, "portsentry"),
    ),
}


def _shapes_of(line: str) -> tuple[_Shape, ...]:
    first = line[:1]
    if first.isdigit():
        return _SHAPES["digit"]
    return _SHAPES.get(first, ())


def is_application_line(line: str) -> bool:
    """True for a line in one of the application forms (used to recognise files and bare lines)."""
    if line[:1].isupper():
        return _VSFTPD_SHAPE.match(line) is not None
    return any(shape.regex.match(line) is not None for shape in _shapes_of(line))


# ---------------------------------------------------------------------------------------------- generic lines

_GENERIC_TIME = re.compile(
    r"(?:(?P<iso>\d{4}-\d\d-\d\d(?:T| +)\d{1,2}:\d\d:\d\d(?:[.,]\d+)?(?:Z| ?[+-]\d\d:?\d\d)?)"
    r"|(?P<slash>(?P<sdate>\d{4}/\d\d/\d\d)[ T](?P<sclock>\d\d:\d\d:\d\d)(?:[.,](?P<sfraction>\d+))?)"
    r"|(?P<mysql>(?P<ymd>\d{6}) {1,2}(?P<mclock>\d{1,2}:\d\d:\d\d))"
    r"|\[?(?P<ctime>" + _WEEKDAY + r" (?P<mon>" + _MONTH + r") (?P<day>[ \d]\d) (?P<cclock>\d\d:\d\d:\d\d(?:\.\d+)?)"
    r" (?P<year>\d{4}))\]?"
    r"|(?P<epoch>\d{10}(?:\.\d+)?)(?=\s))"
    r"[\s:,-]*(?P<rest>.*)\Z", re.DOTALL)
_ISO_PARTS = re.compile(r"(\d{4}-\d\d-\d\d)(?:T| +)(\d{1,2}:\d\d:\d\d)(?:[.,](\d+))?(.*)\Z")
_LOGFMT_START = re.compile(r"[A-Za-z_][\w.-]*=")
_LOGFMT_TIME_KEYS = ("t", "ts", "time", "timestamp")


def _generic_time(match: re.Match[str], reference: datetime) -> str | None:
    if match["iso"]:
        moment = parse_iso(match["iso"])
        if moment is not None:
            return utc_iso(moment)
        parts = _ISO_PARTS.match(match["iso"])  # one-digit hours, several spaces
        if parts is not None:
            zone = parts[4].strip()
            moment = parse_iso(f"{parts[1]}T{int(parts[2][:parts[2].index(':')]):02d}"
                               f"{parts[2][parts[2].index(':'):]}{'.' + parts[3] if parts[3] else ''}{zone}")
            return utc_iso(moment) if moment is not None else None
        return None
    if match["slash"]:
        return _numeric_time(match["sdate"].replace("/", "-"), match["sclock"], match["sfraction"])
    if match["mysql"]:
        return _numeric_time(match["ymd"], match["mclock"])
    if match["ctime"]:
        moment = parse_month_day(match["mon"], int(match["day"]), match["cclock"], reference, int(match["year"]))
        return utc_iso(moment) if moment is not None else None
    if match["epoch"]:
        return from_epoch(match["epoch"])
    return None


_TAGGED_LINE = re.compile(r"(?:\S+ )?[\w./-]+\[\d+\]: ")
_ISO_START = re.compile(r"\d{4}-\d\d-\d\d[T ]")
_ISO_SYSLOG = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)? (?:\S+ )?"
                         r"[^\s\[\]:]+(?:\[[^\]\s]*\])?: ")


def _maybe_syslog(line: str) -> bool:
    """Whether the syslog parser should read a line of a generic file: always, except a line starting with an ISO
    time that is not followed by ``[host] program[pid]:`` (``2025-11-20 09:30:00,123 INFO started`` is an
    application's line: read as syslog, ``INFO`` would be its program)."""
    return _ISO_START.match(line) is None or _ISO_SYSLOG.match(line) is not None


def _looks_like_log(line: str, context: ParseContext) -> bool:
    if is_application_line(line) or _TAGGED_LINE.match(line) is not None:
        return True
    first = line[:1]
    if (first.isdigit() or first in "[MTWFS") and _GENERIC_TIME.match(line) is not None:
        return True
    if _LOGFMT_START.match(line) is not None and len(logfmt(line)) >= 2:
        return True
    return parse_envelope(line, context.reference_time) is not None


class LineReader:
    """Reads lines of any text file (see the module docstring); one per file (it keeps MongoDB connections)."""

    def __init__(self, context: ParseContext, stateful: bool = True) -> None:
        self.context = context
        self.stateful = stateful
        self.mongo_clients: OrderedDict[str, str] = OrderedDict()

    # application lines ----------------------------------------------------------------------------------------

    def application(self, line: str) -> Parsed | None:
        if line[:1].isupper():
            return parse_vsftpd_line(line, self.context) if _VSFTPD_SHAPE.match(line) else None
        for shape in _shapes_of(line):
            match = shape.regex.match(line)
            if match is not None:
                return self._shaped(shape, match, line)
        return None

    def _shaped(self, shape: _Shape, match: re.Match[str], line: str) -> Parsed:
        timestamp = shape.time(match)
        rest = match["rest"]
        if shape.module == "daemontools":
            dispatched = self._as_syslog_message(match["ts"], timestamp, rest, line)
            if dispatched is not None:
                return dispatched
        fields: dict[str, Any] = {"timestamp": match["ts"], "message": rest}
        if shape.module == "grafana":
            self._logfmt_fields(line, fields)
        elif shape.module == "daemontools":
            fields["timestamp"] = "@" + match["ts"]
            tagged = _PROGRAM_MESSAGE.match(rest)
            if tagged is not None:
                fields["program"] = fields["process.name"] = tagged["prog"]
                if tagged["pid"]:
                    fields["pid"] = tagged["pid"]
                    fields["process.pid"] = int(tagged["pid"])
        found = classify(rest, shape.rules) if shape.module != "daemontools" or may_be_auth(rest) else None
        logsource = shape.logsource
        self._finish(fields, found, shape.module)
        if found is not None and found.service == "mongodb" and self.stateful:
            self._mongo_client(fields)
        return Parsed(fields, logsource, timestamp)

    def _as_syslog_message(self, written: str, timestamp: str | None, rest: str, line: str) -> Parsed | None:
        """``prog[pid]: message`` after a multilog time, read by the message parsers like a syslog message."""
        match = _PROGRAM_MESSAGE.match(rest)
        if match is None:
            return None
        envelope = Envelope(timestamp=timestamp, original_time="@" + written, program=match["prog"],
                            pid=match["pid"], line=line)
        return _dispatcher().claim(match["msg"], envelope, self.context)

    # other lines ----------------------------------------------------------------------------------------------

    def line(self, line: str) -> Parsed:
        """Any line as an event (application, syslog, or generic); raises Malformed only from message parsers."""
        parsed = self.application(line)
        if parsed is not None:
            return parsed
        if _maybe_syslog(line):
            parsed = _dispatcher().parse_line(line, self.context.reference_time, self.context)
            if parsed is not None:
                if "event.module" not in parsed.fields:
                    parsed.fields["event.module"] = "syslog"
                return parsed
        return self.generic(line)

    def generic(self, line: str) -> Parsed:
        fields: dict[str, Any] = {}
        timestamp: str | None = None
        rest = line
        match = _GENERIC_TIME.match(line) if line[:1].isdigit() or line[:1] in "[MTWFS" else None
        if match is not None:
            timestamp = _generic_time(match, self.context.reference_time)
            if timestamp is not None:
                fields["timestamp"] = line[:match.start("rest")].strip().strip("[]").rstrip(" :,-")
                rest = match["rest"]
        fields["message"] = rest
        if _LOGFMT_START.match(rest) is not None:
            pairs = self._logfmt_fields(rest, fields)
            if timestamp is None:
                for key in _LOGFMT_TIME_KEYS:
                    moment = parse_iso(pairs.get(key, ""))
                    if moment is not None:
                        timestamp = utc_iso(moment)
                        break
        found = classify(rest, ALL_RULES) if may_be_auth(rest) else None
        self._finish(fields, found, None)
        if found is not None and found.service == "mongodb" and self.stateful:
            self._mongo_client(fields)
        return Parsed(fields, _NO_LOGSOURCE, timestamp)

    @staticmethod
    def _logfmt_fields(text: str, fields: dict[str, Any]) -> dict[str, str]:
        pairs = logfmt(text)
        if len(pairs) < 2:
            return {}
        for key, value in pairs.items():
            fields.setdefault(key, value)
        level = pairs.get("lvl") or pairs.get("level")
        if level:
            fields["log.level"] = level
        if pairs.get("logger"):
            fields["log.logger"] = pairs["logger"]
        return pairs

    @staticmethod
    def _finish(fields: dict[str, Any], found: AuthMatch | None, module: str | None) -> None:
        if found is not None:
            if not found.service:
                found.service = module or ""
            found.apply(fields)
            if not fields.get("service.name"):
                fields.pop("service.name", None)
        else:
            fields["event.kind"] = "event"
        name = (found.service if found is not None else "") or module
        if name:
            fields["event.dataset"] = name

    # MongoDB ----------------------------------------------------------------------------------------------------

    def _mongo_client(self, fields: dict[str, Any]) -> None:
        conn = fields.get("mongodb.conn")
        if conn is None:
            return
        if fields.get("event.action") == "mongodb-connection-accepted":
            client = fields.get("source.ip") or fields.get("source.domain")
            if client:
                self.mongo_clients[conn] = client
                while len(self.mongo_clients) > 4096:
                    self.mongo_clients.popitem(last=False)
        elif "source.ip" not in fields and "source.domain" not in fields:
            client = self.mongo_clients.get(conn)
            if client:
                put_address(fields, "source", client)


@functools.cache
def _dispatcher() -> SyslogParser:
    """One syslog parser for all readers (it holds nothing but the message parsers by program)."""
    return SyslogParser()


# ---------------------------------------------------------------------------------------------------- parsers

_HOLD_LINES = 200
_FAILURE_ACTIONS = frozenset({"mongodb-auth-failed", "mongodb-login"})


class GenericTextParser(TextParser):
    """Any text file: every line an event (application, syslog or generic line; see the module docstring)."""

    name = "text"
    family = Family.GENERIC
    description = "Any text file, line by line: time, message, key=value pairs, failed logons (fallback)"
    logsources = tuple(LogSource(product=(p,)) for p in ("mysql", "mssql", "mongodb", "grafana", "gitlab",
                                                           "portsentry"))
    priority = 99

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        """Any text that looks like a log: one of the first lines starts with a time (any form this module reads,
        or a syslog header), is key=value pairs, or is ``[host] program[pid]: message``; and the text is not
        mostly control characters or undecodable bytes. Prose (a README, ``hello``) is not taken: its file
        stays one "not a recognised format" BadRecord, which says more than an event per sentence would."""
        text = "".join(lines)
        if not text:
            return False
        binary = sum(1 for char in text if char < " " and char != "\t") + text.count("\\x")
        if binary > len(text) // 10:
            return False
        return any(_looks_like_log(line, context) for line in lines)

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        reader = LineReader(context)
        held: list[Parsed | BadRecord] = []
        waiting: dict[str, Parsed] = {}
        held_from = 0
        for number, line in lines:
            item: Parsed | BadRecord
            try:
                parsed = reader.line(line)
            except Malformed as error:
                item = context.bad(number, str(error), line)
            else:
                parsed.position = str(number)
                if parsed.raw is None:
                    parsed.raw = line
                self._join_mongo(parsed, waiting)
                item = parsed
                if waiting and not held:
                    held_from = number
            if held or waiting:
                held.append(item)
                if not waiting or number - held_from > _HOLD_LINES:
                    yield from held
                    held.clear()
                    waiting.clear()
            else:
                yield item
        yield from held

    @staticmethod
    def _join_mongo(parsed: Parsed, waiting: dict[str, Parsed]) -> None:
        """A MongoDB failure without client waits for its connection's end line, which gives the client."""
        fields = parsed.fields
        conn = fields.get("mongodb.conn")
        if conn is None:
            return
        action = fields.get("event.action")
        if action in _FAILURE_ACTIONS:
            if "source.ip" not in fields and "source.domain" not in fields:
                waiting[conn] = parsed
        elif action == "mongodb-connection-end":
            failed = waiting.pop(conn, None)
            if failed is not None:
                for name in ("source.ip", "source.domain", "source.port"):
                    if name in fields:
                        failed.fields[name] = fields[name]


class AppLogParser(GenericTextParser):
    """Application logs whose lines look like syslog to the syslog parser (MySQL, MSSQL, MongoDB, GitLab, Grafana,
    PortSentry, vsftpd, multilog): recognised first, read like the generic text parser."""

    name = "app_log"
    description = "MySQL/MariaDB error log, MSSQL errorlog, MongoDB, GitLab, Grafana, PortSentry, multilog lines"
    family = Family.GENERIC
    priority = 75
    SNIFF_SHARE = 0.5

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        if not lines:
            return False
        known = sum(1 for line in lines if is_application_line(line))
        return known >= max(1, len(lines) * self.SNIFF_SHARE)


class TimestampedLineParser(MessageParser):
    """Application lines (multilog TAI64N, MySQL, MSSQL, MongoDB, GitLab, Grafana, PortSentry) inside a syslog
    file: read as the text parsers read them (without MongoDB's connection map)."""

    name = "timestamped_line"
    family = Family.GENERIC
    description = "Application log lines met among syslog lines (multilog, MySQL, Grafana, PortSentry, ...)"
    logsources = GenericTextParser.logsources
    bare = True
    priority = 98

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if envelope.timestamp is not None or envelope.program is not None:
            return None  # a syslog message, not a bare line
        if not message[:1].isdigit() and message[:1] not in "@t":
            return None
        return LineReader(context, stateful=False).application(message)


PARSERS = (GenericTextParser(), AppLogParser(), TimestampedLineParser())
