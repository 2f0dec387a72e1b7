"""Linux netfilter packet logs (iptables/ip6tables ``LOG``, nftables ``log``, UFW, firewalld, ulogd).

Owns messages carrying the netfilter payload (``IN=... OUT=... SRC=... DST=...``), whatever the syslog
program (``kernel``; ``ulogd``; none, as ``dmesg --time-format iso`` writes), and bare lines as ``dmesg`` prints
them (the payload is distinctive, so the parser is asked for every syslog message and rejects others with one
substring test):

* ``Nov 28 03:00:00 host kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=... SRC=203.0.113.9
  DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID=54321 DF PROTO=TCP SPT=45678 DPT=22 WINDOW=64240
  RES=0x00 SYN URGP=0``
* bare: ``[12345.678901] IPTABLES-DROP: IN=...``, ``[Sat Nov 28 03:00:00 2026] [UFW BLOCK] IN=...``
  (``dmesg -T``), or without any prefix;
* ``2026-11-28T03:00:00,123456+00:00 IPTABLES-DROP: IN=...`` (``dmesg --time-format iso``): the syslog header
  parser reads the prefix (or ``IN=eth0 OUT=``) as host and program; the parser takes the text back from the line.

The payload must go on with ``MAC=``, ``SRC=`` or ``PHYSIN=``/``PHYSOUT=`` after ``OUT=``. A line with it but
without ``SRC`` or ``DST``, or with one that is no IP address (a line cut short), is a bad record.

Variants: IPv4 and IPv6 (``TC``, ``HOPLIMIT``, ``FLOWLBL``), TCP/UDP/ICMP/ICMPv6 (``TYPE``, ``CODE``, ``ID``,
``SEQ``, ``MTU``) and other protocols (``PROTO=47``), bridge logs (``PHYSIN``/``PHYSOUT``), ``MARK``,
``UID``/``GID`` of locally generated packets; the packet quoted inside an ICMP error (``[SRC=... ]``) is kept
whole as ``inner`` and not mistaken for the logged packet; a key repeated after ``PROTO=`` belongs to the
transport header and is kept as ``<PROTO>_<KEY>`` (``ICMP_ID``, ``UDP_LEN``).

Fields: every ``KEY=value`` of the payload under its own name (``IN``, ``OUT``, ``MAC``, ``SRC``, ``DST``,
``LEN``, ``TTL``, ``PROTO``, ``SPT``, ``DPT``, ``TYPE``, ``CODE``, ...; values as written), ``prefix`` (the
log prefix as written, ``[UFW BLOCK]``), ``uptime`` (the kernel's seconds since boot), ``ip_flags`` (``CE``,
``DF``, ``MF``) and ``tcp_flags`` (``SYN``, ``ACK``, ...) as lists; Sigma taxonomy names ``src_ip``, ``dst_ip``,
``src_port``, ``dst_port``, ``action`` and ``blocked``; ECS ``source.*``/``destination.*`` (ip, port, mac),
``network.transport``/``type``/``iana_number``/``bytes`` (the packet's ``LEN``)/``direction``
(``ingress`` with only ``IN``, ``egress`` with only ``OUT``), ``observer.ingress/egress.interface.name``,
``observer.vendor``/``product``/``type`` (Linux, netfilter, firewall), ``observer.name``/``hostname`` (the host),
``rule.name`` (the prefix), ``event.action``, ``event.category`` ``[network]``, ``event.type``, ``event.outcome``.

The verdict comes from the log prefix, the only place a netfilter log says it: a word such as BLOCK, DROP,
DENY, REJECT (``[UFW BLOCK]``, ``IPTABLES-DROP:``, firewalld's ``FINAL_REJECT:``) gives ``blocked: true`` and
``action`` ``drop`` (``reject`` for REJECT); ACCEPT, ALLOW, PASS, PERMIT give ``blocked: false`` and ``action``
``accept``; a prefix without such a word (``[UFW AUDIT]``, none) leaves both unset.

Logsource: ``category: firewall`` (what SigmaHQ's firewall rules select) with ``product: linux``, plus
``service: syslog`` when the line came through syslog (it has a program). The product is kept because these
lines are the Linux kernel's log: without it, claiming them as firewall events would hide them from the Linux
rules (keyword rules over kernel messages, ``product: linux, service: syslog`` rules) that the generic syslog
parser lets see them.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from yamori.events import LogSource
from yamori.parsers._firewall import envelope_fields, finish_fields, network, port, verdict, verdict_of
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed
from yamori.parsers.timestamps import parse_month_day, utc_iso

__all__ = ["NetfilterParser"]

_SYSLOG_SOURCE = LogSource(product=("linux",), category=("firewall",), service=("syslog",))
_BARE_SOURCE = LogSource(product=("linux",), category=("firewall",))

_PAYLOAD = re.compile(r"(?<![A-Za-z])IN=(?P<in>\S*) OUT=(?P<out>\S*)(?= (?:MAC|SRC|PHYSIN|PHYSOUT|ARP)\b)")
_BARE_HEAD = re.compile(
    r"\s*(?:\[\s*(?P<uptime>\d+\.\d+)\]|\[(?:[A-Za-z]{3} )?(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2}) "
    r"(?P<clock>\d{2}:\d{2}:\d{2})(?:\.\d+)? (?P<year>\d{4})\])?\s*(?:(?P<host>[^\s\[\]:]+) kernel: )?")
_PROGRAMS = frozenset({"kernel", "ulogd", "ulogd2"})
_UPTIME = re.compile(r"\s*\[\s*(\d+\.\d+)\]\s*")
_INNER = re.compile(r"\[(SRC=[^\]]*)\]")
_ADDRESS = re.compile(r"[0-9A-Fa-f:.]+")
_IP_FLAGS = frozenset({"CE", "DF", "MF"})
_TCP_FLAGS = frozenset({"CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"})
_REJECT = re.compile(r"reject", re.IGNORECASE)


def _mac(value: str) -> tuple[str, str] | None:
    """(destination, source) MAC of netfilter's ``MAC=`` (destination:source:ethertype, 14 bytes)."""
    parts = value.split(":")
    if len(parts) < 12:
        return None
    return "-".join(parts[:6]).upper(), "-".join(parts[6:12]).upper()


class NetfilterParser(MessageParser):
    """iptables/nftables/UFW/firewalld ``LOG`` lines of the Linux kernel."""

    name = "netfilter"
    family = Family.FIREWALL
    description = "Linux netfilter packet logs (iptables, nftables, UFW, firewalld) from syslog or dmesg"
    logsources = (_SYSLOG_SOURCE, _BARE_SOURCE)
    bare = True
    priority = 30
    ecs: ClassVar[dict[str, str]] = {"IN": "observer.ingress.interface.name",
                                     "OUT": "observer.egress.interface.name"}

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        line = envelope.line or message
        if "IN=" not in line:
            return None
        program = envelope.program
        misread = program is not None and program.lower() not in _PROGRAMS and (
            envelope.host is None or "=" in program or "=" in envelope.host)
        if misread:
            # a time-stamped line without a program ("dmesg --time-format iso"): the syslog header parser took the
            # log prefix ("IPTABLES-DROP:") or the payload's start ("IN=eth0 OUT=") for host and program
            start_of_text = line.find(envelope.host or program or "")
            message = line[start_of_text:] if start_of_text >= 0 else message
        payload = _PAYLOAD.search(message)
        if payload is None:
            return None
        head = message[:payload.start()]
        is_bare = envelope.original_time is None and envelope.program is None
        timestamp = envelope.timestamp
        uptime: str | None = None
        host: str | None = None
        if is_bare:
            start = _BARE_HEAD.match(head)
            if start is None:  # the pattern matches any start (every part optional)
                return None
            uptime = start["uptime"]
            host = start["host"]
            if start["mon"]:
                moment = parse_month_day(start["mon"], int(start["day"]), start["clock"], context.reference_time,
                                         int(start["year"]))
                timestamp = utc_iso(moment) if moment is not None else None
            prefix = head[start.end():].strip()
            if len(prefix) > 64 or "=" in prefix:
                return None  # a bare line is claimed only when it is a kernel log line
        else:
            start_uptime = _UPTIME.match(head)
            if start_uptime is not None:
                uptime = start_uptime[1]
                head = head[start_uptime.end():]
            prefix = head.strip()
        fields = envelope_fields(envelope, message, program_is_tag=misread)
        if misread:
            fields.pop("host", None)
            fields.pop("host.hostname", None)
        if host:
            fields["host"] = fields["host.hostname"] = host
        if uptime:
            fields["uptime"] = uptime
        if prefix:
            fields["prefix"] = prefix
            fields["rule.name"] = prefix.strip(" []:")
        fields["IN"] = payload["in"]
        fields["OUT"] = payload["out"]
        self._payload(message[payload.end():], fields)
        source = fields.get("SRC")
        destination = fields.get("DST")
        if not source or not destination:
            raise Malformed("netfilter log line without SRC or DST")
        if _ADDRESS.fullmatch(source) is None or _ADDRESS.fullmatch(destination) is None:
            raise Malformed("netfilter log line with a SRC or DST that is no IP address")
        network(fields, source, port(fields.get("SPT")), destination, port(fields.get("DPT")), fields.get("PROTO"))
        allowed = verdict_of(prefix)
        verdict(fields, allowed)
        if allowed is True:
            fields["action"] = fields["event.action"] = "accept"
        elif allowed is False:
            fields["action"] = fields["event.action"] = "reject" if _REJECT.search(prefix) else "drop"
        else:
            fields["event.action"] = "log"
        length = port(fields.get("LEN"))
        if length is not None:
            fields["network.bytes"] = length
        if fields["IN"] and not fields["OUT"]:
            fields["network.direction"] = "ingress"
        elif fields["OUT"] and not fields["IN"]:
            fields["network.direction"] = "egress"
        mac = fields.get("MAC")
        if mac:
            pair = _mac(mac)
            if pair is not None:
                fields["destination.mac"], fields["source.mac"] = pair
        fields["observer.vendor"] = "Linux"
        fields["observer.product"] = "netfilter"
        fields["observer.type"] = "firewall"
        if "host.hostname" in fields:
            fields["observer.hostname"] = fields["observer.name"] = fields["host.hostname"]
        finish_fields(fields, self)
        return Parsed(fields, _SYSLOG_SOURCE if program is not None and not misread else _BARE_SOURCE, timestamp)

    @staticmethod
    def _payload(rest: str, fields: dict[str, Any]) -> None:
        inner = _INNER.search(rest)
        if inner is not None:
            fields["inner"] = inner[1].strip()
            rest = rest[:inner.start()] + rest[inner.end():]
        ip_flags: list[str] = []
        tcp_flags: list[str] = []
        protocol = ""
        for token in rest.split():
            key, equals, value = token.partition("=")
            if equals:
                if key not in fields:
                    fields[key] = value
                    if key == "PROTO":
                        protocol = value.upper()
                elif protocol:  # the transport header's own ID, LEN, ... (ICMP ID=, UDP LEN=)
                    fields.setdefault(f"{protocol}_{key}", value)
            elif token in _TCP_FLAGS:
                tcp_flags.append(token)
            elif token in _IP_FLAGS:
                ip_flags.append(token)
        if ip_flags:
            fields["ip_flags"] = ip_flags
        if tcp_flags:
            fields["tcp_flags"] = tcp_flags


PARSERS = (NetfilterParser(),)
