"""``key=value`` payloads: FortiGate logs, and any syslog message made of at least three ``key=value`` pairs.

Pairs are ``key=value``, ``key="a b"`` or ``key='a b'`` (``\\"`` and ``\\\\`` unescaped inside quotes), separated by
whitespace; a key starts with a letter or ``_`` and holds letters, digits, ``_``, ``.`` and ``-``.

**FortiGate** (FortiOS ``traffic``, ``event`` and ``utm`` logs), recognised by ``logid`` with ``devname`` or
``devid`` and ``type``, in syslog or bare (FortiOS sends ``<189>date=... time=... devname=...`` with no syslog
header; a header whose "program" is the first pair, ``fgt01 date=2026-11-28 ...``, is handled):

* fields: every pair under its own name (``date``, ``time``, ``tz``, ``eventtime``, ``devname``, ``devid``,
  ``logid``, ``type``, ``subtype``, ``level``, ``vd``, ``srcip``, ``srcport``, ``srcintf``, ``dstip``,
  ``dstport``, ``dstintf``, ``proto``, ``action``, ``policyid``, ``policyname``, ``service``, ``sentbyte``,
  ``rcvdbyte``, ``user``, ``cfgpath``, ``cfgobj``, ``cfgattr``, ``msg``, ``logdesc``, ``status``, ...; values as
  written) - the names SigmaHQ's fortigate rules use (``action``, ``cfgpath``);
* Sigma taxonomy names for traffic: ``src_ip``, ``dst_ip``, ``src_port``, ``dst_port`` (ints), ``action`` (the
  FortiGate word: ``accept``, ``deny``, ``close``, ``timeout``, ``server-rst``...) and ``blocked`` (``deny`` and
  other block words -> true; ``accept``, ``close``, ``timeout``, ``*-rst``, ``start`` -> false);
* ECS: ``source.*``/``destination.*`` (ip, port, mac, bytes, packets, ``geo.country_name``),
  ``network.transport``/``iana_number``/``protocol`` (``service``)/``bytes``/``packets``,
  ``observer.name``/``serial_number``/``vendor``/``product``/``type``, the interfaces, ``rule.id``/``name``/
  ``uuid`` (policy), ``event.code`` (``logid``), ``event.action``, ``event.duration``, ``log.level``,
  ``user.name``, ``url.domain``/``original``, ``event.category``/``type``/``outcome`` (traffic:
  network/connection; configuration changes: configuration/creation|change|deletion; logins:
  authentication with the outcome from ``status``);
* ``@timestamp`` from ``eventtime`` (seconds, micro- or nanoseconds), else ``date`` + ``time`` (+ ``tz``);
* logsource: ``product: fortigate`` with ``service:`` the log type (``traffic``, ``event``, ``utm``), and
  ``category: firewall`` for traffic logs. ``service: event`` is what SigmaHQ's FortiGate rules select.

**Generic** (lowest priority, syslog only): a message no other parser claims that holds at least three pairs;
the pairs become fields under their own names (winning over the syslog envelope's original names except
``message``), the logsource is the one the generic syslog parser would give (``product: linux, service:
syslog``), so no rule loses the line; nothing else is inferred.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from yamori.events import LogSource
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
from yamori.parsers.timestamps import parse_iso, utc_iso

__all__ = ["FortiGateParser", "KeyValueParser", "parse_pairs"]

_PAIR = re.compile(r"""\s([A-Za-z_][\w.\-]*)=("[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*'|[^\s"']*)""")
"""One pair, searched in the text with a space in front (a leading ``\\s`` is found faster than a lookbehind)."""
_QUOTED_ESCAPE = re.compile(r"""\\(["'\\])""")
_PRI = re.compile(r"<\d{1,3}>")

_FGT_TRAFFIC = LogSource(product=("fortigate",), category=("firewall",), service=("traffic",))
_FGT_EVENT = LogSource(product=("fortigate",), service=("event",))
_FGT_UTM = LogSource(product=("fortigate",), service=("utm",))
_FGT_OTHER = LogSource(product=("fortigate",))
_FGT_SOURCES = {"traffic": _FGT_TRAFFIC, "event": _FGT_EVENT, "utm": _FGT_UTM}
_LINUX_SYSLOG = logsource("linux", None, "syslog")
_CONFIG_TYPES = {"add": "creation", "edit": "change", "delete": "deletion", "move": "change", "set": "change",
                 "unset": "change"}


def parse_pairs(text: str) -> dict[str, str]:
    """The ``key=value`` pairs of a text (quotes removed and unescaped; the first of a repeated key wins)."""
    pairs: dict[str, str] = {}
    for match in _PAIR.finditer(" " + text):
        key, value = match[1], match[2]
        if value[:1] in ('"', "'") and len(value) >= 2:
            value = value[1:-1]
            if "\\" in value:
                value = _QUOTED_ESCAPE.sub(r"\1", value)
        if key not in pairs:
            pairs[key] = value
    return pairs


def _payload(message: str, envelope: Envelope) -> tuple[str, bool]:
    """The key=value text, and whether the syslog header's "program" was really its first pair."""
    program = envelope.program
    if program is not None and "=" in program:
        return f"{program} {message}", True
    return message, False


class FortiGateParser(MessageParser):
    """FortiGate (FortiOS) traffic, event and UTM logs."""

    name = "fortigate"
    family = Family.FIREWALL
    description = "FortiGate key=value logs (traffic, event, utm) in syslog or bare"
    logsources = (_FGT_TRAFFIC, _FGT_EVENT, _FGT_UTM, _FGT_OTHER)
    bare = True
    priority = 90
    ecs: ClassVar[dict[str, str]] = {
        "devname": "observer.name", "devid": "observer.serial_number", "srcintf": "observer.ingress.interface.name",
        "dstintf": "observer.egress.interface.name", "policyname": "rule.name", "poluuid": "rule.uuid",
        "logid": "event.code", "level": "log.level", "user": "user.name", "srcmac": "source.mac",
        "dstmac": "destination.mac", "srccountry": "source.geo.country_name",
        "dstcountry": "destination.geo.country_name", "hostname": "url.domain", "url": "url.original",
        "logdesc": "event.reason", "transip": "source.nat.ip",
    }

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if "logid=" not in message or ("devname=" not in message and "devid=" not in message):
            return None
        text, program_is_tag = _payload(message, envelope)
        bare = envelope.original_time is None and envelope.program is None
        if bare:
            head = _PRI.match(text)
            if head is not None:
                text = text[head.end():]
        if (text.count('"') - text.count('\\"')) % 2:
            raise Malformed("FortiGate log with an unterminated quoted value")
        pairs = parse_pairs(text)
        log_type = pairs.get("type")
        if "logid" not in pairs or log_type is None or ("devname" not in pairs and "devid" not in pairs):
            return None
        fields = envelope_fields(envelope, text, program_is_tag=program_is_tag)
        merge_payload(fields, pairs, "fortigate")
        fields["observer.vendor"] = "Fortinet"
        fields["observer.product"] = "FortiGate"
        fields["observer.type"] = "firewall"
        if log_type == "traffic":
            self._traffic(fields)
        elif log_type == "event":
            self._event(fields)
        else:
            self._utm(fields)
        timestamp = self._time(fields, context) or envelope.timestamp
        finish_fields(fields, self, f"fortigate.{log_type}")
        return Parsed(fields, _FGT_SOURCES.get(log_type, _FGT_OTHER), timestamp)

    @staticmethod
    def _time(fields: dict[str, Any], context: ParseContext) -> str | None:
        eventtime = fields.get("eventtime")
        if eventtime:
            moment = device_time(eventtime, context.reference_time)
            if moment is not None:
                return moment
        date, clock = fields.get("date"), fields.get("time")
        if not date or not clock:
            return None
        zone = str(fields.get("tz", ""))
        parsed = parse_iso(f"{date}T{clock}{zone if zone[:1] in ('+', '-') else ''}")
        return utc_iso(parsed) if parsed is not None else None

    @staticmethod
    def _network(fields: dict[str, Any]) -> None:
        src_port, dst_port = port(fields.get("srcport")), port(fields.get("dstport"))
        network(fields, fields.get("srcip"), src_port, fields.get("dstip"), dst_port, fields.get("proto"))
        for key, ecs in (("sentbyte", "source.bytes"), ("rcvdbyte", "destination.bytes"),
                         ("transport", "source.nat.port"), ("sentpkt", "source.packets"),
                         ("rcvdpkt", "destination.packets")):
            value = as_int(fields.get(key))
            if value is not None:
                fields[ecs] = value
        if "source.bytes" in fields or "destination.bytes" in fields:
            fields["network.bytes"] = fields.get("source.bytes", 0) + fields.get("destination.bytes", 0)
        if "source.packets" in fields or "destination.packets" in fields:
            fields["network.packets"] = fields.get("source.packets", 0) + fields.get("destination.packets", 0)
        policy = as_int(fields.get("policyid"))
        if policy is not None:
            fields["rule.id"] = str(policy)
        service = fields.get("service")
        if service:
            fields["network.protocol"] = service.lower()

    def _traffic(self, fields: dict[str, Any]) -> None:
        self._network(fields)
        action = fields.get("action")
        verdict(fields, verdict_of(action) if action != "ip-conn" else None)
        if action:
            fields["event.action"] = action
        duration = as_int(fields.get("duration"))
        if duration is not None:
            fields["event.duration"] = duration * 1_000_000_000
        direction = fields.get("direction")
        if direction in ("incoming", "outgoing"):
            fields["network.direction"] = "inbound" if direction == "incoming" else "outbound"

    def _event(self, fields: dict[str, Any]) -> None:
        fields["event.kind"] = "event"
        action = str(fields.get("action", ""))
        if action:
            fields["event.action"] = action.lower()
        if fields.get("srcip"):
            fields["source.ip"] = fields["srcip"]
        status = str(fields.get("status", "")).lower()
        if fields.get("cfgpath"):
            fields["event.category"] = ["configuration"]
            fields["event.type"] = [_CONFIG_TYPES.get(action.lower(), "change")]
        elif "login" in action.lower() or "logon" in str(fields.get("logdesc", "")).lower() or \
                "login" in str(fields.get("logdesc", "")).lower():
            fields["event.category"] = ["authentication"]
            fields["event.type"] = ["start"]
            if status in ("success", "failed", "failure"):
                fields["event.outcome"] = "success" if status == "success" else "failure"
            elif "fail" in action.lower():
                fields["event.outcome"] = "failure"
        else:
            fields["event.type"] = ["info"]

    def _utm(self, fields: dict[str, Any]) -> None:
        self._network(fields)
        fields["event.kind"] = "alert" if fields.get("subtype") in ("ips", "virus", "anomaly") else "event"
        action = fields.get("action")
        if action:
            fields["event.action"] = action
            allowed = verdict_of(action)
            if allowed is not None:
                fields["blocked"] = not allowed
        direction = fields.get("direction")
        if direction in ("incoming", "outgoing"):
            fields["network.direction"] = "inbound" if direction == "incoming" else "outbound"


class KeyValueParser(MessageParser):
    """Any syslog message of at least three ``key=value`` pairs that no other parser claims."""

    name = "keyvalue"
    family = Family.SYSLOG
    description = "Generic key=value syslog messages (at least three pairs)"
    logsources = (_LINUX_SYSLOG,)
    priority = 99  # after every other message parser, linux_authpriv (97) included
    MIN_PAIRS: ClassVar[int] = 3

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if message.count("=") + (envelope.program or "").count("=") < self.MIN_PAIRS:
            return None
        if envelope.original_time is None and envelope.program is None:
            return None  # bare lines are not claimed: any text with "=" would be
        text, program_is_tag = _payload(message, envelope)
        pairs = parse_pairs(text)
        if len(pairs) < self.MIN_PAIRS:
            return None
        fields = envelope_fields(envelope, text, program_is_tag=program_is_tag)
        merge_payload(fields, pairs, "kv")
        fields["event.kind"] = "event"
        finish_fields(fields, self)
        return Parsed(fields, _LINUX_SYSLOG, envelope.timestamp)


PARSERS = (FortiGateParser(), KeyValueParser())
