"""Pieces shared by the firewall message parsers (netfilter, pfSense filterlog, Cisco ASA, CEF, LEEF, key=value).

Not a format module (no ``PARSERS``). What every firewall event gets the same way:

* the network fields under the Sigma taxonomy names SigmaHQ's ``category: firewall`` rules use (``src_ip``,
  ``dst_ip``, ``src_port``, ``dst_port``; ``action`` and ``blocked`` are set by each parser) and their ECS names
  (``source.ip``, ``destination.port``, ``network.transport``, ``network.type``, ``network.iana_number``);
* the verdict: ``blocked`` (bool) and ECS ``event.type`` (``connection`` + ``allowed``/``denied``) and
  ``event.outcome`` (``success`` when the firewall let the connection through, ``failure`` when it stopped it);
* the syslog envelope fields, with the header repaired where a device's own prefix was read as the syslog tag
  (``host CEF:0|...`` gives the program ``CEF``; ``fw01 : %ASA-6-...`` gives the program ``fw01``);
* ``event.module`` (the parser's name) and ``event.dataset`` set by the parser itself (FortiGate writes
  ``fortigate.traffic``); the ``ecs`` mapping is left to :func:`yamori.parsers.base.finish`, which the syslog
  reader applies with the message parser that claimed the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from yamori.parsers.base import Envelope, Parser
from yamori.parsers.syslog import syslog_fields
from yamori.parsers.timestamps import from_epoch, parse_iso, parse_month_day, utc_iso

__all__ = [
    "TRANSPORTS",
    "as_int",
    "device_time",
    "envelope_fields",
    "finish_fields",
    "java_time",
    "merge_payload",
    "network",
    "port",
    "verdict",
    "verdict_of",
]

TRANSPORTS: dict[str, str] = {
    "1": "icmp", "2": "igmp", "4": "ipv4", "6": "tcp", "17": "udp", "41": "ipv6", "47": "gre", "50": "esp",
    "51": "ah", "58": "ipv6-icmp", "89": "ospf", "103": "pim", "112": "vrrp", "132": "sctp",
}
"""IANA protocol number -> ECS ``network.transport`` name (lower case IANA keyword)."""
_TRANSPORT_NAMES = {"icmpv6": "ipv6-icmp", "ipv6-icmp": "ipv6-icmp", "icmp6": "ipv6-icmp", "carp": "vrrp"}
_NUMBER_OF = {name: number for number, name in TRANSPORTS.items()}

_DENY_WORDS = frozenset({"block", "blocked", "drop", "dropped", "deny", "denied", "reject", "rejected",
                         "discard", "discarded", "refuse", "refused", "prevent", "prevented", "reset",
                         "blocking", "denying"})
_ALLOW_WORDS = frozenset({"accept", "accepted", "allow", "allowed", "pass", "passed", "permit", "permitted",
                          "forward", "forwarded", "trust", "established", "built", "close", "closed",
                          "timeout", "client-rst", "server-rst", "start"})
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def as_int(value: Any) -> int | None:
    """A decimal string (or int) as int; None for anything else (no exception on the normal path)."""
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def port(value: Any) -> int | None:
    """A port number 0..65535, else None."""
    number = as_int(value)
    return number if number is not None and number <= 65535 else None


@lru_cache(maxsize=4096)
def verdict_of(action: str | None) -> bool | None:
    """True when an action word means the traffic went through, False when it was stopped, None when unknown.

    Whole words of the action decide (``[UFW BLOCK]``, ``IPTABLES-DROP``, ``Deny``, ``accept``); a deny word wins
    over an allow word (``ACCEPT-then-DROP`` is not a pass)."""
    if not action:
        return None
    tokens = _WORD.findall(action.lower())
    words = tokens + [part for token in tokens if "-" in token for part in token.split("-")]
    if any(word in _DENY_WORDS for word in words):
        return False
    if any(word in _ALLOW_WORDS for word in words):
        return True
    return None


def network(fields: dict[str, Any], src_ip: str | None, src_port: int | None, dst_ip: str | None,
            dst_port: int | None, transport: str | None = None) -> None:
    """Set the Sigma taxonomy and ECS names of one connection's endpoints and transport (only what is known)."""
    if src_ip:
        fields["src_ip"] = fields["source.ip"] = src_ip
    if dst_ip:
        fields["dst_ip"] = fields["destination.ip"] = dst_ip
    if src_port is not None:
        fields["src_port"] = fields["source.port"] = src_port
    if dst_port is not None:
        fields["dst_port"] = fields["destination.port"] = dst_port
    address = src_ip or dst_ip
    if address:
        fields["network.type"] = "ipv6" if ":" in address else "ipv4"
    if transport:
        name = transport.lower()
        if name.isdigit():
            fields["network.iana_number"] = name
            name = TRANSPORTS.get(name, "")
        else:
            name = _TRANSPORT_NAMES.get(name, name)
            number = _NUMBER_OF.get(name)
            if number is not None:
                fields["network.iana_number"] = number
        if name:
            fields["network.transport"] = name


def verdict(fields: dict[str, Any], allowed: bool | None, *more_types: str) -> None:
    """``blocked`` and ECS ``event.kind/category/type/outcome`` of a connection the firewall passed or stopped.

    ``more_types``: further ECS event types (``start``, ``end``)."""
    fields["event.kind"] = "event"
    fields["event.category"] = ["network"]
    types = ["connection"]
    if allowed is True:
        fields["blocked"] = False
        types.append("allowed")
        fields["event.outcome"] = "success"
    elif allowed is False:
        fields["blocked"] = True
        types.append("denied")
        fields["event.outcome"] = "failure"
    types.extend(more_types)
    fields["event.type"] = types


def envelope_fields(envelope: Envelope, message: str, *, program_is_tag: bool = False) -> dict[str, Any]:
    """The syslog envelope's fields and the message; ``program_is_tag``: the "program" the syslog header parser
    found is really part of the message (``CEF``, ``%ASA-6-302013``, ``date=...``), so it is dropped."""
    if envelope.original_time is None and envelope.host is None and envelope.program is None:
        return {"message": message}  # a bare line
    fields = syslog_fields(envelope, message)
    if program_is_tag:
        fields.pop("program", None)
        fields.pop("process.name", None)
        fields.pop("pid", None)
        fields.pop("process.pid", None)
    return fields


def merge_payload(fields: dict[str, Any], payload: Mapping[str, Any], namespace: str) -> None:
    """Add a payload's fields under their own names; they win over the syslog envelope's original names
    (``host``, ``severity``, ...: those stay under their ECS names), except ``message``, which stays the whole
    message (a payload field of that name becomes ``<namespace>.message``)."""
    for key, value in payload.items():
        if key == "message":
            fields[f"{namespace}.message"] = value
        else:
            fields[key] = value


def finish_fields(fields: dict[str, Any], parser: Parser, dataset: str | None = None) -> dict[str, Any]:
    """``event.module`` (the parser's name: the benchmark and the fuzz tests group by it) and ``event.dataset``;
    the parser's ECS mapping is applied by :func:`yamori.parsers.base.finish` after the parser returns."""
    fields["event.module"] = parser.name
    fields["event.dataset"] = dataset or parser.name
    return fields


# --- device timestamps -----------------------------------------------------------------------------------------

_MONTH_TIME = re.compile(
    r"(?:[A-Za-z]{3},?\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})(?:,?\s+(?P<year>\d{4}))?\s+"
    r"(?P<clock>\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?)(?:\s+(?P<year2>\d{4}))?(?:\s+(?P<zone>[A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?$")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")
_UTC_NAMES = frozenset({"utc", "gmt", "z", "ut"})


def _zone(text: str | None) -> timezone | None:
    if not text:
        return None
    if text.lower() in _UTC_NAMES:
        return UTC
    match = _OFFSET.match(text)
    if match is None:
        return None  # a zone name (CET, PST) is ambiguous: the time is taken as UTC
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes >= 24 * 60:
        return None
    return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))


def device_time(text: str | None, reference: datetime) -> str | None:
    """A device's time as ISO UTC: epoch seconds/milliseconds/microseconds/nanoseconds (by the number of
    digits), ISO 8601, or ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`` (CEF ``rt``, LEEF ``devTime``); None when it is
    none of those."""
    if not text:
        return None
    text = text.strip()
    if text.isdigit():
        digits = len(text)
        if digits > 20:
            return None
        value = int(text)
        divisor = 1e9 if digits >= 18 else 1e6 if digits >= 15 else 1e3 if digits >= 12 else 1
        return from_epoch(value / divisor)
    if text[:1].isdigit():
        moment = parse_iso(text)
        return utc_iso(moment) if moment is not None else None
    match = _MONTH_TIME.match(text)
    if match is None:
        return None
    year = match["year"] or match["year2"]
    moment = parse_month_day(match["mon"], int(match["day"]), match["clock"].replace(",", "."), reference,
                             int(year) if year else None, _zone(match["zone"]))
    return utc_iso(moment) if moment is not None else None


_JAVA_TOKEN = re.compile(r"'[^']*'|y+|M+|d+|H+|h+|m+|s+|S+|a+|E+|Z+|X+|z+|[^'yMdHhmsSaEZXz]+")


@lru_cache(maxsize=64)
def _strptime_pattern(java: str) -> tuple[str, bool] | None:
    """A Java SimpleDateFormat pattern as (strptime pattern, has a zone); None for a letter it cannot translate."""
    out: list[str] = []
    zoned = False
    for token in _JAVA_TOKEN.findall(java):
        head = token[0]
        if head == "'":
            out.append(token[1:-1].replace("%", "%%") if len(token) > 2 else "'")
        elif head == "y":
            out.append("%y" if len(token) == 2 else "%Y")
        elif head == "M":
            out.append("%b" if len(token) == 3 else "%B" if len(token) > 3 else "%m")
        elif head in "dHhms":
            out.append({"d": "%d", "H": "%H", "h": "%I", "m": "%M", "s": "%S"}[head])
        elif head == "S":
            out.append("%f")
        elif head == "a":
            out.append("%p")
        elif head == "E":
            out.append("%a" if len(token) <= 3 else "%A")
        elif head in "ZXz":
            out.append("%z" if head != "z" else "%Z")
            zoned = True
        elif token.isalpha():
            return None
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out), zoned


def java_time(text: str, java_pattern: str) -> str | None:
    """``text`` read with a Java SimpleDateFormat pattern (LEEF ``devTimeFormat``) as ISO UTC; None if it does
    not fit (a time without a zone is taken as UTC)."""
    translated = _strptime_pattern(java_pattern)
    if translated is None:
        return None
    pattern, _ = translated
    try:
        moment = datetime.strptime(text.strip(), pattern)
    except (ValueError, re.error):  # re.error: a pattern repeating a field (strptime builds a regex of it)
        return None
    return utc_iso(moment)
