"""Snort alerts: the "fast" alert format of Snort 2 and Snort 3, as a file and as syslog messages.

Forms read:

* ``alert_fast`` files (Snort 2 and 3), one alert a line::

      11/28-03:00:00.123456  [**] [1:2019401:3] ET POLICY Java Version [**] [Classification: Potential
      Corporate Privacy Violation] [Priority: 1] {TCP} 10.0.0.5:51234 -> 203.0.113.9:443

  The time has no year (resolved against the file's modification time, ``context.reference_time``) unless
  Snort ran with ``-y`` (``11/28/26-03:00:00.123456``); it is taken as UTC. Snort 3 writes the message in
  double quotes (removed), may add ``[AppID: ...]``, and in IPS mode an action in brackets before ``[**]``
  (``[Drop]``, ``[would drop]``). Classification and priority are optional; ICMP and other port-less protocols
  have no ports; IPv6 addresses may be bracketed (``[2001:db8::1]:443``) or bare (the port is then after the
  last colon for TCP/UDP/SCTP).
* syslog lines from the program ``snort`` (``alert_syslog``), whose message is the same text without time and
  usually without the ``[**]`` markers, optionally with ``: <interface>`` before the protocol::

      Nov 28 03:00:00 ids01 snort[812]: [1:2019401:3] ET POLICY Java Version [Classification: ...]
      [Priority: 1]: <eth0> {TCP} 10.0.0.5:51234 -> 203.0.113.9:443

  The time is the syslog envelope's. Other messages of ``snort`` (start-up, statistics) are left to the generic
  syslog event.

Fields (Snort has no field names of its own; these follow Suricata's where they exist): ``timestamp`` (as
written, fast format), ``action``, ``gid``, ``sid``, ``rev`` (ints), ``msg``, ``classification``, ``priority``
(int), ``appid``, ``interface``, ``proto``, ``src_ip``, ``src_port``, ``dest_ip``, ``dest_port`` (ports as
int); syslog lines add the envelope's fields (``host``, ``program``, ``pid``, ...).
ECS: ``event.kind: alert``, ``event.category: [network, intrusion_detection]``, ``event.type`` (``denied`` for
drop/block/reject actions, ``info`` otherwise), ``event.action``, ``event.severity`` (the priority: 1 is the
highest, like Suricata's ``alert.severity``), ``rule.id`` (the sid; ``gid:sid`` for generators other than 1),
``rule.version`` (rev), ``rule.name`` (msg), ``rule.category`` (classification), ``source.ip/port``,
``destination.ip/port``, ``network.transport``, ``network.protocol`` (AppID), ``observer.*`` (``type: ids``,
``product: Snort``, ``ingress.interface.name``).

Sigma logsource: ``product: snort, category: ids`` (``ids`` is Yamori's category for IDS/IPS alerts, shared with
Suricata's alerts; see :mod:`yamori.parsers.suricata`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from yamori.events import BadRecord, LogSource
from yamori.parsers.base import (
    Envelope,
    Family,
    Malformed,
    MessageParser,
    ParseContext,
    Parsed,
    TextParser,
)
from yamori.parsers.suricata import IDS_CATEGORY
from yamori.parsers.syslog import syslog_fields
from yamori.parsers.timestamps import parse_month_day, utc_iso

__all__ = ["SnortFastParser", "SnortSyslogParser", "match_alert", "parse_alert"]

LOGSOURCE = LogSource(product=("snort",), category=(IDS_CATEGORY,))

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TIME = (r"(?P<ts>(?P<mon>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{2}|\d{4}))?-"
         r"(?P<clock>\d{1,2}:\d{2}:\d{2}(?:\.\d{1,9})?))")
_BODY = (
    r"(?:\[(?P<action>[A-Za-z][A-Za-z _-]*)\]\s*)?"
    r"(?:\[\*\*\]\s*)?"
    r"\[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\]\s*(?P<msg>.*?)\s*"
    r"(?:\[\*\*\]\s*)?"
    r"(?:\[Classification:\s*(?P<class>[^\]]*?)\s*\]\s*)?"
    r"(?:\[Priority:\s*(?P<prio>\d+)\s*\]\s*)?"
    r"(?:\[AppID:\s*(?P<appid>[^\]]*?)\s*\]\s*)?"
    r"(?::?\s*<(?P<iface>[^>]*)>\s*)?:?\s*"
    r"\{(?P<proto>[^}\s]+)\}\s+(?P<src>\S+)\s+->\s+(?P<dst>\S+)\s*$"
)
_FAST = re.compile(_TIME + r"\s+" + _BODY)
_MESSAGE = re.compile(r"(?:" + _TIME + r"\s+)?" + _BODY)
# The same, in two steps without the lazy message (which makes the one-regex match slow): the head up to the
# message, the message up to the first marker that follows it, the tail from there. Lines the two steps do not
# read are given to the one-regex form, so both read the same lines the same way.
_HEAD = (r"(?:\[(?P<action>[A-Za-z][A-Za-z _-]*)\]\s*)?(?:\[\*\*\]\s*)?"
         r"\[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\]\s*")
_FAST_HEAD = re.compile(_TIME + r"\s+" + _HEAD)
_MESSAGE_HEAD = re.compile(r"(?:" + _TIME + r"\s+)?" + _HEAD)
_TAIL = re.compile(
    r"(?:\[\*\*\]\s*)?"
    r"(?:\[Classification:\s*(?P<class>[^\]]*?)\s*\]\s*)?"
    r"(?:\[Priority:\s*(?P<prio>\d+)\s*\]\s*)?"
    r"(?:\[AppID:\s*(?P<appid>[^\]]*?)\s*\]\s*)?"
    r"(?::?\s*<(?P<iface>[^>]*)>\s*)?:?\s*"
    r"\{(?P<proto>[^}\s]+)\}\s+(?P<src>\S+)\s+->\s+(?P<dst>\S+)\s*$"
)
_MARKERS = ("[**]", "[Classification:", "[Priority:", "[AppID:")
_LOOKS_LIKE_FAST = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?-\d{1,2}:\d{2}:\d{2}\S*\s+(?:\[[^\]]*\]\s*)?\[\*\*\]")
_PORTED = frozenset(("TCP", "UDP", "SCTP"))
_DENIED_ACTIONS = frozenset(("drop", "block", "reject", "sdrop"))
_OBSERVER = {"observer.type": "ids", "observer.vendor": "Cisco", "observer.product": "Snort"}


def _endpoint(text: str, proto: str) -> tuple[str, int | None]:
    """``10.0.0.5:51234`` / ``[2001:db8::1]:443`` / ``2001:db8::1:443`` / ``10.0.0.5`` to (address, port)."""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if not rest:
            return address, None
        if not rest.startswith(":") or not rest[1:].isdigit():
            raise Malformed(f"not an address and port: {text!r}")
        return address, int(rest[1:])
    colons = text.count(":")
    if colons == 0:
        return text, None
    if colons == 1 or proto.upper() in _PORTED:
        address, _, port = text.rpartition(":")
        if port.isdigit() and address:
            return address, int(port)
        if colons == 1:
            raise Malformed(f"not an address and port: {text!r}")
    return text, None


def match_alert(line: str, fast: bool) -> dict[str, Any] | None:
    """The parts of one alert (``ts``, ``gid``, ``msg``, ``proto``, ``src``, ...); None when ``line`` is not one.

    ``fast``: a line of an alert_fast file (the time required); otherwise a syslog message (time optional)."""
    head = (_FAST_HEAD if fast else _MESSAGE_HEAD).match(line)
    if head is not None:
        start = head.end()
        end = len(line)
        for marker in _MARKERS:
            found = line.find(marker, start, end)
            if found >= 0:
                end = found
        if end < len(line):  # no marker: the one-regex form finds where the message ends
            tail = _TAIL.match(line, end)
            if tail is not None:
                groups = head.groupdict()
                groups.update(tail.groupdict())
                groups["msg"] = line[start:end].rstrip()
                return groups
    match = (_FAST if fast else _MESSAGE).match(line)
    return match.groupdict() if match is not None else None


def parse_alert(match: dict[str, Any]) -> dict[str, Any]:
    """The fields of one alert from its parts (:func:`match_alert`; the time is not resolved here)."""
    proto = match["proto"]
    source, source_port = _endpoint(match["src"], proto)
    destination, destination_port = _endpoint(match["dst"], proto)
    message = match["msg"]
    if len(message) >= 2 and message[0] == '"' and message[-1] == '"':
        message = message[1:-1]
    sid = match["sid"]
    fields: dict[str, Any] = {
        "gid": int(match["gid"]), "sid": int(sid), "rev": int(match["rev"]), "msg": message, "proto": proto,
        "src_ip": source, "dest_ip": destination,
        "event.kind": "alert", "event.category": ["network", "intrusion_detection"],
        "rule.id": sid if match["gid"] == "1" else f"{match['gid']}:{sid}", "rule.version": match["rev"],
        "rule.name": message,
        "source.ip": source, "destination.ip": destination, "network.transport": proto.lower(),
    }
    fields.update(_OBSERVER)
    action = match["action"]
    if action:
        lowered = action.lower()
        fields["action"] = fields["event.action"] = lowered
        fields["event.type"] = ["denied"] if lowered in _DENIED_ACTIONS else ["info"]
    else:
        fields["event.type"] = ["info"]
    if source_port is not None:
        fields["src_port"] = fields["source.port"] = source_port
    if destination_port is not None:
        fields["dest_port"] = fields["destination.port"] = destination_port
    if match["class"]:
        fields["classification"] = fields["rule.category"] = match["class"]
    if match["prio"]:
        fields["priority"] = fields["event.severity"] = int(match["prio"])
    if match["appid"]:
        fields["appid"] = match["appid"]
        fields["network.protocol"] = match["appid"].lower()
    if match["iface"]:
        fields["interface"] = fields["observer.ingress.interface.name"] = match["iface"]
    return fields


def _time(match: dict[str, Any], context: ParseContext) -> str | None:
    month = int(match["mon"])
    if not 1 <= month <= 12:
        return None
    year_text = match["year"]
    year = None
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    moment = parse_month_day(_MONTH_NAMES[month - 1], int(match["day"]), match["clock"],
                             context.reference_time, year)
    return utc_iso(moment) if moment is not None else None


class SnortFastParser(TextParser):
    """Snort 2/3 ``alert_fast`` files."""

    name = "snort"
    family = Family.IDS
    description = "Snort 2 and 3 fast alerts (alert_fast files)"
    logsources = (LOGSOURCE,)
    priority = 20  # its sniff is specific (a time, then [**]): asked before looser text formats

    SNIFF_SHARE: ClassVar[float] = 0.5

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        if not lines:
            return False
        known = sum(1 for line in lines if _LOOKS_LIKE_FAST.match(line))
        return known >= max(1, len(lines) * self.SNIFF_SHARE)

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        for number, line in lines:
            match = match_alert(line, True)
            if match is None:
                yield context.bad(number, "not a Snort fast alert line", line)
                continue
            try:
                fields = parse_alert(match)
            except Malformed as error:
                yield context.bad(number, str(error), line)
                continue
            timestamp = _time(match, context)
            if timestamp is None:
                yield context.bad(number, f"not a valid time: {match['ts']!r}", line)
                continue
            fields["timestamp"] = match["ts"]
            fields["event.dataset"] = "snort.alert"
            yield Parsed(fields, LOGSOURCE, timestamp, str(number), line)


class SnortSyslogParser(MessageParser):
    """Snort alerts sent to syslog (program ``snort``)."""

    name = "snort_syslog"
    family = Family.IDS
    description = "Snort alerts in syslog (alert_syslog, program snort)"
    logsources = (LOGSOURCE,)
    programs = frozenset(("snort", "snort3"))
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if "[" not in message or "->" not in message:
            return None
        match = match_alert(message, False)
        if match is None:
            return None
        fields = syslog_fields(envelope, message)
        fields.update(parse_alert(match))
        timestamp = envelope.timestamp
        if match["ts"]:
            fields["alert_time"] = match["ts"]
            timestamp = _time(match, context) or timestamp
        fields["event.module"] = "snort"
        fields["event.dataset"] = "snort.alert"
        return Parsed(fields, LOGSOURCE, timestamp)


PARSERS = (SnortFastParser(), SnortSyslogParser())
