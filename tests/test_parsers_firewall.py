"""Firewall logs: netfilter, pfSense/OPNsense filterlog, Cisco ASA/FTD, CEF, LEEF, FortiGate and key=value.

Every fixture is read the way ``yamori hunt`` reads a file (content recognition, then the syslog reader and its
message parsers); each format is checked for its original fields, the Sigma taxonomy names, the ECS names and the
logsource; broken lines become BadRecords with source and position while the rest of the file parses; SigmaHQ's
firewall, FortiGate and Cisco rules fire on the fixtures; every parser is fuzzed.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import UNKNOWN_LOGSOURCE, BadRecord, Event, LogSource
from yamori.parsers import cef, cisco_asa, keyvalue, leef, netfilter, pfsense
from yamori.parsers._firewall import device_time, java_time, verdict_of
from yamori.parsers.base import Envelope, Malformed, MessageParser, ParseContext
from yamori.parsers.registry import logsource_supported, message_parsers
from yamori.parsers.syslog import SyslogParser
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "firewall"
REFERENCE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CONTEXT = ParseContext("<test>", "test.log", REFERENCE)

LINUX_FIREWALL_SYSLOG = LogSource(("linux",), ("firewall",), ("syslog",))
LINUX_FIREWALL = LogSource(("linux",), ("firewall",), ())
FIREWALL = LogSource((), ("firewall",), ())
ASA = LogSource(("cisco",), (), ("asa",))
ASA_FIREWALL = LogSource(("cisco",), ("firewall",), ("asa",))
ASA_COMMANDS = LogSource(("cisco",), (), ("asa", "aaa"))
FORTIGATE_TRAFFIC = LogSource(("fortigate",), ("firewall",), ("traffic",))
FORTIGATE_EVENT = LogSource(("fortigate",), (), ("event",))
LINUX_SYSLOG = LogSource(("linux",), (), ("syslog",))


def read(name: str) -> list[Event | BadRecord]:
    return read_bytes((FIXTURES / name).read_bytes(), name, REFERENCE)


def by_line(name: str) -> dict[int, Event | BadRecord]:
    """Items of a fixture keyed by line number."""
    return {int(item.position): item for item in read(name)}


def event(name: str, line: int) -> Event:
    item = by_line(name)[line]
    assert isinstance(item, Event), item
    return item


def bad(name: str, line: int) -> BadRecord:
    item = by_line(name)[line]
    assert isinstance(item, BadRecord), item
    return item


def one(line: str, name: str = "sample.log") -> Event:
    items = read_bytes(line.encode() + b"\n", name, REFERENCE)
    assert len(items) == 1 and isinstance(items[0], Event), items
    return items[0]


def subset(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every expected field has the expected value (missing: ``None`` means it must be absent)."""
    for key, value in expected.items():
        if value is None:
            assert key not in fields, (key, fields.get(key))
        else:
            assert fields.get(key) == value, (key, fields.get(key), value)


# --- netfilter -------------------------------------------------------------------------------------------------

def test_netfilter_ufw_block_via_syslog() -> None:
    item = event("netfilter.log", 1)
    assert item.logsource == LINUX_FIREWALL_SYSLOG
    assert item.timestamp == "2026-11-28T03:00:00Z"
    subset(item.fields, {
        "IN": "eth0", "OUT": "", "SRC": "203.0.113.9", "DST": "198.51.100.2", "PROTO": "TCP", "SPT": "45678",
        "DPT": "22", "TTL": "51", "prefix": "[UFW BLOCK]", "uptime": "1234567.891011", "ip_flags": ["DF"],
        "tcp_flags": ["SYN"], "host": "web01", "program": "kernel",
        "src_ip": "203.0.113.9", "dst_ip": "198.51.100.2", "src_port": 45678, "dst_port": 22, "action": "drop",
        "blocked": True, "source.ip": "203.0.113.9", "destination.ip": "198.51.100.2", "source.port": 45678,
        "destination.port": 22, "network.transport": "tcp", "network.type": "ipv4", "network.iana_number": "6",
        "network.bytes": 60, "network.direction": "ingress", "observer.ingress.interface.name": "eth0",
        "source.mac": "52-54-00-AB-CD-EF", "destination.mac": "52-54-00-12-34-56", "rule.name": "UFW BLOCK",
        "event.category": ["network"], "event.type": ["connection", "denied"], "event.outcome": "failure",
        "event.action": "drop", "event.module": "netfilter", "observer.product": "netfilter",
        "@timestamp": "2026-11-28T03:00:00Z"})


def test_netfilter_verdicts_from_prefixes() -> None:
    assert event("netfilter.log", 2).fields["action"] == "accept"
    assert event("netfilter.log", 2).fields["blocked"] is False
    assert event("netfilter.log", 2).fields["tcp_flags"] == ["ACK", "PSH"]
    assert event("netfilter.log", 3).fields["rule.name"] == "IPTABLES-DROP"
    assert event("netfilter.log", 3).fields["blocked"] is True
    rejected = event("netfilter.log", 4).fields
    assert rejected["action"] == "reject" and rejected["prefix"] == "FINAL_REJECT:"
    assert rejected["UDP_LEN"] == "58" and rejected["LEN"] == "78"
    audit = event("netfilter.log", 7).fields
    subset(audit, {"action": None, "blocked": None, "event.action": "log", "event.type": ["connection"],
                   "network.direction": "egress", "UID": "101", "observer.egress.interface.name": "eth0"})
    forwarded = event("netfilter.log", 9).fields
    subset(forwarded, {"action": "accept", "PHYSIN": "veth12", "MARK": "0x1", "network.direction": None,
                       "observer.ingress.interface.name": "eth1", "observer.egress.interface.name": "eth0"})


def test_netfilter_icmp_ipv6_and_quoted_packet() -> None:
    icmp = event("netfilter.log", 5).fields
    subset(icmp, {"PROTO": "ICMP", "TYPE": "8", "CODE": "0", "ID": "0", "ICMP_ID": "4242", "SEQ": "1",
                  "network.transport": "icmp", "src_port": None})
    ipv6 = event("netfilter.log", 6).fields
    subset(ipv6, {"network.type": "ipv6", "HOPLIMIT": "57", "FLOWLBL": "123456", "dst_port": 6379,
                  "src_ip": "2001:0db8:0077:0000:0000:0000:0000:0005"})
    icmpv6 = event("netfilter.log", 8).fields
    subset(icmpv6, {"network.transport": "ipv6-icmp", "network.iana_number": "58", "TYPE": "134",
                    "rule.name": "nft-drop-icmp6"})
    error = event("netfilter.log", 10).fields
    assert error["inner"].startswith("SRC=198.51.100.2 DST=192.0.2.99")
    assert error["SRC"] == "192.0.2.1" and error["DST"] == "198.51.100.2" and "dst_port" not in error


def test_netfilter_malformed_lines_and_other_kernel_messages() -> None:
    missing = bad("netfilter.log", 11)
    assert missing.source == "<netfilter.log>" and "without SRC or DST" in missing.reason
    assert missing.data is not None and "DST= LEN=60" in missing.data
    assert "no IP address" in bad("netfilter.log", 12).reason
    usb = event("netfilter.log", 13)
    assert usb.logsource == LINUX_SYSLOG and usb.fields["event.module"] == "syslog"
    ulogd = event("netfilter.log", 14)
    assert ulogd.logsource == LINUX_FIREWALL_SYSLOG
    subset(ulogd.fields, {"program": "ulogd", "rule.name": "fw-drop", "dst_port": 5985, "blocked": True})


def test_netfilter_dmesg_iso_lines_without_program() -> None:
    items = by_line("netfilter_dmesg_iso.log")
    first = items[1]
    assert isinstance(first, Event) and first.logsource == LINUX_FIREWALL
    assert first.timestamp == "2026-11-28T03:00:00.123456Z" and first.fields["dst_port"] == 23
    assert isinstance(items[3], BadRecord)
    nic = items[4]
    assert isinstance(nic, Event) and nic.fields["event.module"] == "syslog"
    colon_prefix = items[5]
    assert isinstance(colon_prefix, Event) and colon_prefix.logsource == LINUX_FIREWALL
    subset(colon_prefix.fields, {"prefix": "IPTABLES-DROP:", "blocked": True, "dst_port": 1433, "program": None})
    no_prefix = items[6]
    assert isinstance(no_prefix, Event) and no_prefix.logsource == LINUX_FIREWALL
    subset(no_prefix.fields, {"IN": "eth0", "SRC": "203.0.113.24", "host": None, "prefix": None, "blocked": None})


def test_netfilter_bare_dmesg_lines() -> None:
    reader = SyslogParser()
    parsed = reader.parse_line((FIXTURES / "netfilter_dmesg.log").read_text().splitlines()[0], REFERENCE, CONTEXT)
    assert parsed is not None and parsed.logsource == LINUX_FIREWALL and parsed.timestamp is None
    subset(parsed.fields, {"uptime": "1234567.891011", "prefix": "[UFW BLOCK]", "dst_port": 23, "blocked": True,
                           "event.module": "netfilter"})
    human = reader.parse_line("[Sat Nov 28 03:00:01 2026] [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.20 "
                              "DST=198.51.100.2 LEN=44 PROTO=TCP SPT=1 DPT=9200", REFERENCE, CONTEXT)
    assert human is not None and human.timestamp == "2026-11-28T03:00:01Z" and human.fields["dst_port"] == 9200
    with pytest.raises(Malformed):
        reader.parse_line("[1234569.000000] IN=eth0 OUT= SRC=203.0.113.22 DST=", REFERENCE, CONTEXT)
    assert reader.parse_line("route set IN=eth0 OUT=eth1 metric=10", REFERENCE, CONTEXT) is None
    assert reader.parse_line("Config loaded: LOGIN=admin OUT=stdout SRC=/etc/app.conf", REFERENCE, CONTEXT) is None
    assert reader.parse_line("a sentence of more than sixty-four characters that happens to end in a payload "
                             "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8", REFERENCE, CONTEXT) is None


def test_netfilter_dmesg_file_autodetected() -> None:
    items = read("netfilter_dmesg.log")
    assert [type(item).__name__ for item in items] == ["Event", "Event", "Event", "BadRecord"]
    uptime, human, plain, broken = items
    assert isinstance(uptime, Event) and uptime.logsource == LINUX_FIREWALL and uptime.timestamp is None
    assert isinstance(human, Event) and human.timestamp == "2026-11-28T03:00:01Z"
    assert isinstance(plain, Event) and plain.fields["UDP_LEN"] == "24" and "prefix" not in plain.fields
    assert isinstance(broken, BadRecord) and broken.position == "4"


# --- pfSense / OPNsense ----------------------------------------------------------------------------------------

def test_pfsense_tcp_block_ipv4() -> None:
    item = event("pfsense_filterlog.log", 1)
    assert item.logsource == FIREWALL
    subset(item.fields, {
        "rule_number": "5", "tracker": "1000000103", "interface": "igb0", "reason": "match", "action": "block",
        "direction": "in", "ip_version": "4", "tos": "0x0", "ecn": None, "sub_rule_number": None, "ttl": "242",
        "flags": "none", "protocol_id": "6", "protocol": "tcp", "length": "40", "src_ip": "203.0.113.9",
        "dst_ip": "198.51.100.2", "src_port": 45678, "dst_port": 3389, "tcp_flags": "S",
        "sequence_number": "2718281828", "window": "1024", "blocked": True, "source.ip": "203.0.113.9",
        "destination.port": 3389, "network.transport": "tcp", "network.direction": "ingress",
        "observer.ingress.interface.name": "igb0", "rule.id": "1000000103", "event.action": "block",
        "event.type": ["connection", "denied"], "event.outcome": "failure", "observer.product": "pfSense",
        "event.module": "pfsense_filterlog", "program": "filterlog", "pid": "28514"})


def test_pfsense_layouts() -> None:
    passed = event("pfsense_filterlog.log", 2).fields
    subset(passed, {"action": "pass", "blocked": False, "options": "mss;sackOK;TS;nop;wscale",
                    "network.direction": "egress", "observer.egress.interface.name": "igb1", "dst_port": 21})
    udp = event("pfsense_filterlog.log", 3).fields
    subset(udp, {"protocol": "udp", "dst_port": 53, "data_length": "53", "tcp_flags": None})
    echo = event("pfsense_filterlog.log", 4).fields
    subset(echo, {"icmp_type": "request", "icmp_id": "4242", "icmp_sequence": "1", "src_port": None})
    unreach = event("pfsense_filterlog.log", 5).fields
    subset(unreach, {"icmp_type": "unreachport", "icmp_destination": "198.51.100.2", "icmp_protocol_id": "17",
                     "icmp_port": "33434"})
    assert event("pfsense_filterlog.log", 6).fields["icmp_description"] == "time exceeded in-transit"
    ipv6 = event("pfsense_filterlog.log", 7).fields
    subset(ipv6, {"ip_version": "6", "class": "0x00", "flow_label": "0x00000", "hop_limit": "57",
                  "protocol": "tcp", "protocol_id": "6", "src_ip": "2001:db8:77::5", "dst_port": 22,
                  "network.type": "ipv6"})
    icmpv6 = event("pfsense_filterlog.log", 8).fields
    subset(icmpv6, {"protocol": "ipv6-icmp", "data_length": "32", "network.transport": "ipv6-icmp"})
    carp = event("pfsense_filterlog.log", 9).fields
    subset(carp, {"carp_type": "advertise", "carp_ttl": "255", "vhid": "1", "carp_version": "2", "advskew": "0",
                  "advbase": "1", "network.transport": "vrrp"})
    rejected = event("pfsense_filterlog.log", 10).fields
    subset(rejected, {"action": "reject", "blocked": True, "dst_port": 161})
    igmp = event("pfsense_filterlog.log", 11).fields
    subset(igmp, {"protocol": "igmp", "data": "datalength=12", "network.transport": "igmp"})


def test_pfsense_bad_lines_and_notices() -> None:
    assert "too few for IPv4" in bad("pfsense_filterlog.log", 12).reason
    assert "unknown action" in bad("pfsense_filterlog.log", 13).reason
    notice = event("pfsense_filterlog.log", 14)
    assert notice.logsource == LINUX_SYSLOG and notice.fields["message"] == "filterlog started"


def test_opnsense_rfc5424_and_bare_csv() -> None:
    item = event("pfsense_filterlog.log", 15)
    assert item.timestamp == "2026-11-28T02:00:14.412000Z"
    subset(item.fields, {"observer.product": "OPNsense", "observer.vendor": "Deciso", "dst_port": 6379,
                         "host": "opnsense.example.test", "sd.meta.sequenceId": "4"})
    bare = read("pfsense_bare.csv")
    assert [item.fields["dst_port"] for item in bare if isinstance(item, Event)] == [445, 23]
    assert all(isinstance(item, Event) and item.logsource == FIREWALL for item in bare)


# --- Cisco ASA / FTD -------------------------------------------------------------------------------------------

def test_asa_connection_built_inbound_and_outbound() -> None:
    inbound = event("cisco_asa.log", 1)
    assert inbound.logsource == ASA_FIREWALL and inbound.timestamp == "2026-11-28T03:00:00Z"
    subset(inbound.fields, {
        "host": "fw01", "program": None, "message_id": "302013", "message_severity": 6, "event.code": "302013",
        "event.severity": 6, "log.level": "informational", "direction": "inbound", "protocol": "TCP",
        "connection_id": "88231", "src_ip": "203.0.113.9", "src_port": 51544, "dst_ip": "10.1.2.20",
        "dst_port": 443, "src_interface": "outside", "dst_interface": "dmz", "destination.nat.ip": "198.51.100.20",
        "source.nat.ip": None, "network.direction": "inbound", "action": "accept", "blocked": False,
        "event.type": ["connection", "allowed", "start"], "event.action": "connection-built",
        "observer.vendor": "Cisco", "observer.product": "ASA", "observer.hostname": "fw01",
        "event.module": "cisco_asa"})
    outbound = event("cisco_asa.log", 2).fields
    subset(outbound, {"src_ip": "10.1.1.15", "src_port": 50212, "dst_ip": "198.51.100.77", "dst_port": 21,
                      "source.nat.ip": "198.51.100.5", "src_user": "CORP\\alice", "network.direction": "outbound",
                      "observer.ingress.interface.name": "inside", "observer.egress.interface.name": "outside"})


def test_asa_teardown_icmp_and_nat() -> None:
    teardown = event("cisco_asa.log", 3).fields
    subset(teardown, {"duration": "0:01:05", "event.duration": 65_000_000_000, "bytes": 48213,
                      "network.bytes": 48213, "reason": "TCP FINs from outside",
                      "event.type": ["connection", "allowed", "end"]})
    assert event("cisco_asa.log", 5).fields["network.bytes"] == 142
    icmp = event("cisco_asa.log", 6).fields
    subset(icmp, {"faddr": "203.0.113.9", "laddr": "10.1.2.20", "icmp_type": 8, "icmp_code": 0,
                  "src_ip": "203.0.113.9", "dst_ip": "10.1.2.20", "network.transport": "icmp"})
    nat = event("cisco_asa.log", 20)
    assert nat.logsource == ASA_FIREWALL
    subset(nat.fields, {"nat_type": "dynamic", "source.ip": "10.1.1.15", "source.nat.ip": "198.51.100.5",
                        "source.nat.port": 50212, "event.action": "translation-built"})
    assert event("cisco_asa.log", 21).fields["event.duration"] == 31_000_000_000


@pytest.mark.parametrize(("line", "expected"), [
    (8, {"message_id": "106001", "dst_port": 23, "tcp_flags": ["SYN"], "src_interface": "outside"}),
    (9, {"message_id": "106006", "dst_port": 161, "network.transport": "udp", "direction": "inbound"}),
    (10, {"message_id": "106007", "reason": "DNS Response", "src_port": 53}),
    (11, {"message_id": "106014", "icmp_type": 8, "dst_interface": "dmz", "dst_ip": "10.1.2.20"}),
    (12, {"message_id": "106015", "tcp_flags": ["RST"], "dst_port": 21}),
    (13, {"message_id": "106023", "acl": "outside_access_in", "rule.name": "outside_access_in", "dst_port": 445,
          "src_ip": "203.0.113.60"}),
    (14, {"message_id": "106023", "icmp_type": 128, "dst_user": None, "network.type": "ipv6",
          "dst_ip": "2001:db8:10::20"}),
    (15, {"message_id": "106100", "acl_result": "denied", "hit_count": 1, "hit_interval": "first hit",
          "dst_port": 3389}),
    (17, {"message_id": "313001", "icmp_type": 8, "src_ip": "203.0.113.62", "dst_ip": None}),
    (18, {"message_id": "710003", "service": "ssh", "dst_port": 22}),
])
def test_asa_denies(line: int, expected: dict[str, Any]) -> None:
    item = event("cisco_asa.log", line)
    assert item.logsource == ASA_FIREWALL
    subset(item.fields, {"blocked": True, "action": "deny", "event.outcome": "failure",
                         "event.type": ["connection", "denied"], **expected})


def test_asa_permitted_acl_and_threat_detection() -> None:
    permitted = event("cisco_asa.log", 16).fields
    subset(permitted, {"acl_result": "permitted", "blocked": False, "dst_ip": "69.42.98.86",
                       "hit_interval": "300-second interval"})
    threat = event("cisco_asa.log", 19)
    assert threat.logsource == ASA_FIREWALL
    subset(threat.fields, {"object": "Scanning", "burst_rate": 12, "total": 4821, "event.kind": "alert"})


@pytest.mark.parametrize(("line", "expected"), [
    (22, {"message_id": "113004", "user.name": "alice", "server": "10.1.5.10", "event.outcome": "success",
          "event.category": ["authentication"]}),
    (23, {"message_id": "113005", "user.name": "mallory", "source.ip": "203.0.113.70", "reason": "AAA failure",
          "event.outcome": "failure"}),
    (24, {"message_id": "113015", "user.name": "admin", "source.ip": "203.0.113.71", "event.outcome": "failure"}),
    (25, {"message_id": "113019", "user.name": "alice", "group": "RemoteStaff", "network.bytes": 4_803_241,
          "event.category": ["session"], "event.type": ["end"], "session_type": "AnyConnect-Parent"}),
    (26, {"message_id": "611101", "user.name": "netadmin", "source.ip": "10.1.1.40", "event.outcome": "success"}),
    (27, {"message_id": "611102", "user.name": "root", "event.outcome": "failure"}),
    (28, {"message_id": "605004", "user.name": "admin", "dst_port": 22, "event.outcome": "failure"}),
    (29, {"message_id": "605005", "user.name": "netadmin", "dst_port": 443, "event.outcome": "success"}),
    (30, {"message_id": "716001", "user.name": "alice", "source.ip": "203.0.113.80",
          "event.category": ["authentication", "session"], "event.outcome": "success"}),
    (31, {"message_id": "716002", "reason": "User requested", "event.type": ["end"]}),
    (32, {"message_id": "722022", "user.name": "bob", "tunnel_transport": "TCP", "event.outcome": "success"}),
    (33, {"message_id": "722023", "event.type": ["end", "connection"]}),
    (34, {"message_id": "722051", "assigned_ipv4": "10.8.0.12", "assigned_ipv6": "::"}),
    (35, {"message_id": "734001", "dap_records": "DfltAccessPolicy", "connection_type": "AnyConnect"}),
])
def test_asa_aaa_and_vpn(line: int, expected: dict[str, Any]) -> None:
    item = event("cisco_asa.log", line)
    assert item.logsource == ASA
    subset(item.fields, expected)


def test_asa_commands_unknown_ids_and_broken_messages() -> None:
    cleared = event("cisco_asa.log", 36)
    assert cleared.logsource == ASA_COMMANDS
    subset(cleared.fields, {"command": "clear logging", "user.name": "enable_15",
                            "event.category": ["configuration"], "event.type": ["change"]})
    written = event("cisco_asa.log", 37).fields
    subset(written, {"command": "write memory", "application": "CLI", "source.ip": "10.1.1.40"})
    assert event("cisco_asa.log", 38).fields["event.type"] == ["access"]
    unknown = event("cisco_asa.log", 39)
    assert unknown.logsource == ASA
    subset(unknown.fields, {"message_id": "199005", "text": "Startup begin", "message_severity": 6})
    cut = event("cisco_asa.log", 40)
    assert cut.logsource == ASA and "not in its documented layout" in cut.fields["error.message"]
    assert "src_ip" not in cut.fields
    assert "%ASA-<severity 0-7>-<6-digit id>" in bad("cisco_asa.log", 41).reason


def test_asa_header_variants_and_ftd() -> None:
    tag_as_program = event("cisco_asa.log", 42)
    assert tag_as_program.timestamp == "2026-11-28T03:00:41Z"
    subset(tag_as_program.fields, {"host": "fw02", "program": None, "dst_port": 22, "network.type": "ipv6"})
    ftd = event("cisco_asa.log", 43)
    assert ftd.logsource == ASA_FIREWALL and ftd.timestamp == "2026-11-28T03:00:42.250000Z"
    subset(ftd.fields, {"observer.product": "FTD", "AccessControlRuleAction": "Block", "action": "Block",
                        "blocked": True, "dst_port": 3306, "rule.name": "Block-DB", "PrefilterPolicy": "Default",
                        "user.name": None, "source.bytes": 74, "observer.egress.interface.name": "dmz"})
    session_class = event("cisco_asa.log", 44).fields
    subset(session_class, {"message_class": "session", "observer.product": "FTD", "dst_port": 80,
                           "reason": "TCP Reset-O"})


def test_asa_bare_lines() -> None:
    item = one("%ASA-4-106023: Deny udp src outside:203.0.113.5/53 dst inside:10.0.0.9/161 by access-group "
               '"acl_out" [0x0, 0x0]')
    assert item.logsource == ASA_FIREWALL and item.timestamp is None
    subset(item.fields, {"dst_port": 161, "blocked": True, "host": None})
    named = one("fw09 : %ASA-6-111008: User 'admin' executed the 'copy running-config tftp' command.")
    subset(named.fields, {"host": "fw09", "command": "copy running-config tftp"})
    assert isinstance(read_bytes(b"%ASA-6-1234: short id\n", "bare.log", REFERENCE)[0], BadRecord)


# --- CEF -------------------------------------------------------------------------------------------------------

def test_cef_firewall_event_in_syslog() -> None:
    item = event("cef.log", 1)
    assert item.logsource == FIREWALL and item.timestamp == "2026-11-28T03:00:00Z"
    subset(item.fields, {
        "cef_version": "0", "deviceVendor": "Acme", "deviceProduct": "Edge Firewall", "deviceVersion": "7.2",
        "deviceEventClassId": "100", "name": "Traffic denied", "severity": "5", "src": "203.0.113.9",
        "spt": "45678", "dpt": "3389", "act": "blocked", "msg": "Connection to RDP from the internet denied",
        "cs1Label": "Rule Name", "cs1": "Default deny inbound", "Rule Name": "Default deny inbound",
        "Hit Count": "3", "src_ip": "203.0.113.9", "dst_port": 3389, "action": "blocked", "blocked": True,
        "network.direction": "inbound", "event.severity": 5, "event.code": "100", "rule.name": "Traffic denied",
        "observer.vendor": "Acme", "observer.ingress.interface.name": "outside", "host": "fw-gw01",
        "program": None, "log.syslog.severity.code": 6, "event.module": "cef"})
    assert item.fields["message"].startswith("CEF:0|Acme|")


def test_cef_values_escapes_and_times() -> None:
    allowed = event("cef.log", 2)
    assert allowed.timestamp == "2026-11-28T03:00:01.250000Z"
    subset(allowed.fields, {"blocked": False, "suser": "CORP\\alice", "user.name": "CORP\\alice",
                            "source.bytes": 512, "destination.bytes": 2048, "network.bytes": 2560,
                            "Rule Name": "Allow legacy telnet"})
    proxy = event("cef.log", 3)
    assert proxy.timestamp == "2026-11-28T03:00:02Z"
    subset(proxy.fields, {"request": "http://192.0.2.80/a=b?x=1", "url.original": "http://192.0.2.80/a=b?x=1",
                          "requestClientApplication": "Mozilla/5.0 (X11; Linux x86_64)",
                          "http.request.method": "GET", "event.severity": 6, "destination.domain": "bad.example"})
    escapes = event("cef.log", 4)
    assert escapes.logsource == UNKNOWN_LOGSOURCE
    subset(escapes.fields, {"deviceProduct": "Pipe | Tester", "deviceEventClassId": "x\\y",
                            "msg": "line one\nline two", "path": "C:\\Windows\\System32", "note": "a = b",
                            "event.severity": 8})
    edr = event("cef.log", 5)
    assert edr.logsource == UNKNOWN_LOGSOURCE and edr.timestamp == "2026-11-28T03:00:04Z"
    subset(edr.fields, {"event.outcome": "success", "user.name": "bob", "program": "agent"})
    assert "Unused" not in event("cef.log", 6).fields  # a label without its value names nothing
    assert "seven" in bad("cef.log", 7).reason
    ipv6 = event("cef.log", 8)
    subset(ipv6.fields, {"cef_version": "1", "event.severity": 10, "network.type": "ipv6", "dst_port": 6443})


# --- LEEF ------------------------------------------------------------------------------------------------------

def test_leef_versions_and_delimiters() -> None:
    first = event("leef.log", 1)
    assert first.logsource == FIREWALL and first.timestamp == "2026-11-28T03:00:00Z"
    subset(first.fields, {"leef_version": "1.0", "vendor": "Acme", "product": "Edge Firewall",
                          "product_version": "7.2", "event_id": "TrafficDenied", "action": "DENY", "blocked": True,
                          "dst_port": 445, "usrName": "unknown", "user.name": "unknown", "rule.name": "deny-smb",
                          "event.severity": 6, "host": "fw-gw02", "program": None, "event.module": "leef"})
    caret = event("leef.log", 2)
    assert caret.timestamp == "2026-11-28T02:00:01.500000Z"
    subset(caret.fields, {"delimiter": "^", "blocked": False, "dst_port": 21, "network.bytes": 9300})
    hexadecimal = event("leef.log", 3)
    assert hexadecimal.logsource == UNKNOWN_LOGSOURCE and hexadecimal.timestamp == "2026-11-28T03:00:02Z"
    subset(hexadecimal.fields, {"delimiter": "x09", "usrName": "mallory", "reason": "bad password"})
    empty = event("leef.log", 4).fields
    subset(empty, {"delimiter": "", "dst_port": 9200, "network.transport": "tcp", "blocked": True})
    spaces = event("leef.log", 5).fields
    subset(spaces, {"msg": "docker api probe", "dst_port": 2375, "blocked": True})
    assert "LEEF header" in bad("leef.log", 6).reason


# --- FortiGate and key=value -----------------------------------------------------------------------------------

def test_fortigate_traffic() -> None:
    accepted = event("fortigate.log", 1)
    assert accepted.logsource == FORTIGATE_TRAFFIC
    assert accepted.timestamp is not None and accepted.timestamp.startswith("2026-11-28T03:00:00.1234")
    subset(accepted.fields, {
        "devname": "FGT-EDGE-01", "logid": "0000000013", "type": "traffic", "srcip": "10.0.0.15",
        "dstport": "21", "action": "accept", "policyname": "LAN to WAN", "src_ip": "10.0.0.15", "dst_port": 21,
        "blocked": False, "network.transport": "tcp", "source.bytes": 1024, "destination.bytes": 4096,
        "network.bytes": 5120, "network.packets": 22, "rule.id": "12", "rule.name": "LAN to WAN",
        "observer.name": "FGT-EDGE-01", "observer.serial_number": "FGT60FTK0000001", "event.code": "0000000013",
        "event.duration": 12_000_000_000, "source.nat.ip": "198.51.100.5", "source.nat.port": 50500,
        "network.protocol": "ftp", "event.module": "fortigate", "event.dataset": "fortigate.traffic"})
    denied = event("fortigate.log", 2).fields
    subset(denied, {"action": "deny", "blocked": True, "dst_port": 6379, "event.outcome": "failure"})


def test_fortigate_events_and_utm() -> None:
    policy = event("fortigate.log", 3)
    assert policy.logsource == FORTIGATE_EVENT
    subset(policy.fields, {"action": "Add", "cfgpath": "firewall.policy", "cfgobj": "33", "user.name": "admin",
                           "event.category": ["configuration"], "event.type": ["creation"],
                           "event.dataset": "fortigate.event"})
    login = event("fortigate.log", 5)
    subset(login.fields, {"event.category": ["authentication"], "event.outcome": "failure",
                          "source.ip": "203.0.113.70", "status": "failed"})
    ips = event("fortigate.log", 6)
    assert ips.logsource == LogSource(("fortigate",), (), ("utm",))
    subset(ips.fields, {"host": "fgt-edge-02", "program": None, "date": "2026-11-28", "attack":
                        "MS.SMB.Server.Trans.Heap.Overflow", "blocked": True, "event.kind": "alert",
                        "network.direction": "inbound", "dst_port": 445})
    assert "unterminated" in bad("fortigate.log", 7).reason


def test_generic_key_value_messages() -> None:
    first = event("keyvalue.log", 1)
    assert first.logsource == LINUX_SYSLOG
    subset(first.fields, {"user": "alice", "action": "login", "result": "success", "session": "a b c",
                          "program": "billing", "event.module": "keyvalue"})
    plain = event("keyvalue.log", 2)
    assert plain.fields["event.module"] == "syslog"
    quoted = event("keyvalue.log", 3).fields
    subset(quoted, {"path": "/share/finance/q3.xlsx", "kv.message": "removed by user", "severity": "warning",
                    "message": "host=nas01 op=delete path='/share/finance/q3.xlsx' user=bob "
                               'message="removed by user" severity=warning'})
    assert keyvalue.parse_pairs('a="x \\"y\\" z" b=\'q\' c=') == {"a": 'x "y" z', "b": "q", "c": ""}


# --- recognition, logsources, SigmaHQ --------------------------------------------------------------------------

FIXTURE_MODULES = {
    "netfilter.log": "netfilter", "netfilter_dmesg_iso.log": "netfilter", "pfsense_filterlog.log":
    "pfsense_filterlog", "pfsense_bare.csv": "pfsense_filterlog", "cisco_asa.log": "cisco_asa", "cef.log": "cef",
    "leef.log": "leef", "fortigate.log": "fortigate", "keyvalue.log": "keyvalue", "netfilter_dmesg.log": "netfilter",
}


@pytest.mark.parametrize("name", sorted(FIXTURE_MODULES))
def test_files_are_recognised_by_content(name: str) -> None:
    items = list(read_file(FIXTURES / name))
    modules = [item.fields["event.module"] for item in items if isinstance(item, Event)]
    assert modules and max(set(modules), key=modules.count) == FIXTURE_MODULES[name]
    for item in items:
        assert item.source == str(FIXTURES / name) and item.position.isdigit()


def test_declared_logsources_reach_the_sigmahq_facets() -> None:
    assert logsource_supported(None, "firewall", None)
    assert logsource_supported("fortigate", None, "event")
    assert logsource_supported("cisco", None, "aaa")
    assert logsource_supported("cisco", None, "asa")
    names = {parser.name for parser in message_parsers()}
    assert {"netfilter", "pfsense_filterlog", "cisco_asa", "cef", "leef", "fortigate", "keyvalue"} <= names


def test_sigmahq_rules_fire_on_the_fixtures(sigmahq_rules: Any) -> None:
    items: list[Event | BadRecord] = []
    for name in FIXTURE_MODULES:
        items.extend(read(name))
    fired = fired_rule_ids(sigmahq_rules, items)
    expected = {
        "d7fb8f0e-bd5f-45c2-b467-19571c490d7e",  # Cleartext Protocol Usage (category firewall)
        "881834a4-6659-4773-821e-1c151789d873",  # Equation Group C2 Communication (category firewall)
        "f24ab7a8-f09a-4319-82c1-915586aa642b",  # FortiGate - New Firewall Policy Added
        "cd0a4943-0edd-42cf-b50c-06f77a10d4c1",  # FortiGate - New Administrator Account Created
        "ceb407f6-8277-439b-951f-e4210e3ed956",  # Cisco Clear Logs (cisco/aaa keywords on ASA 111008)
    }
    assert expected <= fired, expected - fired


def test_cleartext_rule_fires_per_format(sigmahq_rules: Any) -> None:
    cleartext = "d7fb8f0e-bd5f-45c2-b467-19571c490d7e"
    for name, line in (("pfsense_filterlog.log", 2), ("fortigate.log", 1), ("netfilter.log", 9),
                       ("cisco_asa.log", 2), ("cef.log", 2), ("leef.log", 2)):
        assert cleartext in fired_rule_ids(sigmahq_rules, [event(name, line)]), (name, line)
    assert cleartext not in fired_rule_ids(sigmahq_rules, [event("cisco_asa.log", 12)])  # a deny to port 21


# --- helpers ---------------------------------------------------------------------------------------------------

def test_verdict_words() -> None:
    assert verdict_of("[UFW BLOCK]") is False and verdict_of("IPTABLES-DROP:") is False
    assert verdict_of("FINAL_REJECT:") is False and verdict_of("ACCEPT-then-DROP") is False
    assert verdict_of("[UFW ALLOW]") is True and verdict_of("server-rst") is True
    assert verdict_of("[UFW AUDIT]") is None and verdict_of(None) is None and verdict_of("") is None


def test_device_times() -> None:
    assert device_time("1795834800000", REFERENCE) == "2026-11-28T03:00:00Z"
    assert device_time("1795834800", REFERENCE) == "2026-11-28T03:00:00Z"
    assert device_time("Nov 28 2026 03:00:01.250 UTC", REFERENCE) == "2026-11-28T03:00:01.250000Z"
    assert device_time("Nov 28 03:00:01 +0100", REFERENCE) == "2026-11-28T02:00:01Z"
    assert device_time("2026-11-28T03:00:00+01:00", REFERENCE) == "2026-11-28T02:00:00Z"
    assert device_time("yesterday", REFERENCE) is None and device_time("9" * 25, REFERENCE) is None
    assert java_time("28/Nov/2026:03:00:00 +0000", "dd/MMM/yyyy:HH:mm:ss Z") == "2026-11-28T03:00:00Z"
    assert java_time("2026", "yyyy yyyy") is None and java_time("x", "QQQ") is None


# --- fuzzing ---------------------------------------------------------------------------------------------------

def _fixture_lines() -> list[str]:
    lines: list[str] = []
    for name in sorted(FIXTURE_MODULES):
        lines.extend(line for line in (FIXTURES / name).read_text().splitlines() if line.strip())
    return lines


LINES = _fixture_lines()
PARSERS: list[MessageParser] = [*netfilter.PARSERS, *pfsense.PARSERS, *cisco_asa.PARSERS, *cef.PARSERS,
                                *leef.PARSERS, *keyvalue.PARSERS]
ALPHABET = st.sampled_from([*"|=\\\"' :,/<>[]()%^\t-0123456789abcXYZ.", "CEF:0|", "LEEF:2.0|", "%ASA-6-", "IN=",
                            " OUT=", "SRC=", "x09"])


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(LINES))
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(("cut", "insert", "delete", "truncate")))
        if action == "cut":
            line = line[position:]
        elif action == "truncate":
            line = line[:position]
        elif action == "insert":
            line = line[:position] + "".join(draw(st.lists(ALPHABET, max_size=5))) + line[position:]
        else:
            line = line[:position] + line[position + draw(st.integers(1, 10)):]
    return line


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.name)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_message_parser(parser: MessageParser, data: st.DataObject) -> None:
    line = data.draw(mutated_lines() | st.text(max_size=200))
    reader = SyslogParser([parser])
    for envelope, message in ((Envelope(line=line), line),
                              (Envelope(timestamp="2026-11-28T03:00:00Z", original_time="Nov 28 03:00:00",
                                        host="h", program=data.draw(st.sampled_from(
                                            ("kernel", "filterlog", "CEF", "LEEF", "%ASA-6-302013", "date=x",
                                             "app")))), line)):
        with contextlib.suppress(Malformed):
            parser.parse(message, envelope, CONTEXT)
    for item in reader.parse([(1, line)], CONTEXT):
        assert item.position == "1"
        assert not isinstance(item, BadRecord) or not item.reason.startswith("parser failed"), item.reason


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(mutated_lines(), min_size=1, max_size=6))
def test_fuzz_files_through_recognition(lines: list[str]) -> None:
    for item in read_bytes("\n".join(lines).encode(), "fuzz.log", REFERENCE):
        assert isinstance(item, Event | BadRecord)
        assert not isinstance(item, BadRecord) or not item.reason.startswith("parser failed"), item.reason
        if isinstance(item, Event):
            assert isinstance(item.fields, dict) and item.fields
