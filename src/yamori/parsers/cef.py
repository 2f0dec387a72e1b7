"""ArcSight Common Event Format (CEF), in syslog or bare.

Owns messages starting ``CEF:<version>|`` (after the syslog header or at the start of a bare line; a short device
prefix before ``CEF:`` is allowed, as some senders write ``host CEF:0|...``):

``CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|key=value key=value ...``

* header: the seven ``|``-separated fields, ``\\|`` and ``\\\\`` unescaped;
* extension: ``key=value`` pairs separated by spaces; a value runs until the next `` key=`` (values hold spaces),
  with ``\\=``, ``\\\\``, ``\\n``, ``\\r`` (and a stray ``\\|``) unescaped; a backslash before any other character
  stays (``C:\\Windows`` written unescaped);
* custom fields: ``cs1Label=Rule Name cs1=Block SSH`` gives ``cs1`` and also a field named by the label
  (``Rule Name``), for every ``<key>Label`` beside its ``<key>`` (``cs1``-``cs6``, ``cn1``-``cn3``,
  ``cfp1``-``cfp4``, ``c6a1``-``c6a4``, ``flexString1``, ``deviceCustomDate1``, ...), unless that name is taken.

Fields: ``cef_version``, ``deviceVendor``, ``deviceProduct``, ``deviceVersion``, ``deviceEventClassId`` (the
signature id), ``name``, ``severity`` (as written; replaces the syslog priority's severity, which stays in
``log.syslog.severity.code``), and every extension key under its own name (``src``, ``dst``, ``spt``,
``dpt``, ``act``, ``suser``, ``duser``, ``rt``, ...). Sigma taxonomy names: ``src_ip``, ``dst_ip``,
``src_port``, ``dst_port``, ``action`` (``act`` as written) and ``blocked`` (from ``act``: block, deny, drop,
reject... -> true; allow, accept, permit, pass... -> false).

ECS: ``source.*``/``destination.*`` (ip, port, mac, domain from ``shost``/``dhost``, user name and id, NAT
address and port from the ``*Translated*`` keys, bytes from ``in``/``out``), ``network.transport`` (``proto``),
``network.protocol`` (``app``), ``network.direction`` (``deviceDirection`` 0 inbound, 1 outbound),
``network.bytes``, ``event.action`` (``act``), ``event.code`` (signature id), ``event.severity`` (0-10;
Low/Medium/High/Very-High as 3/6/8/10), ``event.reason``, ``event.outcome``, ``event.id`` (``externalId``),
``rule.name`` (the event name), ``url.original`` (``request``), ``http.request.method``,
``user_agent.original``, ``file.*``, ``user.name`` (``duser``, else ``suser``), ``observer.vendor``/``product``/
``version``/``hostname``/``ip``, ``observer.ingress/egress.interface.name``. ``@timestamp`` from ``rt``
(epoch milliseconds, ``MMM dd yyyy HH:mm:ss[.SSS] [zone]``, ISO), else ``end``/``start``, else the syslog time.

Logsource: CEF carries every kind of device; an event with a connection in it (a source or destination address
together with a destination port or an action) is ``category: firewall``, so SigmaHQ's firewall rules see
firewall and proxy traffic sent as CEF; any other CEF event gets no logsource (field-only rules without a
logsource still apply). A line starting ``CEF:`` whose header lacks its seven fields is a bad record.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from yamori.events import UNKNOWN_LOGSOURCE
from yamori.parsers._firewall import (
    as_int,
    device_time,
    envelope_fields,
    finish_fields,
    merge_payload,
    network,
    port,
    verdict,
    verdict_of,
)
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed, logsource

__all__ = ["CefParser", "parse_extension"]

_FIREWALL = logsource(None, "firewall")
_START = re.compile(r"CEF:\s?(\d+)\|")
_HEADER_FIELD = re.compile(r"((?:[^|\\]|\\.)*)\|", re.DOTALL)
_HEADER_UNESCAPE = re.compile(r"\\([|\\])")
_KEY = re.compile(r"\s([A-Za-z0-9_.\[\]-]+)=")  # searched in the text with a space in front
_VALUE_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_VALUE_ESCAPES = {"=": "=", "\\": "\\", "n": "\n", "r": "\r", "|": "|"}
_SEVERITY_WORDS = {"low": 3, "medium": 6, "high": 8, "very-high": 10, "very high": 10, "unknown": 0}
_HEADER_NAMES = ("deviceVendor", "deviceProduct", "deviceVersion", "deviceEventClassId", "name", "severity")
_DIRECTIONS = {"0": "inbound", "1": "outbound"}


def _unescape_value(match: re.Match[str]) -> str:
    char = match[1]
    return _VALUE_ESCAPES.get(char, "\\" + char)


def _store(pairs: dict[str, str], key: str, value: str) -> None:
    value = value.rstrip()
    if "\\" in value:
        value = _VALUE_ESCAPE.sub(_unescape_value, value)
    pairs[key] = value


def parse_extension(text: str) -> dict[str, str]:
    """CEF extension ``key=value key=value`` pairs (values unescaped; a value runs up to the next key)."""
    pairs: dict[str, str] = {}
    padded = " " + text
    key: str | None = None
    start = 0
    for found in _KEY.finditer(padded):
        if key is not None:
            _store(pairs, key, padded[start:found.start()])
        key, start = found[1], found.end()
    if key is not None:
        _store(pairs, key, padded[start:])
    if "Label=" not in text:
        return pairs
    for key in [key for key in pairs if key.endswith("Label") and len(key) > 5]:
        base = key[:-5]
        label = pairs[key].strip()
        if base in pairs and label and label not in pairs:
            pairs[label] = pairs[base]
    return pairs


class CefParser(MessageParser):
    """CEF messages (any device: firewalls, proxies, IDS, EDR, ...)."""

    name = "cef"
    family = Family.FIREWALL
    description = "ArcSight Common Event Format (CEF) in syslog or bare lines"
    logsources = (_FIREWALL, UNKNOWN_LOGSOURCE)
    bare = True
    priority = 20
    ecs: ClassVar[dict[str, str]] = {
        "smac": "source.mac", "dmac": "destination.mac", "shost": "source.domain", "dhost": "destination.domain",
        "suser": "source.user.name", "duser": "destination.user.name", "suid": "source.user.id",
        "duid": "destination.user.id", "sntdom": "source.user.domain", "dntdom": "destination.user.domain",
        "sourceTranslatedAddress": "source.nat.ip", "destinationTranslatedAddress": "destination.nat.ip",
        "act": "event.action", "deviceEventClassId": "event.code", "reason": "event.reason",
        "externalId": "event.id", "name": "rule.name", "request": "url.original",
        "requestMethod": "http.request.method", "requestClientApplication": "user_agent.original",
        "fname": "file.name", "filePath": "file.path", "fileHash": "file.hash.sha256", "sproc": "process.name",
        "deviceVendor": "observer.vendor", "deviceProduct": "observer.product", "deviceVersion": "observer.version",
        "dvchost": "observer.hostname", "dvc": "observer.ip", "deviceInboundInterface":
        "observer.ingress.interface.name", "deviceOutboundInterface": "observer.egress.interface.name",
    }

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        program_is_tag = False
        if envelope.program == "CEF" and message[:1].isdigit():
            text = "CEF:" + message  # "host CEF:0|...": the syslog header parser read "CEF" as the program
            program_is_tag = True
        else:
            position = message.find("CEF:")
            if position < 0 or position > 64 or (position and " " not in message[position - 1:position]):
                return None
            text = message[position:]
        start = _START.match(text)
        if start is None:
            return None
        header: list[str] = []
        offset = start.end()
        for _ in range(6):
            field = _HEADER_FIELD.match(text, offset)
            if field is None:
                raise Malformed("CEF header without its seven |-separated fields")
            value = field[1]
            header.append(_HEADER_UNESCAPE.sub(r"\1", value) if "\\" in value else value)
            offset = field.end()
        fields = envelope_fields(envelope, text, program_is_tag=program_is_tag)
        fields["cef_version"] = start[1]
        fields.update(zip(_HEADER_NAMES, header, strict=True))
        merge_payload(fields, parse_extension(text[offset:]), "cef")
        self._normalize(fields)
        timestamp = (device_time(fields.get("rt"), context.reference_time)
                     or device_time(fields.get("end"), context.reference_time)
                     or device_time(fields.get("start"), context.reference_time) or envelope.timestamp)
        connection = bool((fields.get("src") or fields.get("dst"))
                          and (fields.get("dpt") or fields.get("act")))
        finish_fields(fields, self)
        return Parsed(fields, _FIREWALL if connection else UNKNOWN_LOGSOURCE, timestamp)

    @staticmethod
    def _normalize(fields: dict[str, Any]) -> None:
        network(fields, fields.get("src") or fields.get("c6a2"), port(fields.get("spt")),
                fields.get("dst") or fields.get("c6a3"), port(fields.get("dpt")), fields.get("proto"))
        action = fields.get("act")
        allowed = verdict_of(action) if action else verdict_of(fields.get("outcome"))
        if action:
            fields["action"] = action
        if allowed is not None or "dst_ip" in fields:
            verdict(fields, allowed)
        else:
            fields["event.kind"] = "event"
        outcome = str(fields.get("outcome", "")).strip("/ ").lower()
        if outcome in ("success", "failure", "unknown"):
            fields["event.outcome"] = outcome
        severity = fields.get("severity", "")
        number = as_int(severity)
        if number is None:
            number = _SEVERITY_WORDS.get(severity.lower())
        if number is not None:
            fields["event.severity"] = number
        for key, ecs in (("sourceTranslatedPort", "source.nat.port"),
                         ("destinationTranslatedPort", "destination.nat.port"),
                         ("in", "source.bytes"), ("out", "destination.bytes"), ("fsize", "file.size")):
            value = as_int(fields.get(key))
            if value is not None:
                fields[ecs] = value
        if "source.bytes" in fields or "destination.bytes" in fields:
            fields["network.bytes"] = fields.get("source.bytes", 0) + fields.get("destination.bytes", 0)
        direction = _DIRECTIONS.get(fields.get("deviceDirection", ""))
        if direction:
            fields["network.direction"] = direction
        application = fields.get("app")
        if application:
            fields["network.protocol"] = application.lower()
        user = fields.get("duser") or fields.get("suser")
        if user:
            fields["user.name"] = user


PARSERS = (CefParser(),)
