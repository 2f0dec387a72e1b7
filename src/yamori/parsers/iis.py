"""Microsoft IIS logs in the W3C extended format (``#Software``/``#Version``/``#Date``/``#Fields:`` headers).

The ``#Fields:`` directive names the space-separated columns of the lines after it; IIS writes the headers again
when it restarts or the configuration changes, so a new ``#Fields:`` line in the middle of a file applies from
there on. Other directives (``#Software``, ``#Version``, ``#Date``, ``#Remark``) are read and skipped. ``-`` is an
empty value: such fields are left out (so ``cs-username: null`` means anonymous). A data line before any
``#Fields:`` line, or with another number of values than the fields declare, is a BadRecord.

Fields: every W3C column under its own name (``date``, ``time``, ``s-sitename``, ``s-computername``, ``s-ip``,
``cs-method``, ``cs-uri-stem``, ``s-port``, ``cs-username``, ``c-ip``, ``cs-version``, ``cs(User-Agent)``,
``cs(Cookie)``, ``cs(Referer)``, ``cs-host``, ``sc-status``, ``sc-substatus``, ``sc-win32-status``,
``sc-bytes``, ``cs-bytes``, ``time-taken``, any custom ``cs(Header)``); the numeric ones as integers.
``cs-uri-query`` is Sigma's meaning of the name, not W3C's: SigmaHQ's webserver rules (including IIS-specific
ones such as the short-name scan ``/*~1*/a.aspx``) look for paths in it, so it holds the whole request target
(``cs-uri-stem`` plus ``?`` and the W3C query); the W3C query alone is ``url.query``. Sigma names added:
``cs-uri`` (as ``cs-uri-query``), ``cs-user-agent`` (IIS writes spaces as ``+``; SigmaHQ's IIS rules use that
form and others the decoded one, so both are given, as a list, when they differ), ``cs-referer``.

ECS: ``source.ip``, ``source.port``, ``destination.ip``, ``destination.port``, ``user.name``,
``http.request.method``, ``url.original``, ``url.path``, ``url.query``, ``url.domain``, ``http.version``,
``http.response.status_code``, ``http.response.bytes``, ``http.request.bytes``, ``http.request.referrer``,
``user_agent.original`` (spaces restored), ``host.hostname``, ``event.duration``, ``event.kind``,
``event.category: [web]``, ``event.type: [access]``, ``event.outcome`` (``failure`` for status >= 400). A 401.1
(logon failed: credentials sent and refused) or a 401 with a user name is also ``event.category:
[web, authentication]``.

Logsource: ``category: webserver``, ``service: iis``; ``event.dataset: iis.access``. Times are UTC (IIS writes
W3C logs in UTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from yamori.events import BadRecord
from yamori.parsers.access_log import is_ip
from yamori.parsers.base import Family, ParseContext, Parsed, TextParser, logsource

__all__ = ["IisParser"]

WEBSERVER_IIS = logsource(None, "webserver", "iis")

_NUMERIC = frozenset(("sc-status", "sc-substatus", "sc-win32-status", "sc-bytes", "cs-bytes", "time-taken",
                      "s-port", "c-port"))
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?")
_FIELD_NAME = re.compile(r"[\w().-]+")
# original W3C name -> ECS name, copied as they are
_ECS = {
    "c-ip": "source.ip", "s-ip": "destination.ip", "cs-username": "user.name", "cs-method": "http.request.method",
    "cs-uri-stem": "url.path", "cs-host": "url.domain", "cs(Referer)": "http.request.referrer",
    "sc-status": "http.response.status_code", "sc-bytes": "http.response.bytes", "cs-bytes": "http.request.bytes",
    "s-computername": "host.hostname", "s-port": "destination.port", "c-port": "source.port",
}


class _Layout:
    """What one ``#Fields:`` header means, worked out once: the names, which are numbers, which ECS names apply."""

    __slots__ = ("ecs", "names", "numeric")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.numeric = tuple((name in _NUMERIC) for name in names)
        self.ecs = tuple((original, ecs_name) for original, ecs_name in _ECS.items() if original in names)


def _header_fields(line: str) -> _Layout | None:
    names = line[len("#Fields:"):].split()
    if not names or any(_FIELD_NAME.fullmatch(name) is None for name in names):
        return None
    return _Layout(names)


class IisParser(TextParser):
    """IIS W3C extended log files."""

    name = "iis"
    family = Family.WEB
    description = "Microsoft IIS W3C extended logs (#Fields: headers)"
    logsources = (WEBSERVER_IIS,)
    priority = 30
    comment_prefix: ClassVar[str | None] = None

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        for line in lines:
            if not line.startswith("#"):
                return False  # data before the header: not a file IIS wrote
            if line.startswith("#Software: Microsoft Internet Information Services"):
                return True
            if line.startswith("#Fields:") and ("cs-uri-stem" in line or "cs-method" in line):
                return True
        return False

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        layout: _Layout | None = None
        for number, line in lines:
            if line.startswith("#"):
                if line.startswith("#Fields:"):
                    layout = _header_fields(line)
                    if layout is None:
                        yield context.bad(number, "unreadable #Fields: header", line)
                continue
            if layout is None:
                yield context.bad(number, "IIS log line before any #Fields: header", line)
                continue
            values = line.split(" ")
            if len(values) != len(layout.names):
                values = line.split()
                if len(values) != len(layout.names):
                    yield context.bad(number, f"{len(values)} values for {len(layout.names)} #Fields", line)
                    continue
            parsed = self._event(layout, values)
            parsed.position = str(number)
            parsed.raw = line
            yield parsed

    def _event(self, layout: _Layout, values: list[str]) -> Parsed:
        fields: dict[str, Any] = {}
        for name, numeric, value in zip(layout.names, layout.numeric, values, strict=True):
            if value == "-" or not value:
                continue
            fields[name] = int(value) if numeric and value.isdigit() else value
        for original, ecs_name in layout.ecs:
            present = fields.get(original)
            if present is not None:
                fields[ecs_name] = present
        client = fields.get("c-ip")
        if isinstance(client, str) and not is_ip(client):
            del fields["source.ip"]
            fields["source.domain"] = client
        stem = fields.get("cs-uri-stem")
        query = fields.get("cs-uri-query")
        if stem is not None or query is not None:
            target = f"{stem or ''}?{query}" if query is not None else str(stem)
            fields["cs-uri-query"] = fields["cs-uri"] = fields["url.original"] = target
            if query is not None:
                fields["url.query"] = query
        version = fields.get("cs-version")
        if isinstance(version, str) and "/" in version:
            fields["http.version"] = version.partition("/")[2]
        agent = fields.get("cs(User-Agent)")
        if isinstance(agent, str):
            decoded = agent.replace("+", " ")
            fields["user_agent.original"] = decoded
            fields["cs-user-agent"] = [agent, decoded] if decoded != agent else agent
        referer = fields.get("cs(Referer)")
        if referer is not None:
            fields["cs-referer"] = referer
        taken = fields.get("time-taken")
        if isinstance(taken, int):
            fields["event.duration"] = taken * 1_000_000
        fields["event.kind"] = "event"
        status = fields.get("sc-status")
        if isinstance(status, int) and status == 401 and (fields.get("sc-substatus") == 1 or "user.name" in fields):
            fields["event.category"] = ["web", "authentication"]
            fields["event.type"] = ["access", "start"]
        else:
            fields["event.category"] = ["web"]
            fields["event.type"] = ["access"]
        if isinstance(status, int):
            fields["event.outcome"] = "failure" if status >= 400 else "success"
        fields["event.dataset"] = "iis.access"
        return Parsed(fields, WEBSERVER_IIS, _timestamp(fields.get("date"), fields.get("time")))


_VALID_DATES: dict[str, bool] = {}


def _timestamp(date: Any, clock: Any) -> str | None:
    """``2026-11-28`` and ``03:00:00[.fff]`` (UTC) as ISO; None when either is absent or not a valid time."""
    if not isinstance(date, str) or not isinstance(clock, str) or _TIME.fullmatch(clock) is None:
        return None
    valid = _VALID_DATES.get(date)
    if valid is None:
        valid = _DATE.fullmatch(date) is not None
        if valid:
            try:
                datetime(int(date[:4]), int(date[5:7]), int(date[8:10]))
            except ValueError:
                valid = False
        if len(_VALID_DATES) > 4096:
            _VALID_DATES.clear()
        _VALID_DATES[date] = valid
    if not valid or int(clock[:2]) > 23 or int(clock[3:5]) > 59 or int(clock[6:8]) > 59:
        return None
    if "." in clock:
        whole, _, fraction = clock.partition(".")
        return f"{date}T{whole}.{(fraction + '00000')[:6]}Z"
    return f"{date}T{clock}Z"


PARSERS = (IisParser(),)
