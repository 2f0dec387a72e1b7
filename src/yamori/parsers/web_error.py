"""Web server error logs: Apache (2.2 and 2.4), Nginx and lighttpd, as files and inside syslog.

Line forms read:

* Apache 2.2: ``[Sat Jun 01 02:17:42 2013] [error] [client 1.2.3.4] message[, referer: URL]``;
* Apache 2.4: ``[Thu Jun 27 11:55:44.569531 2013] [core:info] [pid 4101:tid 2992634688] [client
  192.0.2.12:46652] AH00128: message`` (module empty as in ``[:error]``; ``[remote ...]`` for the peer behind a
  proxy; IPv6 peers as ``[client [2001:db8::1]:51548]``); through syslog (``ErrorLog syslog``) the same without
  the leading time;
* Nginx: ``2012/04/09 11:53:29 [error] 2865#0: *66647 message, client: 1.2.3.4, server: x, request: "GET /
  HTTP/1.1", upstream: "...", host: "x", referrer: "..."`` (the context after the message is found from the left
  where it parses completely, so a client-controlled user name or host that imitates it cannot move the
  client address);
* lighttpd: ``2011-12-25 17:09:20: (http_auth.c.875) message``.

A line in none of these forms is a BadRecord, except web server lines of another kind (an access-log line, the
same lines inside syslog or in a journal export's ``host program[pid]: message`` form): they are read by the
parser of their kind (:func:`other_web_line`), so files that mix them read whole.

Fields (original names): ``time``, ``module``, ``level``, ``pid``, ``tid``, ``client``, ``error_code``,
``message``, ``referer`` (Apache); ``time``, ``level``, ``pid``, ``tid``, ``connection_id``, ``message``,
``client``, ``server_name``, ``request``, ``subrequest``, ``upstream``, ``http_host``, ``referrer`` (Nginx);
``time``, ``source_file``, ``message`` (lighttpd). ``message`` is the message itself (without Nginx's context
and Apache's referer).

ECS: ``log.level``, ``process.pid``, ``process.thread.id``, ``source.ip``, ``source.port``, ``error.code``,
``message``, ``http.request.method``, ``url.original``, ``url.domain``, ``http.request.referrer``,
``event.kind: event``, ``event.category: [web]``, ``event.type: [error]`` (level error and worse) or ``[info]``.
Authentication failures (Apache: user not found, password mismatch, authentication failure, wrong
authentication scheme, Digest nonce/realm/algorithm/qop failures; Nginx: user not found in the password file,
password mismatch, PAM not authenticated; lighttpd: password doesn't match, auth failed, get_password failed)
are ``event.category: [authentication]``, ``event.type: [start]``, ``event.outcome: failure``,
``event.action``, ``event.reason``, with ``user.name`` when the message names one and ``source.ip``.
Authorization refusals (Apache ``client denied by server configuration``, ``authorization failure``, authz_owner;
Nginx ``access forbidden by rule``) are ``event.category: [web]``, ``event.type: [access]``,
``event.outcome: failure``, ``event.action: authorization-denied``.

Logsource: ``service: apache`` / ``nginx`` / ``lighttpd`` (SigmaHQ's Apache and Nginx keyword rules).
``event.dataset``: ``apache.error``, ``nginx.error``, ``lighttpd.error``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from yamori.events import BadRecord
from yamori.parsers.access_log import PARSERS as ACCESS_PARSERS
from yamori.parsers.access_log import (
    AccessSyslogParser,
    HaproxyParser,
    is_access_line,
    is_ip,
    parse_access_line,
    service_from_name,
    service_from_program,
    split_request,
    unescape,
)
from yamori.parsers.base import Envelope, Family, MessageParser, ParseContext, Parsed, TextParser, logsource
from yamori.parsers.registry import finish
from yamori.parsers.syslog import parse_envelope, syslog_fields
from yamori.parsers.timestamps import parse_month_day, utc_iso

__all__ = [
    "ErrorSyslogParser",
    "WebErrorParser",
    "is_error_line",
    "not_web_reason",
    "other_web_line",
    "parse_error_line",
]

APACHE = logsource(None, None, "apache")
NGINX = logsource(None, None, "nginx")
LIGHTTPD = logsource(None, None, "lighttpd")

_LEVELS = r"(?P<level>emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])"
_APACHE = re.compile(
    r"(?:\[(?P<time>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
    r"(?P<clock>\d{1,2}:\d{2}:\d{2}(?:\.\d{1,6})?) (?P<year>\d{4}))\] )?"
    r"\[(?:(?P<module>[\w-]*):)?" + _LEVELS + r"\] ?"
    r"(?:\[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\] ?)?"
    r"(?:\[(?:client|remote) (?P<client>\[[0-9A-Fa-f:.%\w]+\](?::\d+)?|[^\]\s]+)\] ?)?"
    r"(?P<message>.*)$", re.DOTALL)
_NGINX = re.compile(
    r"(?P<time>(?P<date>\d{4}/\d{2}/\d{2}) (?P<clock>\d{2}:\d{2}:\d{2})) "
    r"\[(?P<level>debug|info|notice|warn|error|crit|alert|emerg)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<cid>\d+) )?(?P<message>.*)$", re.DOTALL)
_NGINX_TAIL = re.compile(
    r', client: (?P<client>[^\s,]+), server: (?P<server>[^\s,]*)'
    r'(?:, login: "(?P<login>[^"]*)")?'
    r'(?:, request: "(?P<request>[^"]*)")?'
    r'(?:, subrequest: "(?P<subrequest>[^"]*)")?'
    r'(?:, upstream: "(?P<upstream>[^"]*)")?'
    r'(?:, host: "(?P<host>[^"]*)")?'
    r'(?:, referrer: "(?P<referrer>[^"]*)")?$', re.DOTALL)
_NGINX_TAIL_LOOSE = re.compile(r", client: (?P<client>[^\s,]+), server: ", re.DOTALL)
_LIGHTTPD = re.compile(
    r"(?P<time>(?P<date>\d{4}-\d{2}-\d{2}) (?P<clock>\d{2}:\d{2}:\d{2})): "
    r"\(?(?P<source>[\w.-]+\.(?:c|h)\.\d+)\) (?P<message>.*)$", re.DOTALL)
_LIGHTTPD_MESSAGE = re.compile(r"\(?(?P<source>[\w.-]+\.(?:c|h)\.\d+)\) (?P<message>.*)$", re.DOTALL)
_JOURNAL_SHORT = re.compile(r"(?:[\w.-]+ [^\s\[\]:]+(?:\[\d+\])?: )+(?P<message>.*)$", re.DOTALL)
_AH_CODE = re.compile(r"(AH\d{5}): ")
_REFERER = re.compile(r", referer:? (?P<referer>\S*)$")

# (pattern, event.action, event.reason); the user group names the user when there is one
_FAILURE = "authentication-failure"
_APACHE_AUTH = [(re.compile(p, re.DOTALL), action, reason) for p, action, reason in (
    (r"(?:Digest: )?user `(?P<user>[^']*)' in realm `[^']*' not found", "user-not-found", "user not found in realm"),
    (r"(?:Digest: )?user (?P<user>.*?) not found(?::|$)", "user-not-found", "user not found"),
    (r"user (?P<user>.*?): authentication failure for \"[^\"]*\": (?P<why>.*)", _FAILURE, "authentication failure"),
    (r"(?:Digest: )?user (?P<user>.*?): password mismatch", "password-mismatch", "password mismatch"),
    (r"client used wrong authentication scheme", _FAILURE, "wrong authentication scheme"),
    (r"(?:Digest: )?invalid nonce \S* received - (?!hash is not)", _FAILURE, "invalid digest nonce"),
    (r"(?:Digest: )?realm mismatch - got", _FAILURE, "digest realm mismatch"),
    (r"(?:Digest: )?unknown algorithm `", _FAILURE, "unknown digest algorithm"),
    (r"(?:Digest: )?invalid qop `", _FAILURE, "invalid digest qop"),
)]
_APACHE_DENIED = [(re.compile(p, re.DOTALL), reason) for p, reason in (
    (r"client denied by server configuration", "client denied by server configuration"),
    (r"user (?P<user>.*?): authorization failure for ", "authorization failure"),
    (r"Authorization of user (?P<user>\S+) to access .* failed", "authorization failure"),
)]
_NGINX_AUTH = [(re.compile(p, re.DOTALL), action, reason) for p, action, reason in (
    (r'user "(?P<user>.*)":? was not found in "', "user-not-found", "user not found"),
    (r'user "(?P<user>.*)":? password mismatch$', "password-mismatch", "password mismatch"),
    (r"PAM: user '(?P<user>[^']*)' - not authenticated", _FAILURE, "not authenticated (PAM)"),
)]
_NGINX_DENIED = re.compile(r"access forbidden by rule")
_LIGHTTPD_AUTH = [(re.compile(p, re.DOTALL), action, reason) for p, action, reason in (
    (r"password doesn't match for (?P<uri>\S*) username: (?P<user>.*?),? IP: ", "password-mismatch",
     "password mismatch"),
    (r"digest: auth failed for +(?P<user>.*?) ?: wrong password", "password-mismatch", "password mismatch"),
    (r"get_password failed", "user-not-found", "user not found"),
    (r"(?:digest: )?auth failed", _FAILURE, "authentication failure"),
)]
_LIGHTTPD_IP = re.compile(r"IP: (?P<ip>[0-9A-Fa-f.:]+)\s*$")
_ERROR_LEVELS = frozenset(("error", "crit", "alert", "emerg"))


def _error_common(fields: dict[str, Any], level: str) -> None:
    fields["level"] = fields["log.level"] = level
    fields["event.kind"] = "event"
    fields["event.category"] = ["web"]
    fields["event.type"] = ["error"] if level in _ERROR_LEVELS else ["info"]


def _auth_failure(fields: dict[str, Any], action: str, reason: str, user: str | None) -> None:
    fields["event.category"] = ["authentication"]
    fields["event.type"] = ["start"]
    fields["event.outcome"] = "failure"
    fields["event.action"] = action
    fields["event.reason"] = reason
    if user is not None:
        user = user.strip()
        if user:
            fields["user.name"] = user


def _denied(fields: dict[str, Any], reason: str, user: str | None) -> None:
    fields["event.type"] = ["access"]
    fields["event.outcome"] = "failure"
    fields["event.action"] = "authorization-denied"
    fields["event.reason"] = reason
    if user:
        fields["user.name"] = user


def _client(fields: dict[str, Any], client: str) -> None:
    """``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:5678`` or ``2001:db8::1`` to source.ip/port."""
    fields["client"] = client
    address, port = client, ""
    if client.startswith("["):
        address, _, rest = client[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif client.count(":") == 1:
        address, _, port = client.partition(":")
    if is_ip(address):
        fields["source.ip"] = address
    if port.isdigit():
        fields["source.port"] = int(port)


def _apache(match: re.Match[str], fields: dict[str, Any], reference: datetime) -> str | None:
    """Fill ``fields`` from an Apache error line; returns the ISO timestamp, if the line has one."""
    level = match["level"]
    _error_common(fields, level)
    timestamp = None
    if match["time"]:
        fields["time"] = match["time"]
        moment = parse_month_day(match["mon"], int(match["day"]), match["clock"], reference, int(match["year"]))
        timestamp = utc_iso(moment) if moment is not None else None
    if match["module"]:
        fields["module"] = match["module"]
    if match["pid"]:
        fields["pid"] = match["pid"]
        fields["process.pid"] = int(match["pid"])
        if match["tid"]:
            fields["tid"] = match["tid"]
            fields["process.thread.id"] = int(match["tid"])
    if match["client"]:
        _client(fields, match["client"])
    message = match["message"]
    referer = _REFERER.search(message) if ", referer" in message else None
    if referer is not None:
        message = message[:referer.start()]
        fields["referer"] = fields["http.request.referrer"] = referer["referer"]
    fields["message"] = message
    text = message
    code = _AH_CODE.match(text)
    if code is not None:
        fields["error_code"] = fields["error.code"] = code.group(1)
        text = text[code.end():]
    if text.startswith("[client "):  # mod_security repeats the client
        text = text[text.find("] ") + 2:] if "] " in text else text
    for pattern, action, reason in _APACHE_AUTH:
        found = pattern.match(text)
        if found is not None:
            _auth_failure(fields, action, reason, found.groupdict().get("user"))
            break
    else:
        for denied, why in _APACHE_DENIED:
            found = denied.match(text)
            if found is not None:
                _denied(fields, why, found.groupdict().get("user"))
                break
    fields["event.dataset"] = "apache.error"
    return timestamp


def _nginx_tail(message: str) -> re.Match[str] | None:
    """The context after an Nginx message: the first ``, client: `` from which the rest parses whole."""
    start = message.find(", client: ")
    while start >= 0:
        tail = _NGINX_TAIL.match(message, start)
        if tail is not None:
            return tail
        start = message.find(", client: ", start + 1)
    return None


def _nginx(match: re.Match[str], fields: dict[str, Any]) -> str | None:
    level = match["level"]
    _error_common(fields, level)
    fields["time"] = match["time"]
    fields["pid"] = match["pid"]
    fields["tid"] = match["tid"]
    fields["process.pid"] = int(match["pid"])
    fields["process.thread.id"] = int(match["tid"])
    if match["cid"]:
        fields["connection_id"] = match["cid"]
    message = match["message"]
    tail = _nginx_tail(message) if ", client: " in message else None
    if tail is not None:
        message = message[:tail.start()]
        _client(fields, tail["client"])
        if tail["server"]:
            fields["server_name"] = tail["server"]
        for group, name in (("login", "login"), ("request", "request"), ("subrequest", "subrequest"),
                            ("upstream", "upstream"), ("host", "http_host"), ("referrer", "referrer")):
            value = tail[group]
            if value is not None:
                fields[name] = value
        request = tail["request"]
        if request:
            parts = split_request(unescape(request))
            if parts is not None:
                fields["http.request.method"] = parts[0]
                if parts[1]:
                    fields["url.original"] = parts[1]
                if parts[2]:
                    fields["http.version"] = parts[2][5:]
        if tail["host"]:
            fields["url.domain"] = tail["host"]
        if tail["referrer"]:
            fields["http.request.referrer"] = tail["referrer"]
    else:
        loose = _NGINX_TAIL_LOOSE.search(message) if ", client: " in message else None
        if loose is not None:
            _client(fields, loose["client"])
    fields["message"] = message
    for pattern, action, reason in _NGINX_AUTH:
        found = pattern.match(message)
        if found is not None:
            _auth_failure(fields, action, reason, found.groupdict().get("user"))
            break
    else:
        if _NGINX_DENIED.match(message) is not None:
            _denied(fields, "access forbidden by rule", None)
    fields["event.dataset"] = "nginx.error"
    date = match["date"]
    return _iso(date[:4], date[5:7], date[8:10], match["clock"])


def _lighttpd(source_file: str, message: str, fields: dict[str, Any]) -> None:
    fields["source_file"] = source_file
    fields["message"] = message
    fields["event.kind"] = "event"
    fields["event.category"] = ["web"]
    fields["event.type"] = ["info"]
    ip = _LIGHTTPD_IP.search(message)
    if ip is not None and is_ip(ip["ip"]):
        fields["source.ip"] = ip["ip"]
    for pattern, action, reason in _LIGHTTPD_AUTH:
        found = pattern.search(message)
        if found is not None:
            _auth_failure(fields, action, reason, found.groupdict().get("user"))
            if found.groupdict().get("uri"):
                fields["url.original"] = found["uri"]
            break
    fields["event.dataset"] = "lighttpd.error"


def _iso(year: str, month: str, day: str, clock: str) -> str | None:
    try:
        return utc_iso(datetime(int(year), int(month), int(day), int(clock[:2]), int(clock[3:5]), int(clock[6:8]),
                                tzinfo=UTC))
    except ValueError:
        return None


def parse_error_line(line: str, context: ParseContext) -> Parsed | None:
    """One error-log line of Apache (with its time), Nginx or lighttpd as an event; None when it is not one."""
    first = line[:1]
    if first == "[":
        match = _APACHE.match(line)
        if match is not None and match["time"]:
            fields: dict[str, Any] = {}
            timestamp = _apache(match, fields, context.reference_time)
            return Parsed(fields, APACHE, timestamp, raw=line)
    elif first.isdigit():
        if line[4:5] == "/":
            nginx = _NGINX.match(line)
            if nginx is not None:
                fields = {}
                timestamp = _nginx(nginx, fields)
                return Parsed(fields, NGINX, timestamp, raw=line)
        elif line[4:5] == "-":
            light = _LIGHTTPD.match(line)
            if light is not None:
                fields = {"time": light["time"]}
                _lighttpd(light["source"], light["message"], fields)
                date = light["date"]
                return Parsed(fields, LIGHTTPD, _iso(date[:4], date[5:7], date[8:10], light["clock"]), raw=line)
    return None


def is_error_line(line: str) -> bool:
    """True for an Apache, Nginx or lighttpd error-log line (cheap: no event is built)."""
    first = line[:1]
    if first == "[":
        match = _APACHE.match(line)
        return match is not None and bool(match["time"])
    if first.isdigit():
        if line[4:5] == "/":
            return _NGINX.match(line) is not None
        if line[4:5] == "-":
            return _LIGHTTPD.match(line) is not None
    return False


_SYSLOG_PARSERS: tuple[MessageParser, ...] = ()


def _web_message_parsers() -> tuple[MessageParser, ...]:
    global _SYSLOG_PARSERS
    if not _SYSLOG_PARSERS:
        _SYSLOG_PARSERS = (HaproxyParser(), AccessSyslogParser(), ErrorSyslogParser())
    return _SYSLOG_PARSERS


def other_web_line(line: str, context: ParseContext, service: str | None, *, skip_access: bool = False,
                   skip_error: bool = False) -> Parsed | None:
    """A web server line of another kind than its file's: an access or error line, one of them inside syslog, or in
    a journal export's ``host program[pid]: message`` form. The event is finished by the parser of its kind
    (``event.module`` names it). None when the line is none of these."""
    if not skip_error:
        parsed = parse_error_line(line, context)
        if parsed is not None:
            return finish(parsed, WEB_ERROR)
    if not skip_access:
        parsed = parse_access_line(line, service)
        if parsed is not None:
            return finish(parsed, ACCESS_PARSERS[0])
    split = parse_envelope(line, context.reference_time)
    if split is not None:
        envelope, message = split
    else:
        journal = _JOURNAL_SHORT.match(line)
        if journal is None:
            return None
        message = journal["message"]
        prefix = line[:journal.start("message")].split(": ")[0]
        host, _, tag = prefix.partition(" ")
        program, _, pid = tag.partition("[")
        envelope = Envelope(host=host, program=program, pid=pid.rstrip("]") or None, line=line)
    for parser in _web_message_parsers():
        if parser.programs and (envelope.program or "").lower() not in parser.programs:
            continue
        parsed = parser.parse(message, envelope, context)
        if parsed is not None:
            return finish(parsed, parser)
    return None


def not_web_reason(line: str, context: ParseContext, default: str) -> str:
    """Why a line of a web server log is a BadRecord: ``default``, or that it is syslog of another program."""
    if parse_envelope(line, context.reference_time) is not None:
        return "a syslog line that is not a web server message, inside a web server log"
    return default


class WebErrorParser(TextParser):
    """Apache, Nginx and lighttpd error log files."""

    name = "web_error"
    family = Family.WEB
    description = "Apache 2.2/2.4, Nginx and lighttpd error logs"
    logsources = (APACHE, NGINX, LIGHTTPD)
    priority = 42

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        if not lines:
            return False
        errors = sum(1 for line in lines if is_error_line(line))
        if errors == 0:
            return False
        access = sum(1 for line in lines if is_access_line(line))
        return errors > access and errors + access >= len(lines) / 2

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        service = None
        for number, line in lines:
            parsed = parse_error_line(line, context)
            if parsed is None:
                if service is None:
                    service = service_from_name(context.source) or ""
                parsed = other_web_line(line, context, service or None, skip_error=True)
                if parsed is None:
                    yield context.bad(number, not_web_reason(
                        line, context, "not an Apache, Nginx or lighttpd error log line"), line)
                    continue
            parsed.position = str(number)
            parsed.raw = line
            yield parsed


class ErrorSyslogParser(MessageParser):
    """Apache (``ErrorLog syslog``), Nginx and lighttpd error messages inside syslog lines."""

    name = "web_error_syslog"
    family = Family.WEB
    description = "Apache, Nginx and lighttpd error messages inside syslog"
    logsources = (APACHE, NGINX, LIGHTTPD)
    priority = 42

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        first = message[:1]
        fields: dict[str, Any]
        if first == "[":
            match = _APACHE.match(message)
            if match is None or not (match["time"] or match["pid"] or match["client"]
                                     or service_from_program(envelope.program) == "apache"
                                     or _AH_CODE.match(match["message"]) is not None):
                return None  # "[info] ..." of some other program
            fields = syslog_fields(envelope, message)
            timestamp = _apache(match, fields, context.reference_time)
            return Parsed(fields, APACHE, timestamp or envelope.timestamp)
        if first.isdigit() and message[4:5] == "/":
            nginx = _NGINX.match(message)
            if nginx is None:
                return None
            fields = syslog_fields(envelope, message)
            timestamp = _nginx(nginx, fields)
            return Parsed(fields, NGINX, timestamp or envelope.timestamp)
        if first == "(" or (service_from_program(envelope.program) == "lighttpd" and first.isalpha()):
            light = _LIGHTTPD_MESSAGE.match(message)
            if light is None:
                return None
            fields = syslog_fields(envelope, message)
            _lighttpd(light["source"], light["message"], fields)
            return Parsed(fields, LIGHTTPD, envelope.timestamp)
        return None


WEB_ERROR = WebErrorParser()

PARSERS = (WEB_ERROR, ErrorSyslogParser())
