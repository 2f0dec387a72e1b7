"""pfSense and OPNsense packet filter logs: the ``filterlog`` CSV (pfSense 2.2 and later, every OPNsense).

Owns syslog messages of the program ``filterlog`` (BSD or RFC 5424 header, as the firewalls send them and as
``/var/log/filter.log`` stores them), and bare CSV lines of the same layout (one exported without its header).

Layout (Netgate's "Raw Filter Log Format"), comma-separated, its length depending on IP version and protocol:

* common: rule number, sub rule number, anchor, tracker (a number on pfSense, a 32-character hash on OPNsense),
  real interface, reason, action (``pass``, ``block``, ``reject``, ``match``...), direction (``in``/``out``),
  IP version (``4``/``6``);
* IPv4: TOS, ECN, TTL, ID, offset, flags, protocol id, protocol text; IPv6: class, flow label, hop limit,
  protocol text, protocol id; then for both: length, source IP, destination IP;
* TCP (6) and UDP (17): source port, destination port, data length; TCP also flags, sequence number, ack,
  window, urg, options;
* ICMP (1): ICMP type text, then by type: ``request``/``reply`` id, sequence; ``unreachproto`` destination IP,
  protocol id; ``unreachport`` destination IP, protocol id, port; ``needfrag`` destination IP, MTU;
  ``tstamp`` id, sequence; ``tstampreply`` id, sequence, otime, rtime, ttime; any other type a description;
* CARP (112): type, TTL, VHID, version, advskew, advbase;
* any other protocol (IGMP, ICMPv6, GRE, ESP, ...): the rest of the line as ``data`` (``datalength=N`` read).

Fields (names after the documentation): ``rule_number``, ``sub_rule_number``, ``anchor``, ``tracker``,
``interface``, ``reason``, ``action``, ``direction``, ``ip_version``, ``tos``, ``ecn``, ``ttl``, ``id``,
``offset``, ``flags``, ``class``, ``flow_label``, ``hop_limit``, ``protocol_id``, ``protocol``, ``length``,
``src_ip``, ``dst_ip``, ``src_port``, ``dst_port`` (ints), ``data_length``, ``tcp_flags``, ``sequence_number``,
``ack_number``, ``window``, ``urg``, ``options``, ``icmp_type``, ``icmp_id``, ``icmp_sequence``,
``icmp_destination``, ``icmp_protocol_id``, ``icmp_port``, ``icmp_mtu``, ``icmp_description``, ``icmp_otime``,
``icmp_rtime``, ``icmp_ttime``, ``carp_type``, ``carp_ttl``, ``vhid``, ``carp_version``, ``advskew``,
``advbase``, ``data``. ``src_ip``/``dst_ip``/``src_port``/``dst_port`` are also the Sigma taxonomy names;
``action`` keeps the firewall's own word (``pass``/``block``/``reject``) and ``blocked`` (bool) gives the
verdict in taxonomy form. ECS: ``source.*``, ``destination.*``, ``network.transport``/``type``/
``iana_number``/``bytes`` (the packet length), ``network.direction`` (``in`` -> ``ingress``, ``out`` ->
``egress``: the direction on the interface), ``observer.ingress/egress.interface.name``, ``rule.id`` (the
tracker), ``rule.ruleset`` (the anchor), ``event.action``, ``event.reason``, ``event.category`` ``[network]``,
``event.type``, ``event.outcome``, ``observer.name``/``hostname`` (the syslog host), ``observer.vendor``/
``product`` (Deciso OPNsense when the tracker is a hash, else Netgate pfSense).

Logsource ``category: firewall`` (SigmaHQ has no pfSense product). A ``filterlog`` message that is CSV but not
of this layout (an unknown action, direction or IP version, too few fields) is a bad record; a ``filterlog``
message that is not CSV at all (a daemon notice) is left to the generic syslog parser.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from yamori.parsers._firewall import envelope_fields, finish_fields, network, port, verdict, verdict_of
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed, logsource

__all__ = ["FilterlogParser"]

_FIREWALL = logsource(None, "firewall")
_BARE_LINE = re.compile(r"\d+,\d*,[^,]*,[^,]*,[^,]+,[a-z0-9-]+,[a-z-]+,(?:in|out),[46],")
_HASH_TRACKER = re.compile(r"[0-9a-f]{32}")
_DIRECTIONS = {"in": "ingress", "out": "egress"}
_COMMON = ("rule_number", "sub_rule_number", "anchor", "tracker", "interface", "reason", "action", "direction",
           "ip_version")
_IPV4 = ("tos", "ecn", "ttl", "id", "offset", "flags", "protocol_id", "protocol", "length", "src_ip", "dst_ip")
_IPV6 = ("class", "flow_label", "hop_limit", "protocol", "protocol_id", "length", "src_ip", "dst_ip")
_TCP = ("src_port", "dst_port", "data_length", "tcp_flags", "sequence_number", "ack_number", "window", "urg",
        "options")
_UDP = ("src_port", "dst_port", "data_length")
_CARP = ("carp_type", "carp_ttl", "vhid", "carp_version", "advskew", "advbase")
_ICMP = {
    "request": ("icmp_id", "icmp_sequence"),
    "reply": ("icmp_id", "icmp_sequence"),
    "unreachproto": ("icmp_destination", "icmp_protocol_id"),
    "unreachport": ("icmp_destination", "icmp_protocol_id", "icmp_port"),
    "needfrag": ("icmp_destination", "icmp_mtu"),
    "tstamp": ("icmp_id", "icmp_sequence"),
    "tstampreply": ("icmp_id", "icmp_sequence", "icmp_otime", "icmp_rtime", "icmp_ttime"),
}
_ACTIONS = frozenset({"pass", "block", "reject", "match", "scrub", "nat", "rdr", "binat", "synproxy-drop",
                      "drop"})


def _assign(fields: dict[str, Any], names: tuple[str, ...], values: list[str], start: int) -> int:
    """Assign ``values[start:]`` to ``names`` (as many as there are; empty values are left out); returns the
    next index."""
    end = min(len(values), start + len(names))
    for offset in range(end - start):
        value = values[start + offset]
        if value:
            fields[names[offset]] = value
    return end


class FilterlogParser(MessageParser):
    """pfSense/OPNsense ``filterlog`` CSV lines."""

    name = "pfsense_filterlog"
    family = Family.FIREWALL
    description = "pfSense and OPNsense filterlog CSV (IPv4/IPv6; TCP, UDP, ICMP, CARP, other protocols)"
    logsources = (_FIREWALL,)
    programs: ClassVar[frozenset[str]] = frozenset({"filterlog"})
    bare = True
    priority = 30
    ecs: ClassVar[dict[str, str]] = {"tracker": "rule.id", "anchor": "rule.ruleset", "reason": "event.reason"}

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        text = message.strip()
        if envelope.program is None:  # bare: only a line that starts as this CSV does
            if _BARE_LINE.match(text) is None:
                return None
        elif text.count(",") < 8:
            return None  # not CSV: a filterlog notice, left to the generic syslog parser
        values = text.split(",")
        action, direction, version = values[6], values[7], values[8]
        if action not in _ACTIONS or direction not in _DIRECTIONS or version not in ("4", "6"):
            raise Malformed("filterlog CSV with an unknown action, direction or IP version")
        if len(values) < (20 if version == "4" else 17):
            raise Malformed(f"filterlog CSV with {len(values)} fields, too few for IPv{version}")
        fields = envelope_fields(envelope, message)
        index = _assign(fields, _COMMON, values, 0)
        index = _assign(fields, _IPV4 if version == "4" else _IPV6, values, index)
        protocol_id = fields.get("protocol_id", "")
        if not protocol_id.isdigit():
            raise Malformed(f"filterlog CSV with protocol id {protocol_id!r}")
        rest = values[index:]
        self._protocol(fields, protocol_id, rest)
        src_port = port(fields.get("src_port"))
        dst_port = port(fields.get("dst_port"))
        if src_port is not None:
            fields["src_port"] = src_port
        if dst_port is not None:
            fields["dst_port"] = dst_port
        network(fields, fields.get("src_ip"), src_port, fields.get("dst_ip"), dst_port, protocol_id)
        allowed = verdict_of(action) if action != "match" else None
        verdict(fields, allowed)
        fields["event.action"] = action
        fields["network.direction"] = _DIRECTIONS[direction]
        if "interface" in fields:
            side = "observer.ingress.interface.name" if direction == "in" else "observer.egress.interface.name"
            fields[side] = fields["interface"]
        length = port(fields.get("length"))
        if length is not None:
            fields["network.bytes"] = length
        opnsense = _HASH_TRACKER.fullmatch(fields.get("tracker", "")) is not None
        fields["observer.vendor"] = "Deciso" if opnsense else "Netgate"
        fields["observer.product"] = "OPNsense" if opnsense else "pfSense"
        fields["observer.type"] = "firewall"
        if "host.hostname" in fields:
            fields["observer.hostname"] = fields["observer.name"] = fields["host.hostname"]
        finish_fields(fields, self)
        return Parsed(fields, _FIREWALL, envelope.timestamp)

    @staticmethod
    def _protocol(fields: dict[str, Any], protocol_id: str, rest: list[str]) -> None:
        if protocol_id == "6":
            if len(rest) < 3:
                raise Malformed("filterlog TCP line without ports")
            _assign(fields, _TCP, rest, 0)
        elif protocol_id == "17":
            if len(rest) < 3:
                raise Malformed("filterlog UDP line without ports")
            _assign(fields, _UDP, rest, 0)
        elif protocol_id == "1":
            if not rest or not rest[0]:
                raise Malformed("filterlog ICMP line without ICMP type")
            icmp_type = fields["icmp_type"] = rest[0]
            names = _ICMP.get(icmp_type)
            if names is None:
                if len(rest) > 1:
                    fields["icmp_description"] = ",".join(rest[1:])
            else:
                _assign(fields, names, rest, 1)
        elif protocol_id == "112":
            _assign(fields, _CARP, rest, 0)
        else:
            data = ",".join(part for part in rest if part)
            if data:
                fields["data"] = data
                if data.startswith("datalength="):
                    fields["data_length"] = data[len("datalength="):]


PARSERS = (FilterlogParser(),)
