"""IBM QRadar Log Event Extended Format (LEEF) 1.0 and 2.0, in syslog or bare.

Owns messages starting ``LEEF:1.0|`` or ``LEEF:2.0|`` (after the syslog header or at the start of a bare line):

* LEEF 1.0: ``LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...``
* LEEF 2.0: ``LEEF:2.0|Vendor|Product|Version|EventID|<delimiter>|key=value<delimiter>key=value...``; the
  delimiter is one character (``^``, ``|``...) or its code in hex (``x09``, ``0x09``, ``\\t``); when the field
  is empty or left out, a tab.

Attributes are split at the delimiter, each at its first ``=`` (values may hold ``=``). A LEEF 1.0 event whose
attributes hold no tab (a sender that wrote spaces) is read like a CEF extension (``key=value key=value``).

Fields: ``leef_version``, ``vendor``, ``product``, ``product_version``, ``event_id``, ``delimiter`` (2.0), and
every attribute under its own name (``src``, ``dst``, ``srcPort``, ``dstPort``, ``usrName``, ``proto``,
``devTime``, ``devTimeFormat``, ``sev``, ``cat``, ``action``, ...). Sigma taxonomy names: ``src_ip``,
``dst_ip``, ``src_port``, ``dst_port``, ``action`` (the attribute as written, when the device sends one) and
``blocked`` (from ``action``). ECS: ``source.*``/``destination.*`` (ip, port, mac, bytes, NAT addresses from
``srcPostNAT``/``dstPostNAT``), ``network.transport``, ``network.packets``, ``network.bytes``, ``user.name``
(``usrName``), ``url.original``, ``rule.name`` (``policy``), ``event.code`` (the event id),
``event.severity`` (``sev``), ``event.action``, ``event.category``/``type``/``outcome``, ``observer.vendor``/
``product``/``version``. ``@timestamp`` from ``devTime`` read with ``devTimeFormat`` (Java date pattern), or as
epoch milliseconds or ``MMM dd yyyy HH:mm:ss`` without one; else the syslog time.

Logsource: as for CEF, ``category: firewall`` when the event holds a connection (an address and a destination
port or an action), else none. A line starting ``LEEF:`` whose header is cut short is a bad record.
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
    java_time,
    merge_payload,
    network,
    port,
    verdict,
    verdict_of,
)
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed, logsource
from yamori.parsers.cef import parse_extension

__all__ = ["LeefParser"]

_FIREWALL = logsource(None, "firewall")
_START = re.compile(r"LEEF:\s?(?P<version>[12]\.0)\|(?P<vendor>[^|]*)\|(?P<product>[^|]*)\|(?P<pversion>[^|]*)\|"
                    r"(?P<event>[^|]*)\|")
_DELIMITER = re.compile(r"(?P<delimiter>[^|=]{0,4})\|")
_HEX = re.compile(r"(?:0?x)([0-9A-Fa-f]{2})")


def _delimiter(spec: str) -> str | None:
    """The attribute delimiter a LEEF 2.0 header names; None when it names none that can be used."""
    if spec == "":
        return "\t"
    hexadecimal = _HEX.fullmatch(spec)
    if hexadecimal is not None:
        return chr(int(hexadecimal[1], 16))
    if spec in ("\\t", "tab"):
        return "\t"
    return spec if len(spec) == 1 else None


def _attributes(text: str, delimiter: str, lenient: bool) -> dict[str, str]:
    if lenient and delimiter not in text and " " in text:
        return parse_extension(text)
    pairs: dict[str, str] = {}
    for part in text.split(delimiter):
        key, equals, value = part.partition("=")
        key = key.strip()
        if equals and key:
            pairs[key] = value
    return pairs


class LeefParser(MessageParser):
    """LEEF 1.0 and 2.0 events."""

    name = "leef"
    family = Family.FIREWALL
    description = "IBM QRadar LEEF 1.0 and 2.0 (custom delimiters) in syslog or bare lines"
    logsources = (_FIREWALL, UNKNOWN_LOGSOURCE)
    bare = True
    priority = 21
    ecs: ClassVar[dict[str, str]] = {
        "srcMAC": "source.mac", "dstMAC": "destination.mac", "usrName": "user.name",
        "srcPostNAT": "source.nat.ip", "dstPostNAT": "destination.nat.ip", "url": "url.original",
        "policy": "rule.name", "event_id": "event.code", "action": "event.action", "vendor": "observer.vendor",
        "product": "observer.product", "product_version": "observer.version", "identHostName": "host.name",
    }

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        program_is_tag = False
        if envelope.program == "LEEF" and message[:1].isdigit():
            text = "LEEF:" + message  # "host LEEF:1.0|...": the syslog header parser read "LEEF" as the program
            program_is_tag = True
        else:
            position = message.find("LEEF:")
            if position < 0 or position > 64 or (position and " " not in message[position - 1:position]):
                return None
            text = message[position:]
        start = _START.match(text)
        if start is None:
            if text.startswith(("LEEF:1.0|", "LEEF:2.0|")):
                raise Malformed("LEEF header without vendor, product, version and event id")
            return None
        version = start["version"]
        rest = text[start.end():]
        delimiter = "\t"
        named: str | None = None
        if version == "2.0":
            spec = _DELIMITER.match(rest)
            if spec is not None:
                chosen = _delimiter(spec["delimiter"])
                if chosen is not None:
                    delimiter, named = chosen, spec["delimiter"]
                    rest = rest[spec.end():]
        fields = envelope_fields(envelope, text, program_is_tag=program_is_tag)
        fields["leef_version"] = version
        fields["vendor"], fields["product"] = start["vendor"], start["product"]
        fields["product_version"], fields["event_id"] = start["pversion"], start["event"]
        if named is not None:
            fields["delimiter"] = named
        merge_payload(fields, _attributes(rest, delimiter, version == "1.0"), "leef")
        self._normalize(fields)
        timestamp = self._time(fields, context) or envelope.timestamp
        connection = bool((fields.get("src") or fields.get("dst"))
                          and (fields.get("dstPort") or fields.get("action")))
        finish_fields(fields, self)
        return Parsed(fields, _FIREWALL if connection else UNKNOWN_LOGSOURCE, timestamp)

    @staticmethod
    def _time(fields: dict[str, Any], context: ParseContext) -> str | None:
        written = fields.get("devTime")
        if not written:
            return None
        pattern = fields.get("devTimeFormat")
        if pattern:
            moment = java_time(written, pattern)
            if moment is not None:
                return moment
        return device_time(written, context.reference_time)

    @staticmethod
    def _normalize(fields: dict[str, Any]) -> None:
        network(fields, fields.get("src"), port(fields.get("srcPort")), fields.get("dst"),
                port(fields.get("dstPort")), fields.get("proto"))
        action = fields.get("action")
        allowed = verdict_of(action)
        if allowed is not None or "dst_ip" in fields:
            verdict(fields, allowed)
        else:
            fields["event.kind"] = "event"
        severity = as_int(fields.get("sev"))
        if severity is not None:
            fields["event.severity"] = severity
        for key, ecs in (("srcBytes", "source.bytes"), ("dstBytes", "destination.bytes"),
                         ("totalPackets", "network.packets"), ("srcPostNATPort", "source.nat.port"),
                         ("dstPostNATPort", "destination.nat.port")):
            value = as_int(fields.get(key))
            if value is not None:
                fields[ecs] = value
        if "source.bytes" in fields or "destination.bytes" in fields:
            fields["network.bytes"] = fields.get("source.bytes", 0) + fields.get("destination.bytes", 0)


PARSERS = (LeefParser(),)
