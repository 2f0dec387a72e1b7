"""Web server access logs: Apache and Nginx (and lighttpd) text access logs, the same lines inside syslog, and
HAProxy's HTTP log format.

Owns the line forms of NCSA/Apache ``mod_log_config`` and Nginx ``log_format``:

* common: ``%h %l %u %t "%r" %>s %b`` (``1.2.3.4 - alice [28/Nov/2026:03:00:00 +0100] "GET / HTTP/1.1" 200 512``);
* combined: common plus ``"%{Referer}i" "%{User-Agent}i"`` (Nginx's default ``combined``);
* vhost_combined: ``%v:%p`` (or a bare host name) first, then combined;
  lighttpd's default ``%h %V %u``: a host name in the ident column is the virtual host;
* extra trailing fields after combined: Nginx's ``main`` format ``"$http_x_forwarded_for"`` (kept as
  ``http_x_forwarded_for`` when it holds addresses), ``key=value`` pairs such as ``rt=0.005 uct="0.000"``
  (each kept under its key), and anything else in the list ``extra_fields``; tokens between the time and the
  request (a virtual host written there) and one extra ident-like column are accepted too;
* times with zone (``[27/Jun/2013:11:55:44 +0200]``), without zone (``[27/Jun/2013:11:55:44]``, taken as UTC) or
  with a fraction; requests with escaped quotes and ``\\xhh`` bytes (``\\"`` and ``\\\\`` are unescaped, ``\\xhh``
  stays as written), and empty or junk requests (``"-"``, ``""``, TLS handshakes, a lone word): the request is
  kept whole in ``request`` and split only when it is ``METHOD URI [PROTOCOL]``; IPv4, IPv6 and host-name
  clients.

A line of an access log that is in none of these forms is a BadRecord, except lines that are web server lines of
another kind (an error-log line, the same line inside syslog or a journal export): those are read by the parser
of their kind (:func:`yamori.parsers.web_error.other_web_line`), so a file mixing them reads whole.

Through syslog (Nginx ``access_log syslog:server=...``, Apache piped to ``logger``): the message is read the same
way, with the envelope fields (:func:`~yamori.parsers.syslog.syslog_fields`) beside it. HAProxy's HTTP log format
(program ``haproxy``): ``client:port [accept_date] frontend backend/server Tq/Tw/Tc/Tr/Tt status bytes
req_cookie res_cookie termination_state actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue
{captured request headers} {captured response headers} "request"``.

Fields (original names; the text formats have none, so Nginx's variable names are used): ``remote_addr``,
``ident``, ``remote_user``, ``time_local``, ``request``, ``status``, ``body_bytes_sent``, ``http_referer``,
``http_user_agent``, ``server_name``, ``server_port``, ``http_x_forwarded_for``, ``extra_fields``, ``key=value``
keys. HAProxy: ``client_ip``, ``client_port``, ``accept_date``, ``frontend_name``, ``backend_name``,
``server_name``, ``timers`` (``Tq/Tw/Tc/Tr/Tt``), ``status_code``, ``bytes_read``, ``captured_request_cookie``,
``captured_response_cookie``, ``termination_state``, ``connections``, ``queues``,
``captured_request_headers``, ``captured_response_headers``, ``http_request``.

Sigma names (the webserver taxonomy SigmaHQ's rules use, W3C/IIS style): ``c-ip``, ``cs-username``,
``cs-method``, ``cs-uri-stem`` (the path), ``cs-uri-query`` and ``cs-uri`` (the whole request target, path and
query: SigmaHQ's webserver rules look for paths in ``cs-uri-query``), ``cs-version``, ``sc-status``, ``sc-bytes``,
``cs-referer``, ``cs-user-agent``, ``cs-host``; each only when the log has a value (not ``-``), so that
``cs-referer: null`` means "no referer".

ECS: ``source.ip``/``source.domain``/``source.port``, ``user.name``, ``http.request.method``, ``url.original``,
``url.path``, ``url.query``, ``url.scheme``, ``url.domain``, ``http.version``, ``http.response.status_code``,
``http.response.body.bytes``, ``http.request.referrer``, ``user_agent.original``, ``network.forwarded_ip``,
``event.kind: event``, ``event.category: [web]``, ``event.type: [access]``, ``event.outcome`` (``failure`` for
status >= 400), ``event.duration`` (HAProxy). A 401 answered to a request that carried a user name (the
credentials were sent and refused) is also ``event.category: [web, authentication]``.

Logsource: ``category: webserver``; ``service: apache`` or ``nginx`` when the file's path names the server
(``/var/log/nginx/access.log``, ``apache2/``, ``httpd/``) or the syslog program does; ``service: haproxy`` for
HAProxy. ``event.dataset``: ``apache.access``, ``nginx.access``, ``webserver.access``, ``haproxy.log``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from yamori.events import BadRecord, LogSource
from yamori.parsers.base import Envelope, Family, MessageParser, ParseContext, Parsed, TextParser, logsource
from yamori.parsers.syslog import syslog_fields
from yamori.parsers.timestamps import MONTHS, utc_iso

__all__ = [
    "WEBSERVER",
    "AccessLogParser",
    "AccessSyslogParser",
    "HaproxyParser",
    "access_fields",
    "add_url",
    "clf_time",
    "is_access_line",
    "is_ip",
    "parse_access_line",
    "service_from_name",
    "service_from_program",
    "split_request",
    "unescape",
    "web_logsource",
]

WEBSERVER = logsource(None, "webserver")
WEBSERVER_APACHE = logsource(None, "webserver", "apache")
WEBSERVER_NGINX = logsource(None, "webserver", "nginx")
WEBSERVER_LIGHTTPD = logsource(None, "webserver", "lighttpd")
WEBSERVER_HAPROXY = logsource(None, "webserver", "haproxy")
_BY_SERVICE: dict[str | None, tuple[LogSource, str]] = {
    None: (WEBSERVER, "webserver.access"),
    "apache": (WEBSERVER_APACHE, "apache.access"),
    "nginx": (WEBSERVER_NGINX, "nginx.access"),
    "lighttpd": (WEBSERVER_LIGHTTPD, "lighttpd.access"),
}

# "..." with backslash escapes, unrolled (no backtracking per character)
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_ACCESS = re.compile(
    r'(?P<pre>[^\s\["]+(?: [^\s\["]+){2,4}) \[(?P<time>[^\]]{8,40})\]'
    r'(?P<mid>(?: [^\s"\[\]]+)*) "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)"'
    r' (?P<status>\d{3}|-) (?P<size>\d+|-)'
    r'(?: "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)")?'
    r'(?P<rest>.*)$', re.DOTALL)
_REST_TOKEN = re.compile(r'\s*(?:([A-Za-z_][\w.-]*)=)?(?:' + _QUOTED + r'|(\S+))')
_XFF = re.compile(r"-|[0-9A-Fa-f.:\[\]]+(?:,\s*[0-9A-Fa-f.:\[\]]+)*")
_HOST_PORT = re.compile(r"[A-Za-z0-9_.-]+:\d{1,5}")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*(?:%[\w.-]+)?")
_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_UNESCAPE = re.compile(r'\\(["\\])')
_CLF_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*"
    r"(?:([+-])(\d{2}):?(\d{2}))?\s*$")
_HAPROXY = re.compile(
    r"(?P<client>\S+):(?P<port>\d{1,5}) \[(?P<time>[^\]]+)\] (?P<frontend>\S+) (?P<backend>[^\s/]+)/(?P<server>\S+) "
    r"(?P<timers>[-+]?\d+(?:/[-+]?\d+){3,4}) (?P<status>-?\d{1,3}) \+?(?P<bytes>\d+) (?P<req_cookie>\S+) "
    r"(?P<res_cookie>\S+) (?P<termination>\S{4}) (?P<conn>\d+(?:/\d+){4}) (?P<queues>\d+/\d+)"
    r"(?: \{(?P<req_headers>[^}]*)\})?(?: \{(?P<res_headers>[^}]*)\})? "
    r'"(?P<request>[^"\\]*(?:\\.[^"\\]*)*)"?$')

_NOT_ACCESS = "not an access log line (common, combined, vhost_combined)"
_TIME_CACHE: dict[str, str] = {}
_TIME_CACHE_MAX = 20000
_ZONES: dict[str, timezone] = {}


def clf_time(text: str) -> str | None:
    """``17/May/2015:10:05:03 +0000`` (zone optional, fraction optional) as ISO UTC; None when it is not one."""
    cached = _TIME_CACHE.get(text)
    if cached is not None:
        return cached or None
    match = _CLF_TIME.match(text)
    iso = ""
    if match is not None:
        month = MONTHS.get(match[2].lower())
        if month is not None:
            zone = UTC
            if match[8]:
                key = match[8] + match[9] + match[10]
                zone = _ZONES.get(key) or _ZONES.setdefault(key, timezone(
                    (1 if match[8] == "+" else -1) * timedelta(hours=int(match[9]), minutes=int(match[10]))))
            micro = int((match[7] + "00000")[:6]) if match[7] else 0
            try:
                iso = utc_iso(datetime(int(match[3]), month, int(match[1]), int(match[4]), int(match[5]),
                                       int(match[6]), micro, tzinfo=zone))
            except (ValueError, OverflowError):
                iso = ""
    if len(_TIME_CACHE) >= _TIME_CACHE_MAX:
        _TIME_CACHE.clear()
    _TIME_CACHE[text] = iso
    return iso or None


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address (by shape; cheap)."""
    if ":" in text:
        return _IPV6.fullmatch(text) is not None
    return _IPV4.fullmatch(text) is not None


def unescape(text: str) -> str:
    """Apache's and Nginx's ``\\"`` and ``\\\\`` back to ``"`` and ``\\`` (``\\xhh`` stays as written)."""
    return _UNESCAPE.sub(r"\1", text) if "\\" in text else text


def split_request(request: str) -> tuple[str, str, str | None] | None:
    """``GET /a?b HTTP/1.1`` -> (method, URI, protocol); None for junk (``-``, empty, binary, one word)."""
    method, sep, rest = request.partition(" ")
    if not sep or not rest or _METHOD.fullmatch(method) is None:
        return None
    uri, sep, protocol = rest.rpartition(" ")
    if sep and protocol[:5].upper() == "HTTP/":
        return method, uri, protocol
    return method, rest, None


def add_url(fields: dict[str, Any], uri: str) -> None:
    """``url.*`` and the Sigma URI names from a request target (``/path?query`` or an absolute URL)."""
    fields["url.original"] = fields["cs-uri-query"] = fields["cs-uri"] = uri
    path, question, query = uri.partition("?")
    if path[:1] != "/" and "://" in path[:12]:
        scheme, _, after = path.partition("://")
        domain, slash, rest = after.partition("/")
        fields["url.scheme"] = scheme.lower()
        if domain:
            fields["url.domain"] = domain
        path = slash + rest
    if path:
        fields["url.path"] = fields["cs-uri-stem"] = path
    if question:
        fields["url.query"] = query


def access_fields(fields: dict[str, Any], client: str | None, user: str | None, request: str | None,
                  status: int | None, size: int | None, referer: str | None, agent: str | None,
                  host: str | None) -> None:
    """The Sigma webserver names and ECS fields of one request; each argument None (or ``-``/empty) when absent.

    ``request`` is the request line (``GET /x HTTP/1.1``), split into method, URI and protocol."""
    if client and client != "-":
        fields["c-ip"] = client
        if is_ip(client):
            fields["source.ip"] = client
        else:
            fields["source.domain"] = client
    if user and user != "-":
        fields["cs-username"] = fields["user.name"] = user
    if request:
        parts = split_request(request)
        if parts is not None:
            method, uri, protocol = parts
            fields["cs-method"] = fields["http.request.method"] = method
            if uri:
                add_url(fields, uri)
            if protocol:
                fields["cs-version"] = protocol
                fields["http.version"] = protocol[5:]
    if host and host != "-":
        fields["cs-host"] = host
        if "url.domain" not in fields:
            fields["url.domain"] = host
    if status is not None:
        fields["sc-status"] = fields["http.response.status_code"] = status
    if size is not None:
        fields["sc-bytes"] = fields["http.response.body.bytes"] = size
    if referer and referer != "-":
        fields["cs-referer"] = fields["http.request.referrer"] = referer
    if agent and agent != "-":
        fields["cs-user-agent"] = fields["user_agent.original"] = agent
    fields["event.kind"] = "event"
    if status is not None and status == 401 and "user.name" in fields:
        fields["event.category"] = ["web", "authentication"]
        fields["event.type"] = ["access", "start"]
    else:
        fields["event.category"] = ["web"]
        fields["event.type"] = ["access"]
    if status is not None and status > 0:
        fields["event.outcome"] = "failure" if status >= 400 else "success"


def service_from_name(source: str) -> str | None:
    """``nginx`` or ``apache`` when a file's path names the server (``/var/log/nginx/access.log``)."""
    lowered = source.lower()
    if "nginx" in lowered:
        return "nginx"
    if "apache" in lowered or "httpd" in lowered:
        return "apache"
    if "lighttpd" in lowered:
        return "lighttpd"
    return None


def service_from_program(program: str | None) -> str | None:
    """The server a syslog program name is (``nginx``, ``httpd``, ``apache2``, ``lighttpd``), else None."""
    if not program:
        return None
    lowered = program.lower()
    if lowered.startswith("nginx"):
        return "nginx"
    if lowered.startswith(("httpd", "apache")):
        return "apache"
    if lowered.startswith("lighttpd"):
        return "lighttpd"
    return None


def web_logsource(service: str | None) -> tuple[LogSource, str]:
    """The webserver logsource and ``event.dataset`` of an access event of ``service``."""
    return _BY_SERVICE.get(service) or _BY_SERVICE[None]


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _access(match: re.Match[str], fields: dict[str, Any]) -> str | None:
    """Fill ``fields`` from an access-line match; returns the ISO timestamp (None: unreadable time)."""
    pre_text, time_local, mid, request, status_text, size_text, referer, agent, rest = match.groups()
    pre = pre_text.split(" ")
    vhost: str | None = None
    if len(pre) == 3:
        client, ident, user = pre
        if ident != "-" and ("." in ident or ":" in ident):  # lighttpd's %h %V %u: the host, not an ident
            vhost, ident = ident, "-"
    elif is_ip(pre[1]) or _HOST_PORT.fullmatch(pre[0]) is not None:  # vhost_combined: %v[:%p] %h %l %u
        vhost, client, ident, user = pre[0], pre[1], pre[2], pre[3]
        if len(pre) > 4:
            fields["extra_fields"] = pre[4:]
    else:  # an extra column after %u
        client, ident, user = pre[0], pre[1], pre[2]
        fields["extra_fields"] = pre[3:]
    if mid:
        tokens = mid.split()
        if vhost is None:
            vhost = tokens[0]
            tokens = tokens[1:]
        if tokens:
            fields["extra_fields"] = fields.get("extra_fields", []) + tokens
    if "\\" in request:
        request = _UNESCAPE.sub(r"\1", request)
    fields["remote_addr"] = client
    fields["ident"] = ident
    fields["remote_user"] = user
    fields["time_local"] = time_local
    fields["request"] = request
    fields["status"] = status_text
    fields["body_bytes_sent"] = size_text
    if agent is not None:
        if "\\" in referer:
            referer = _UNESCAPE.sub(r"\1", referer)
        if "\\" in agent:
            agent = _UNESCAPE.sub(r"\1", agent)
        fields["http_referer"] = referer
        fields["http_user_agent"] = agent
    server_name = None
    if vhost is not None:
        server_name, colon, port = vhost.rpartition(":")
        if colon and port.isdigit() and "]" not in port:
            fields["server_port"] = port
            fields["destination.port"] = int(port)
        else:
            server_name = vhost
        fields["server_name"] = server_name
    if rest and not rest.isspace():
        _rest_fields(rest, fields)
    status = int(status_text) if status_text != "-" else None
    size = int(size_text) if size_text != "-" else (0 if status is not None else None)  # %b: "-" for no body
    access_fields(fields, client, user, request, status, size, referer, agent, server_name)
    return clf_time(time_local)


def _rest_fields(rest: str, fields: dict[str, Any]) -> None:
    extra: list[str] = fields.get("extra_fields", [])
    first_quoted = True
    for token in _REST_TOKEN.finditer(rest):
        key, quoted, bare = token.group(1), token.group(2), token.group(3)
        value = unescape(quoted) if quoted is not None else bare
        if value is None:
            continue
        if key is not None:
            fields.setdefault(key, value)
        elif quoted is not None and first_quoted and "http_x_forwarded_for" not in fields \
                and _XFF.fullmatch(value) is not None:
            fields["http_x_forwarded_for"] = value
            if value != "-":
                forwarded = value.split(",", 1)[0].strip()
                if is_ip(forwarded):
                    fields["network.forwarded_ip"] = forwarded
        else:
            extra.append(value)
        if quoted is not None:
            first_quoted = False
    if extra:
        fields["extra_fields"] = extra


def is_access_line(line: str) -> bool:
    """True for a line in one of the access-log forms (cheap: no event is built)."""
    return _ACCESS.match(line) is not None


def parse_access_line(line: str, service: str | None) -> Parsed | None:
    """One access-log line as an event; None when the line is not one."""
    match = _ACCESS.match(line)
    if match is None:
        return None
    fields: dict[str, Any] = {}
    timestamp = _access(match, fields)
    source, dataset = web_logsource(service)
    fields["event.dataset"] = dataset
    return Parsed(fields, source, timestamp, raw=line)


class AccessLogParser(TextParser):
    """Apache/Nginx/lighttpd access log files (common, combined, vhost_combined, with extra fields)."""

    name = "access_log"
    family = Family.WEB
    description = "Apache/Nginx access logs: common, combined, vhost_combined, extra trailing fields"
    logsources = (WEBSERVER, WEBSERVER_APACHE, WEBSERVER_NGINX, WEBSERVER_LIGHTTPD)
    priority = 40

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        if not lines:
            return False
        from yamori.parsers.web_error import is_error_line  # web_error imports this module

        access = sum(1 for line in lines if _ACCESS.match(line) is not None)
        if access == 0:
            return False
        errors = sum(1 for line in lines if is_error_line(line))
        return access >= errors and access + errors >= len(lines) / 2

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        from yamori.parsers.web_error import not_web_reason, other_web_line  # web_error imports this module

        service = service_from_name(context.source)
        source, dataset = web_logsource(service)
        match_line = _ACCESS.match
        for number, line in lines:
            match = match_line(line)
            if match is None:
                other = other_web_line(line, context, service, skip_access=True)
                if other is None:
                    yield context.bad(number, not_web_reason(line, context, _NOT_ACCESS), line)
                    continue
                parsed = other
            else:
                fields: dict[str, Any] = {}
                timestamp = _access(match, fields)
                fields["event.dataset"] = dataset
                parsed = Parsed(fields, source, timestamp)
            parsed.position = str(number)
            parsed.raw = line
            yield parsed


class AccessSyslogParser(MessageParser):
    """An access-log line as the message of a syslog line (Nginx ``access_log syslog:``, Apache via logger)."""

    name = "access_log_syslog"
    family = Family.WEB
    description = "Apache/Nginx access log lines inside syslog"
    logsources = (WEBSERVER, WEBSERVER_APACHE, WEBSERVER_NGINX, WEBSERVER_LIGHTTPD)
    priority = 40

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if '"' not in message or "[" not in message:
            return None
        match = _ACCESS.match(message)
        if match is None:
            return None
        fields = syslog_fields(envelope, message)
        timestamp = _access(match, fields) or envelope.timestamp
        source, dataset = web_logsource(service_from_program(envelope.program))
        fields["event.dataset"] = dataset
        return Parsed(fields, source, timestamp)


class HaproxyParser(MessageParser):
    """HAProxy's HTTP log format (``option httplog``) in syslog lines of program ``haproxy``."""

    name = "haproxy_http"
    family = Family.WEB
    description = "HAProxy HTTP logs (option httplog) in syslog"
    logsources = (WEBSERVER_HAPROXY,)
    programs: ClassVar[frozenset[str]] = frozenset({"haproxy"})
    priority = 40

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        match = _HAPROXY.match(message)
        if match is None:
            return None  # TCP log format or a notice: the generic syslog event
        fields = syslog_fields(envelope, message)
        client = match["client"]
        fields["client_ip"] = client
        fields["client_port"] = match["port"]
        fields["accept_date"] = match["time"]
        fields["frontend_name"] = match["frontend"]
        fields["backend_name"] = match["backend"]
        fields["server_name"] = match["server"]
        fields["timers"] = match["timers"]
        fields["status_code"] = match["status"]
        fields["bytes_read"] = match["bytes"]
        fields["captured_request_cookie"] = match["req_cookie"]
        fields["captured_response_cookie"] = match["res_cookie"]
        fields["termination_state"] = match["termination"]
        fields["connections"] = match["conn"]
        fields["queues"] = match["queues"]
        if match["req_headers"] is not None:
            fields["captured_request_headers"] = match["req_headers"]
        if match["res_headers"] is not None:
            fields["captured_response_headers"] = match["res_headers"]
        request = unescape(match["request"])
        fields["http_request"] = request
        if client.lower().startswith("::ffff:") and _IPV4.fullmatch(client[7:]):
            client = client[7:]
        status = int(match["status"])
        access_fields(fields, client, None, request, status if status >= 0 else None, int(match["bytes"]),
                      None, None, None)
        fields["source.port"] = int(match["port"])
        total = match["timers"].rsplit("/", 1)[-1].lstrip("+")
        if total.isdigit():
            fields["event.duration"] = int(total) * 1_000_000
        fields["event.dataset"] = "haproxy.log"
        timestamp = clf_time(match["time"]) or envelope.timestamp
        return Parsed(fields, WEBSERVER_HAPROXY, timestamp)


PARSERS = (AccessLogParser(), AccessSyslogParser(), HaproxyParser())
