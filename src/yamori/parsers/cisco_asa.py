"""Cisco ASA and Firepower Threat Defense (FTD) syslog messages: ``%ASA-<severity>-<id>: text``.

Owns messages tagged ``%ASA-``, ``%FTD-``, ``%FWSM-`` or ``%PIX-`` (also with a class, ``%FTD-session-6-...``),
with any of the headers the devices write or none (``bare``, a file of messages):

* ``<166>Nov 28 2026 03:00:00 fw01 : %ASA-6-302013: Built ...`` (``logging timestamp`` with the year; the
  syslog header parser reads ``fw01`` as the program here, it is restored as the host),
* ``Nov 28 03:00:00 fw01 %ASA-6-302013: ...`` (the tag read as the program), RFC 5424 and ISO headers,
* ``%ASA-6-302013: ...`` alone (bare).

Message ids read into fields (the rest become events with their id, severity and text):

* connections (category firewall): built/teardown TCP and UDP 302013/302014/302015/302016, ICMP
  302020/302021; built connections are ``inbound`` (the first endpoint initiated) or ``outbound`` (the second
  did): source and destination follow the initiator. A teardown does not say who initiated: its first
  endpoint is taken as the source;
* denies (category firewall): 106001, 106006, 106007, 106014, 106015, 106023, 106100 (``permitted`` too),
  313001, 710003; threat-detection drop rates 733100; FTD connection events 430001-430005 (``Key: value``);
* NAT (category firewall): 305011/305012 (source is the real address, ``source.nat.*`` the mapped one);
* AAA and VPN logons (``event.category`` ``authentication``/``session``, ``user.name``, ``event.outcome``):
  113004, 113005, 113015, 113019, 611101, 611102, 605004, 605005, 716001, 716002, 722022, 722023, 722051,
  734001;
* configuration (``event.category`` ``configuration``): commands run, 111008, 111009, 111010.

Fields: ``message_id``, ``message_severity`` (int), ``message_class`` (FTD class), ``text`` (the message after
the tag), and per id: ``direction``, ``protocol``, ``connection_id``, ``src_interface``, ``dst_interface``,
``src_mapped_ip``/``src_mapped_port``/``dst_mapped_ip``/``dst_mapped_port``, ``src_user``/``dst_user``
(identity firewall), ``duration``, ``bytes``, ``reason``, ``tcp_flags``, ``icmp_type``, ``icmp_code``,
``acl``, ``hit_count``, ``service``, ``nat_type``, ``user``, ``group``, ``server``, ``session_type``,
``command``, ``application``, ... (the FTD ``Key: value`` pairs under their own names). Sigma taxonomy names
(firewall events): ``src_ip``, ``dst_ip``, ``src_port``, ``dst_port``, ``action`` (``accept`` for built,
torn down and permitted connections, ``deny`` for denies) and ``blocked``. ECS: ``event.code`` (the id),
``event.severity``, ``log.level``, ``source.*``/``destination.*`` (with ``nat.ip``/``nat.port``),
``network.*`` (``direction`` ``inbound``/``outbound``), ``observer.*`` (vendor Cisco, product ASA/FTD, the
interfaces), ``rule.name`` (the ACL), ``event.duration`` (ns), ``network.bytes``, ``user.name``,
``event.category``/``type``/``action``/``outcome``/``reason``. A message of a known id whose text does not have
its documented layout (cut short in transit) stays an event with its id and text and ``error.message`` saying
so; a ``%ASA-`` tag that is itself broken (no 6-digit id, severity above 7) is a bad record.

Logsources: ``product: cisco, service: asa`` for every message, with ``category: firewall`` for connection,
deny and NAT messages (the taxonomy's home of the SigmaHQ firewall rules). Commands run (111008-111010) also
get ``service: aaa``: SigmaHQ's ``cisco``/``aaa`` rules are keyword rules over the commands a device's AAA
command accounting records, and these messages are the ASA's record of every command run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from yamori.events import LogSource
from yamori.parsers._firewall import envelope_fields, finish_fields, network, port, verdict, verdict_of
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed

__all__ = ["CiscoAsaParser"]

_ASA = LogSource(product=("cisco",), service=("asa",))
_ASA_FIREWALL = LogSource(product=("cisco",), category=("firewall",), service=("asa",))
_ASA_COMMANDS = LogSource(product=("cisco",), service=("asa", "aaa"))

_TAG = re.compile(r"%(?P<family>ASA|FTD|FWSM|PIX)-(?:(?P<cls>[A-Za-z][A-Za-z_]*)-)?(?P<sev>[0-7])-"
                  r"(?P<id>\d{6})(?::|\s|$)\s*")
_LOOKS_LIKE_TAG = re.compile(r"%(?:ASA|FTD|FWSM|PIX)-")
_LEVELS = ("emergencies", "alerts", "critical", "errors", "warnings", "notifications", "informational",
           "debugging")
_PRODUCTS = {"ASA": "ASA", "FTD": "FTD", "FWSM": "FWSM", "PIX": "PIX"}
_SERVICE_PORTS = {"ssh": 22, "telnet": 23, "http": 80, "www": 80, "https": 443, "ftp": 21, "smtp": 25,
                  "domain": 53, "snmp": 161, "ldap": 389, "ldaps": 636, "netbios-ssn": 139, "sqlnet": 1521,
                  "rdp": 3389, "ntp": 123, "tftp": 69, "syslog": 514, "isakmp": 500, "imap4": 143, "pop3": 110}
_READ_ONLY_COMMANDS = ("show ", "more ", "dir", "ping ", "traceroute ", "packet-tracer ")

_EP = re.compile(r"(?P<ifc>[^:\s]+):(?P<ip>[^/\s]+)/(?P<port>\d+)(?:\s*\((?P<mip>[^/\s()]+)/(?P<mport>\d+)\))?"
                 r"(?:\s*\((?P<user>[^()]*)\))?(?:\s*\((?P<user2>[^()]*)\))?\s*$")
_FTD_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_ ]{0,40}")
_GROUP_USER_IP = r"Group <?(?P<group>[^<>]*?)>? User <?(?P<user>[^<>]*?)>? IP <?(?P<ip>[^<>\s]*?)>? "

Match = re.Match[str]
Fields = dict[str, Any]


def _duration_ns(text: str) -> int | None:
    parts = text.split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    hours, minutes, seconds = (int(part) for part in parts)
    return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000_000


def _service_port(service: str) -> int | None:
    number = port(service)
    return number if number is not None else _SERVICE_PORTS.get(service.lower())


def _endpoints(fields: Fields, src: Match, dst: Match, protocol: str) -> None:
    """Both endpoints of a connection message (``interface:ip/port (mapped/port) (user)``)."""
    for prefix, side, ecs in (("src", src, "source"), ("dst", dst, "destination")):
        fields[f"{prefix}_interface"] = side["ifc"]
        mapped_ip, mapped_port = side["mip"], side["mport"]
        if mapped_ip:
            fields[f"{prefix}_mapped_ip"] = mapped_ip
            fields[f"{prefix}_mapped_port"] = int(mapped_port)
            if mapped_ip != side["ip"] or mapped_port != side["port"]:
                fields[f"{ecs}.nat.ip"] = mapped_ip
                fields[f"{ecs}.nat.port"] = int(mapped_port)
        user = side["user"] or side["user2"]
        if user:
            fields[f"{prefix}_user"] = user
            fields[f"{ecs}.user.name"] = user
    fields["observer.ingress.interface.name"] = src["ifc"]
    fields["observer.egress.interface.name"] = dst["ifc"]
    network(fields, src["ip"], port(src["port"]), dst["ip"], port(dst["port"]), protocol)


def _allowed(fields: Fields, allowed: bool | None, event_action: str, *types: str) -> None:
    verdict(fields, allowed, *types)
    if allowed is True:
        fields["action"] = "accept"
    elif allowed is False:
        fields["action"] = "deny"
    fields["event.action"] = event_action


# --- connections -----------------------------------------------------------------------------------------------

def _built(m: Match, f: Fields) -> None:
    a, b = _EP.match(m["a"]), _EP.match(m["b"])
    if a is None or b is None:
        raise _Layout
    inbound = m["dir"] == "inbound"
    f["direction"], f["protocol"], f["connection_id"] = m["dir"], m["proto"], m["conn"]
    _endpoints(f, a if inbound else b, b if inbound else a, m["proto"])
    f["network.direction"] = m["dir"]
    _allowed(f, True, "connection-built", "start")


def _teardown(m: Match, f: Fields) -> None:
    a, b = _EP.match(m["a"]), _EP.match(m["b"])
    if a is None or b is None:
        raise _Layout
    f["protocol"], f["connection_id"], f["duration"] = m["proto"], m["conn"], m["duration"]
    f["bytes"] = f["network.bytes"] = int(m["bytes"])
    _endpoints(f, a, b, m["proto"])
    if m["reason"]:
        f["reason"] = f["event.reason"] = m["reason"]
    if m["user"]:
        f["user"] = f["user.name"] = m["user"]
    nanoseconds = _duration_ns(m["duration"])
    if nanoseconds is not None:
        f["event.duration"] = nanoseconds
    _allowed(f, True, "connection-teardown", "end")


def _icmp(m: Match, f: Fields) -> None:
    f["protocol"] = m["proto"]
    if m["conn"]:
        f["connection_id"] = m["conn"]
    f["faddr"], f["gaddr"], f["laddr"] = m["faddr"], m["gaddr"], m["laddr"]
    if m["type"] is not None:
        f["icmp_type"], f["icmp_code"] = int(m["type"]), int(m["code"])
    outbound = m["dir"] == "outbound"
    if m["dir"]:
        f["direction"] = f["network.direction"] = m["dir"]
    network(f, m["laddr"] if outbound else m["faddr"], None, m["faddr"] if outbound else m["laddr"], None,
            m["proto"])
    built = m["state"] == "Built"
    _allowed(f, True, "connection-built" if built else "connection-teardown", "start" if built else "end")


# --- denies ----------------------------------------------------------------------------------------------------

def _deny_from_to(m: Match, f: Fields) -> None:
    """106001, 106006, 106007, 106015: ``from ip/port to ip/port`` with an interface or a reason."""
    groups = m.groupdict()
    f["protocol"] = m["proto"]
    if groups.get("dir"):
        f["direction"] = f["network.direction"] = m["dir"]
    if groups.get("flags"):
        f["tcp_flags"] = m["flags"].split()
    if groups.get("ifc"):
        f["src_interface"] = f["observer.ingress.interface.name"] = m["ifc"]
    if groups.get("reason"):
        f["reason"] = f["event.reason"] = m["reason"]
    network(f, m["sip"], port(m["sport"]), m["dip"], port(m["dport"]), m["proto"])
    _allowed(f, False, "deny")


def _deny_src_dst(m: Match, f: Fields) -> None:
    """106014, 106023: ``src interface:ip[/port] dst interface:ip[/port]``, ICMP type/code, ACL."""
    groups = m.groupdict()
    f["protocol"] = m["proto"]
    f["src_interface"] = f["observer.ingress.interface.name"] = m["sif"]
    f["dst_interface"] = f["observer.egress.interface.name"] = m["dif"]
    if groups.get("dir"):
        f["direction"] = f["network.direction"] = m["dir"]
    for name in ("suser", "duser"):
        if groups.get(name):
            f["src_user" if name == "suser" else "dst_user"] = m[name]
    if m["type"] is not None:
        f["icmp_type"], f["icmp_code"] = int(m["type"]), int(m["code"])
    if groups.get("acl") is not None:
        f["acl"] = f["rule.name"] = m["acl"]
    network(f, m["sip"], port(groups.get("sport")), m["dip"], port(groups.get("dport")), m["proto"])
    _allowed(f, False, "deny")


def _access_list(m: Match, f: Fields) -> None:
    """106100: an ACL entry with ``log`` hit (permitted, denied, est-allowed)."""
    f["acl"] = f["rule.name"] = m["acl"]
    f["acl_result"], f["protocol"] = m["verdict"], m["proto"]
    f["src_interface"] = f["observer.ingress.interface.name"] = m["sif"]
    f["dst_interface"] = f["observer.egress.interface.name"] = m["dif"]
    f["hit_count"] = int(m["hits"])
    if m["interval"]:
        f["hit_interval"] = m["interval"].strip()
    network(f, m["sip"], port(m["sport"]), m["dip"], port(m["dport"]), m["proto"])
    _allowed(f, m["verdict"] != "denied", "access-list-" + m["verdict"])


def _icmp_denied(m: Match, f: Fields) -> None:
    """313001: ICMP to the device itself denied."""
    f["protocol"] = "ICMP"
    f["icmp_type"], f["icmp_code"] = int(m["type"]), int(m["code"])
    f["src_interface"] = f["observer.ingress.interface.name"] = m["ifc"]
    network(f, m["sip"], None, None, None, "icmp")
    _allowed(f, False, "deny")


def _to_the_box(m: Match, f: Fields) -> None:
    """710003: management access (SSH, HTTPS, Telnet) to the device denied by its access rules."""
    f["protocol"], f["service"] = m["proto"], m["service"]
    f["dst_interface"] = f["observer.ingress.interface.name"] = m["dif"]
    network(f, m["sip"], port(m["sport"]), m["dip"], _service_port(m["service"]), m["proto"])
    _allowed(f, False, "deny")


def _drop_rate(m: Match, f: Fields) -> None:
    """733100: threat detection, a drop rate exceeded for an object (a host, scanning, SYN attack, ...)."""
    f["object"], f["rate_id"] = m["object"], m["rate_id"]
    for name in ("burst_rate", "burst_max", "average_rate", "average_max", "total"):
        f[name] = int(m[name])
    f["event.kind"] = "alert"
    f["event.category"] = ["network", "intrusion_detection"]
    f["event.type"] = ["info"]
    f["event.action"] = "drop-rate-exceeded"


def _nat(m: Match, f: Fields) -> None:
    """305011/305012: a dynamic or static translation built or torn down."""
    built = m["state"] == "Built"
    f["nat_type"], f["protocol"] = m["nat"], m["proto"]
    f["src_interface"], f["src_mapped_interface"] = m["rif"], m["mif"]
    f["src_mapped_ip"], f["src_mapped_port"] = m["mip"], int(m["mport"])
    f["source.nat.ip"], f["source.nat.port"] = m["mip"], int(m["mport"])
    if m["duration"]:
        f["duration"] = m["duration"]
        nanoseconds = _duration_ns(m["duration"])
        if nanoseconds is not None:
            f["event.duration"] = nanoseconds
    network(f, m["rip"], port(m["rport"]), None, None, m["proto"])
    f["event.kind"] = "event"
    f["event.category"] = ["network"]
    f["event.type"] = ["connection", "start" if built else "end"]
    f["event.action"] = "translation-built" if built else "translation-teardown"


def _ftd_connection(m: Match, f: Fields) -> None:
    """430001-430005: FTD connection, intrusion and file events as ``Key: value, Key: value``."""
    pairs: Fields = {}
    for part in m["pairs"].split(", "):
        key, colon, value = part.partition(": ")
        if colon and _FTD_KEY.fullmatch(key):
            pairs[key.replace(" ", "")] = value
        elif pairs:  # a value holding ", "
            last = next(reversed(pairs))
            pairs[last] = f"{pairs[last]}, {part}"
    if not pairs:
        raise _Layout
    f.update(pairs)
    protocol = pairs.get("Protocol")
    network(f, pairs.get("SrcIP"), port(pairs.get("SrcPort")), pairs.get("DstIP"), port(pairs.get("DstPort")),
            protocol)
    if pairs.get("IngressInterface"):
        f["observer.ingress.interface.name"] = pairs["IngressInterface"]
    if pairs.get("EgressInterface"):
        f["observer.egress.interface.name"] = pairs["EgressInterface"]
    if pairs.get("AccessControlRuleName"):
        f["rule.name"] = pairs["AccessControlRuleName"]
    if pairs.get("User") and pairs["User"] not in ("No Authentication Required", "Not Found"):
        f["user.name"] = pairs["User"]
    action = pairs.get("AccessControlRuleAction")
    allowed = verdict_of(action)
    verdict(f, allowed)
    if action:
        f["action"] = action
        f["event.action"] = action.lower()
    for name, ecs in (("InitiatorBytes", "source.bytes"), ("ResponderBytes", "destination.bytes")):
        value = pairs.get(name, "")
        if value.isdigit():
            f[ecs] = int(value)
    if "source.bytes" in f or "destination.bytes" in f:
        f["network.bytes"] = f.get("source.bytes", 0) + f.get("destination.bytes", 0)


# --- AAA, VPN, configuration -----------------------------------------------------------------------------------

def _auth(f: Fields, success: bool | None, action: str, *, user: str | None, ip: str | None = None,
          categories: tuple[str, ...] = ("authentication",), types: tuple[str, ...] = ("start",)) -> None:
    f["event.kind"] = "event"
    f["event.category"] = list(categories)
    f["event.type"] = list(types)
    f["event.action"] = action
    if success is not None:
        f["event.outcome"] = "success" if success else "failure"
    if user:
        f["user"] = f["user.name"] = user
    if ip:
        f["source.ip"] = ip


def _aaa(m: Match, f: Fields) -> None:
    """113004, 113005, 113015: AAA authentication/authorization accepted or rejected."""
    groups = m.groupdict()
    kind = groups.get("aaa") or "authentication"
    f["aaa_type"] = kind
    if groups.get("server"):
        f["server"] = m["server"]
    if groups.get("reason"):
        f["reason"] = f["event.reason"] = m["reason"]
    success = groups.get("reason") is None
    _auth(f, success, f"aaa-{kind}", user=m["user"], ip=groups.get("uip"),
          types=("start",) if kind == "authentication" else ("info",))


def _vpn_disconnect(m: Match, f: Fields) -> None:
    """113019: a VPN session ended (type, duration, bytes, reason)."""
    f["group"], f["session_type"], f["duration"] = m["group"], m["stype"], m["duration"]
    f["bytes_xmt"], f["bytes_rcv"] = int(m["xmt"]), int(m["rcv"])
    f["network.bytes"] = f["bytes_xmt"] + f["bytes_rcv"]
    f["reason"] = f["event.reason"] = m["reason"]
    _auth(f, None, "vpn-session-disconnected", user=m["user"], ip=m["ip"], categories=("session",),
          types=("end",))


def _user_auth(m: Match, f: Fields) -> None:
    """611101, 611102: management user authentication succeeded or failed."""
    _auth(f, m["result"] == "succeeded", "user-authentication", user=m["user"], ip=m["ip"])


def _login(m: Match, f: Fields) -> None:
    """605004, 605005: management login (SSH, Telnet, HTTPS, serial) permitted or denied."""
    f["service"] = m["service"]
    f["dst_interface"] = m["dif"]
    network(f, m["sip"], port(m["sport"]), m["dip"], _service_port(m["service"]), None)
    _auth(f, m["result"] == "permitted", "login", user=m["user"], ip=m["sip"])


def _webvpn(m: Match, f: Fields) -> None:
    """716001, 716002: clientless WebVPN session started or terminated."""
    f["group"] = m["group"]
    started = m["state"] == "started"
    if m["reason"]:
        f["reason"] = f["event.reason"] = m["reason"]
    _auth(f, True if started else None, f"webvpn-session-{m['state']}", user=m["user"], ip=m["ip"],
          categories=("authentication", "session") if started else ("session",),
          types=("start",) if started else ("end",))


def _svc(m: Match, f: Fields) -> None:
    """722022, 722023: AnyConnect (SVC) TCP/UDP connection established or terminated."""
    f["group"], f["tunnel_transport"], f["compression"] = m["group"], m["transport"], m["compression"]
    established = m["state"] == "established"
    _auth(f, True if established else None, f"svc-connection-{m['state']}", user=m["user"], ip=m["ip"],
          categories=("network", "session"),
          types=("start", "connection") if established else ("end", "connection"))


def _address_assigned(m: Match, f: Fields) -> None:
    """722051: addresses assigned to an AnyConnect session."""
    f["group"], f["assigned_ipv4"], f["assigned_ipv6"] = m["group"], m["ipv4"], m["ipv6"]
    _auth(f, None, "vpn-address-assigned", user=m["user"], ip=m["ip"], categories=("network", "session"),
          types=("info",))


def _dap(m: Match, f: Fields) -> None:
    """734001: dynamic access policy records selected for a connection."""
    f["connection_type"], f["dap_records"] = m["conn"].strip(), m["records"]
    _auth(f, None, "dap-records-selected", user=m["user"], ip=m["ip"], categories=("session",), types=("info",))


def _command(m: Match, f: Fields) -> None:
    """111008, 111009, 111010: a command run on the device."""
    groups = m.groupdict()
    command = f["command"] = m["command"]
    if groups.get("app"):
        f["application"] = m["app"]
    read_only = command.lower().startswith(_READ_ONLY_COMMANDS)
    _auth(f, True, "command-executed", user=m["user"], ip=groups.get("ip"), categories=("configuration",),
          types=("access",) if read_only else ("change",))


class _Layout(Exception):  # an internal signal, never raised out of this module
    """A known message id whose text does not have its documented layout."""


_Handler = Callable[[Match, Fields], None]
_FROM_TO = (r"from (?P<sip>[^/\s]+)/(?P<sport>\d+) to (?P<dip>[^/\s]+)/(?P<dport>\d+)")
_SRC_DST = (r"src (?P<sif>[^:\s]+):(?P<sip>[^/\s(]+)(?:/(?P<sport>\d+))?(?:\s*\((?!type )(?P<suser>[^()]*)\))? "
            r"dst (?P<dif>[^:\s]+):(?P<dip>[^/\s(]+)(?:/(?P<dport>\d+))?(?:\s*\((?!type )(?P<duser>[^()]*)\))?")
_BUILT = (r"Built (?P<dir>inbound|outbound) (?P<proto>\w+) connection (?P<conn>\d+) for (?P<a>.+?) to (?P<b>.+?)"
          r"\s*$", _built, "firewall")
_TEARDOWN = (r"Teardown (?P<proto>\w+) connection (?P<conn>\d+) for (?P<a>.+?) to (?P<b>.+?) duration "
             r"(?P<duration>\d+:\d{2}:\d{2}) bytes (?P<bytes>\d+)\s*(?P<reason>.*?)(?:\s*\((?P<user>[^()]*)\))?\s*$",
             _teardown, "firewall")
_ICMP = (r"(?P<state>Built|Teardown)(?: (?P<dir>inbound|outbound))? (?P<proto>ICMP(?:v6)?) connection "
         r"(?:(?P<conn>\d+) )?for faddr (?P<faddr>[^/\s]+)/\d+(?:\s*\([^()]*\))? gaddr (?P<gaddr>[^/\s]+)/\d+ "
         r"laddr (?P<laddr>[^/\s]+)/\d+(?:\s*\([^()]*\))?(?:.*?type (?P<type>\d+) code (?P<code>\d+))?",
         _icmp, "firewall")
_GUI = _GROUP_USER_IP
_AAA_OK = (r"AAA user (?P<aaa>authentication|authorization|accounting) Successful\s*:\s*server\s*=\s*"
           r"(?P<server>\S+?)\s*[,:]\s+[Uu]ser\s*=\s*(?P<user>.+?)\s*$", _aaa, "auth")
_AAA_REJECTED = (r"AAA user (?P<aaa>authentication|authorization) Rejected\s*:\s*reason\s*=\s*(?P<reason>.+?)"
                 r"\s*:\s*server\s*=\s*(?P<server>\S+?)\s*[,:]\s+[Uu]ser\s*=\s*(?P<user>.+?)"
                 r"(?:\s*[,:]\s+user IP\s*=\s*(?P<uip>\S+))?\s*$", _aaa, "auth")

_SPECS: dict[str, tuple[str, _Handler, str]] = {
    "302013": _BUILT, "302015": _BUILT, "302014": _TEARDOWN, "302016": _TEARDOWN,
    "302020": _ICMP, "302021": _ICMP,
    "106001": (r"Inbound (?P<proto>\w+) connection denied " + _FROM_TO +
               r" flags (?P<flags>.*?)\s+on interface (?P<ifc>\S+?)\.?\s*$", _deny_from_to, "firewall"),
    "106006": (r"Deny (?P<dir>inbound|outbound) (?P<proto>\w+) " + _FROM_TO +
               r" (?:on interface (?P<ifc>\S+?)|due to (?P<reason>.+?))\.?\s*$", _deny_from_to, "firewall"),
    "106015": (r"Deny (?P<proto>\w+) \(no connection\) " + _FROM_TO +
               r" flags (?P<flags>.*?)\s+on interface (?P<ifc>\S+?)\.?\s*$", _deny_from_to, "firewall"),
    "106014": (r"Deny (?P<dir>inbound|outbound) (?P<proto>\w+) " + _SRC_DST +
               r"\s*\(type (?P<type>\d+), code (?P<code>\d+)\)", _deny_src_dst, "firewall"),
    "106023": (r"Deny (?P<proto>\w+) " + _SRC_DST +
               r"(?:\s*\(type (?P<type>\d+), code (?P<code>\d+)\))? by access-group \"(?P<acl>[^\"]*)\"",
               _deny_src_dst, "firewall"),
    "106100": (r"access-list (?P<acl>\S+) (?P<verdict>permitted|denied|est-allowed) (?P<proto>\w+) "
               r"(?P<sif>[^/\s]+)/(?P<sip>[^(\s]+)\((?P<sport>\d+)\)(?:\s*\([^()]*\))? -> "
               r"(?P<dif>[^/\s]+)/(?P<dip>[^(\s]+)\((?P<dport>\d+)\)(?:\s*\([^()]*\))? hit-cnt (?P<hits>\d+)"
               r"(?P<interval>[^\[]*?)\s*(?:\[[^\]]*\])?\s*$", _access_list, "firewall"),
    "313001": (r"Denied ICMP type=(?P<type>\d+), code=(?P<code>\d+) from (?P<sip>\S+?) on interface "
               r"(?P<ifc>\S+?)\.?\s*$", _icmp_denied, "firewall"),
    "710003": (r"(?P<proto>TCP|UDP) access denied by ACL from (?P<sip>[^/\s]+)/(?P<sport>\d+) to "
               r"(?P<dif>[^:\s]+):(?P<dip>[^/\s]+)/(?P<service>[^\s.]+)\.?\s*$", _to_the_box, "firewall"),
    "733100": (r"\[\s*(?P<object>[^\]]*?)\s*\] drop rate-(?P<rate_id>\d+) exceeded\. Current burst rate is "
               r"(?P<burst_rate>\d+) per second,? max configured rate is (?P<burst_max>\d+); Current average rate "
               r"is (?P<average_rate>\d+) per second,? max configured rate is (?P<average_max>\d+); Cumulative "
               r"total count is (?P<total>\d+)", _drop_rate, "firewall"),
    "305011": (r"(?P<state>Built) (?P<nat>dynamic|static) (?P<proto>\w+) translation from "
               r"(?P<rif>[^:\s(]+)(?:\([^()]*\))?:(?P<rip>[^/\s]+)/(?P<rport>\d+)(?:\s*\([^()]*\))? to "
               r"(?P<mif>[^:\s]+):(?P<mip>[^/\s]+)/(?P<mport>\d+)(?: duration (?P<duration>\S+))?\s*$",
               _nat, "firewall"),
    "113004": _AAA_OK,
    "113005": _AAA_REJECTED,
    "113015": (r"AAA user authentication Rejected\s*:\s*reason\s*=\s*(?P<reason>.+?)\s*:\s*local database\s*:"
               r"\s*user\s*=\s*(?P<user>.+?)(?:\s*:\s*user IP\s*=\s*(?P<uip>\S+))?\s*$", _aaa, "auth"),
    "113019": (r"Group = (?P<group>[^,]*), Username = (?P<user>[^,]*), IP = (?P<ip>[^,]*), Session "
               r"disconnected\.? Session Type: (?P<stype>[^,]*), Duration: (?P<duration>[^,]*), Bytes xmt: "
               r"(?P<xmt>\d+), Bytes rcv: (?P<rcv>\d+), Reason: (?P<reason>.*?)\s*$", _vpn_disconnect, "auth"),
    "611101": (r"User authentication (?P<result>succeeded|failed): (?:IP(?: address)?[:,]\s*(?P<ip>[^,\s]+?)"
               r"\s*[,:]\s*)?Uname: (?P<user>.+?)\s*$", _user_auth, "auth"),
    "605004": (r"Login (?P<result>denied|permitted) from (?P<sip>[^/\s]+)/(?P<sport>\d+) to "
               r"(?P<dif>[^:\s]+):(?P<dip>[^/\s]+)/(?P<service>\S+) for user \"(?P<user>[^\"]*)\"", _login, "auth"),
    "716001": (_GUI + r"WebVPN session (?P<state>started|terminated)(?::\s*(?P<reason>.*?))?\.?\s*$",
               _webvpn, "auth"),
    "722022": (_GUI + r"(?P<transport>TCP|UDP) SVC connection (?P<state>established|terminated) "
               r"(?P<compression>with(?:out)? compression)", _svc, "auth"),
    "722051": (_GUI + r"IPv4 Address <?(?P<ipv4>[^<>\s]*?)>? IPv6 address <?(?P<ipv6>[^<>\s]*?)>? assigned to "
               r"session", _address_assigned, "auth"),
    "734001": (r"DAP: User (?P<user>[^,]+), Addr (?P<ip>[^,]+), Connection (?P<conn>[^:;]+)[:;] The following "
               r"DAP records were selected for this connection: (?P<records>.*?)\s*$", _dap, "auth"),
    "111008": (r"User '(?P<user>[^']*)' executed the '(?P<command>.*)' command\.?\s*$", _command, "command"),
    "111009": (r"User '(?P<user>[^']*)' executed cmd: (?P<command>.*?)\s*$", _command, "command"),
    "111010": (r"User '(?P<user>[^']*)', running '(?P<app>[^']*)' from IP (?P<ip>\S+?),\s*executed "
               r"'(?P<command>.*)'\s*$", _command, "command"),
}
_SPECS["305012"] = (_SPECS["305011"][0].replace("(?P<state>Built)", "(?P<state>Teardown)"), _nat, "firewall")
_SPECS["106007"] = _SPECS["106006"]
_SPECS["611102"] = _SPECS["611101"]
_SPECS["605005"] = _SPECS["605004"]
_SPECS["716002"] = _SPECS["716001"]
_SPECS["722023"] = _SPECS["722022"]
for _id in ("430001", "430002", "430003", "430004", "430005"):
    _SPECS[_id] = (r"(?P<pairs>.+?)\s*$", _ftd_connection, "firewall")

_COMPILED: dict[str, tuple[re.Pattern[str], _Handler, LogSource]] = {
    message_id: (re.compile(pattern, re.DOTALL), handler,
                 {"firewall": _ASA_FIREWALL, "command": _ASA_COMMANDS}.get(kind, _ASA))
    for message_id, (pattern, handler, kind) in _SPECS.items()
}


class CiscoAsaParser(MessageParser):
    """Cisco ASA / FTD ``%ASA-6-302013:`` messages, in syslog or bare."""

    name = "cisco_asa"
    family = Family.FIREWALL
    description = "Cisco ASA and FTD syslog messages (connections, denies, NAT, AAA/VPN logons, commands)"
    logsources = (_ASA, _ASA_FIREWALL, _ASA_COMMANDS)
    bare = True
    priority = 25

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        program = envelope.program
        host = envelope.host
        if program is not None and program[:1] == "%":
            text = f"{program}: {message}"
            tag_in_program = True
        else:
            position = message.find("%")
            if position < 0 or position > 80:
                return None
            text = message[position:]
            tag_in_program = False
            lead = message[:position].strip(" :")
            if program is not None and lead == "" and message[:position].strip() == ":":
                host, tag_in_program = host or program, True  # "fw01 : %ASA-...": the device name as program
            elif lead and " " not in lead and envelope.program is None:
                host = lead  # bare "fw01 : %ASA-..."
            elif lead:
                return None
        tag = _TAG.match(text)
        if tag is None:
            if _LOOKS_LIKE_TAG.match(text):
                raise Malformed("Cisco ASA message tag not of the form %ASA-<severity 0-7>-<6-digit id>")
            return None
        body = text[tag.end():].rstrip()
        fields = envelope_fields(envelope, text, program_is_tag=tag_in_program)
        if host:
            fields["host"] = fields["host.hostname"] = fields["observer.hostname"] = fields["observer.name"] = host
        message_id = tag["id"]
        severity = int(tag["sev"])
        fields["message_id"] = fields["event.code"] = message_id
        fields["message_severity"] = fields["event.severity"] = severity
        fields["log.level"] = _LEVELS[severity]
        if tag["cls"]:
            fields["message_class"] = tag["cls"]
        fields["text"] = body
        product = _PRODUCTS[tag["family"]]
        fields["observer.vendor"] = "Cisco"
        fields["observer.product"] = product
        fields["observer.type"] = "firewall"
        logsource = _ASA
        spec = _COMPILED.get(message_id)
        if spec is None:
            fields["event.kind"] = "event"
        else:
            pattern, handler, spec_logsource = spec
            match = pattern.match(body)
            try:
                if match is None:
                    raise _Layout
                handler(match, fields)
                logsource = spec_logsource
            except _Layout:
                fields["event.kind"] = "event"
                fields["error.message"] = f"{product} message {message_id} not in its documented layout"
        finish_fields(fields, self)
        return Parsed(fields, logsource, envelope.timestamp)


PARSERS = (CiscoAsaParser(),)
