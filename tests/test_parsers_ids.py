"""IDS/IPS and network monitoring: Suricata EVE JSON, Snort fast alerts (file and syslog), Zeek JSON and TSV logs."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import BadRecord, Event, LogSource
from yamori.parsers import snort, suricata, zeek
from yamori.parsers.base import Envelope, Malformed, ParseContext, Parsed
from yamori.parsers.registry import all_parsers, logsource_supported
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "ids"
REFERENCE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def items_of(name: str) -> list[Event | BadRecord]:
    return list(read_file(FIXTURES / name))


def events_of(name: str) -> list[Event]:
    return [item for item in items_of(name) if isinstance(item, Event)]


def bad_of(name: str) -> list[BadRecord]:
    return [item for item in items_of(name) if isinstance(item, BadRecord)]


def by_position(name: str) -> dict[str, Event]:
    return {event.position: event for event in events_of(name)}


def only_event(data: bytes | str, name: str = "sample.log", reference: datetime = REFERENCE) -> Event:
    raw = data.encode() if isinstance(data, str) else data
    items = read_bytes(raw, name, reference)
    assert len(items) == 1 and isinstance(items[0], Event), items
    return items[0]


def ls(product: str, category: str | None = None, service: str | None = None) -> LogSource:
    return LogSource(product=(product,), category=(category,) if category else (),
                     service=(service,) if service else ())


# ------------------------------------------------------------------------------------------------------------
# registry and logsources
# ------------------------------------------------------------------------------------------------------------


def test_parsers_are_registered_and_logsources_supported() -> None:
    names = {parser.name for parser in all_parsers()}
    assert {"suricata", "snort", "snort_syslog", "zeek", "zeek_tsv"} <= names
    for product, category, service in [("zeek", None, "dns"), ("zeek", None, "http"), ("zeek", None, "smb_files"),
                                       ("zeek", None, "dce_rpc"), ("zeek", None, "kerberos"), ("zeek", None, "rdp"),
                                       ("zeek", None, "x509"), (None, "dns", None), (None, "proxy", None),
                                       (None, "ids", None), ("suricata", None, None), ("snort", "ids", None),
                                       (None, None, "netflow")]:
        assert logsource_supported(product, category, service), (product, category, service)


# ------------------------------------------------------------------------------------------------------------
# Suricata EVE
# ------------------------------------------------------------------------------------------------------------


def test_suricata_alert() -> None:
    event = by_position("suricata_eve.json")["1"]
    fields = event.fields
    assert event.logsource == ls("suricata", "ids", "alert")
    assert event.timestamp == fields["@timestamp"] == "2026-11-28T03:00:00.123456Z"
    assert fields["timestamp"] == "2026-11-28T03:00:00.123456+0000"
    # original fields, flattened with dots
    assert fields["alert.signature"] == "ET MALWARE Possible Cobalt Strike Beacon Request"
    assert fields["alert.severity"] == 1 and fields["alert.signature_id"] == 2024897
    assert fields["alert.metadata.attack_target"] == ["Client_Endpoint"]
    assert fields["http.hostname"] == "updates.example.test"
    # ECS
    assert fields["event.kind"] == "alert"
    assert fields["event.category"] == ["network", "intrusion_detection"]
    assert fields["event.type"] == ["allowed"] and fields["event.action"] == "allowed"
    assert fields["event.severity"] == 1
    assert fields["rule.id"] == "2024897" and fields["rule.version"] == "4"
    assert fields["rule.name"] == "ET MALWARE Possible Cobalt Strike Beacon Request"
    assert fields["rule.category"] == "A Network Trojan was detected"
    assert fields["threat.technique.id"] == ["T1071"] and fields["threat.tactic.id"] == ["TA0011"]
    assert fields["source.ip"] == "10.0.0.5" and fields["source.port"] == 51234
    assert fields["destination.ip"] == "203.0.113.9" and fields["destination.port"] == 80
    assert fields["network.transport"] == "tcp" and fields["network.protocol"] == "http"
    assert fields["network.community_id"] == "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="
    assert fields["network.bytes"] == 822 and fields["network.packets"] == 7
    assert fields["observer.name"] == "sensor01" and fields["observer.type"] == "ids"
    assert fields["observer.ingress.interface.name"] == "eth0"
    assert fields["url.domain"] == "updates.example.test" and fields["url.original"] == "/submit.php?id=42"
    assert fields["event.module"] == "suricata" and fields["event.dataset"] == "suricata.alert"


def test_suricata_blocked_alert_is_denied() -> None:
    fields = by_position("suricata_eve.json")["2"].fields
    assert fields["event.type"] == ["denied"] and fields["event.action"] == "blocked"
    assert fields["event.severity"] == 2


def test_suricata_dns_v1_query_and_answer() -> None:
    events = by_position("suricata_eve.json")
    query, answer = events["3"].fields, events["4"].fields
    assert events["3"].logsource == ls("suricata", "dns", "dns")
    assert query["dns.rrname"] == "api.telegram.org" and query["dns.type"] == "query"
    assert query["dns.question.name"] == query["query"] == "api.telegram.org"
    assert query["dns.question.type"] == query["record_type"] == "A"
    assert "answer" not in query and "dns.response_code" not in query
    assert answer["dns.rdata"] == "149.154.167.220"
    assert answer["dns.answers.data"] == answer["answer"] == ["149.154.167.220"]
    assert answer["dns.resolved_ip"] == ["149.154.167.220"]
    assert answer["dns.response_code"] == "NOERROR"


def test_suricata_dns_v2_answers_and_grouped() -> None:
    events = by_position("suricata_eve.json")
    detailed, grouped = events["5"].fields, events["6"].fields
    assert detailed["dns.answers.rdata"] == ["cdn.example.test", "192.0.2.10"]
    assert detailed["answer"] == ["cdn.example.test", "192.0.2.10"]
    assert detailed["dns.answers.type"] == ["CNAME", "A"]
    assert detailed["dns.answers.name"] == ["www.example.test", "cdn.example.test"]
    assert detailed["dns.resolved_ip"] == ["192.0.2.10"]
    assert detailed["dns.header_flags"] == ["QR", "RD", "RA"]
    assert detailed["dns.grouped.A"] == ["192.0.2.10"]
    # only the grouped form: answers from the groups
    assert grouped["answer"] == ["v=spf1 -all"] and grouped["dns.answers.type"] == ["TXT"]
    assert grouped["record_type"] == "TXT"


def test_suricata_dns_v3_queries() -> None:
    fields = by_position("suricata_eve.json")["7"].fields
    assert fields["dns.queries.rrname"] == ["c2.example.onion.to"]
    assert fields["query"] == fields["dns.question.name"] == "c2.example.onion.to"
    assert fields["record_type"] == "AAAA"
    assert fields["dns.type"] == "request"  # Suricata's own value stays
    assert "dns.response_code" not in fields


def test_suricata_http_with_proxy_names() -> None:
    event = by_position("suricata_eve.json")["8"]
    fields = event.fields
    assert event.logsource == ls("suricata", "proxy", "http")
    assert fields["event.category"] == ["network", "web"]
    assert fields["http.request.method"] == fields["cs-method"] == "GET"
    assert fields["http.response.status_code"] == fields["sc-status"] == 200
    assert fields["http.version"] == "1.1" and fields["http.response.body.bytes"] == 73802
    assert fields["user_agent.original"] == fields["c-useragent"] == "curl/8.5.0"
    assert fields["url.domain"] == fields["cs-host"] == "files.example.test"
    assert fields["url.original"] == fields["c-uri"] == "/downloads/setup.exe?x=1"
    assert fields["url.path"] == fields["c-uri-stem"] == "/downloads/setup.exe"
    assert fields["url.query"] == fields["c-uri-query"] == "x=1"
    assert fields["c-uri-extension"] == "exe" and fields["url.port"] == 8080
    assert fields["http.request.referrer"] == fields["cs-referrer"] == "http://portal.example.test/"
    assert fields["dst_ip"] == "203.0.113.9" and fields["dst_port"] == 80


def test_suricata_tls() -> None:
    fields = by_position("suricata_eve.json")["9"].fields
    assert fields["tls.sni"] == fields["tls.client.server_name"] == "secure.example.test"
    assert fields["tls.server.subject"] == "CN=secure.example.test"
    assert fields["tls.server.issuer"] == "C=US, O=Example CA, CN=Example Issuing CA"
    assert fields["tls.server.x509.serial_number"] == "0A1B2C3D"
    assert fields["tls.server.hash.sha1"] == "AABBCCDDEEFF00112233445566778899AABBCCDD"
    assert fields["tls.server.not_before"] == "2026-01-01T00:00:00Z"
    assert fields["tls.client.ja3"] == "e7d705a3286e19ea42f587b344ee6865"
    assert fields["tls.server.ja3s"] == "f4febc55ea12b31ae17cfb7e614afda8"
    assert fields["tls.version"] == "TLS 1.2" and fields["tls.version_protocol"] == "tls"


def test_suricata_flow_fileinfo_netflow() -> None:
    events = by_position("suricata_eve.json")
    flow = events["10"].fields
    assert flow["event.type"] == ["connection", "end"]
    assert flow["network.bytes"] == 91500 and flow["source.bytes"] == 1500 and flow["destination.bytes"] == 90000
    assert flow["network.packets"] == 22
    assert flow["event.duration"] == 5_500_000_000
    assert flow["event.start"] == "2026-11-28T02:59:59.900000Z" and flow["event.end"] == "2026-11-28T03:00:05.400000Z"
    fileinfo = events["11"].fields
    assert fileinfo["event.category"] == ["network", "file"]
    assert fileinfo["file.name"] == "setup.exe" and fileinfo["file.path"] == "/downloads/setup.exe"
    assert fileinfo["file.size"] == 73802
    assert fileinfo["file.hash.sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert fileinfo["url.domain"] == "files.example.test"
    netflow = events["18"].fields
    assert events["18"].logsource == ls("suricata", None, "netflow")
    assert netflow["network.bytes"] == 1500 and netflow["event.duration"] == 2_500_000_000


def test_suricata_generic_event_types() -> None:
    events = by_position("suricata_eve.json")
    services = {position: event.logsource.service for position, event in events.items()}
    assert services["12"] == ("anomaly",) and services["13"] == ("ssh",) and services["14"] == ("smb",)
    assert services["15"] == ("dhcp",) and services["16"] == ("stats",) and services["17"] == ("drop",)
    assert events["12"].fields["event.action"] == "decoder.udp.hlen_invalid"
    assert events["13"].fields["ssh.client.software_version"] == "OpenSSH_9.6"
    assert events["14"].fields["smb.share"] == "\\\\fs01\\IPC$"
    assert events["15"].fields["client.ip"] == "10.0.0.77"
    assert events["17"].fields["event.type"] == ["denied"]
    for event in events.values():
        if event.fields["event_type"] != "alert":
            assert event.fields["event.kind"] == "event"


def test_suricata_unknown_event_type_is_still_suricata() -> None:
    record = {"timestamp": "2026-11-28T03:00:00+0000", "flow_id": 1, "event_type": "brand_new", "src_ip": "10.0.0.1",
              "brand_new": {"x": 1}}
    event = only_event(json.dumps(record), "eve.json")
    assert event.logsource == ls("suricata")
    assert event.fields["brand_new.x"] == 1 and event.fields["event.dataset"] == "suricata.brand_new"


def test_suricata_malformed_records() -> None:
    items = items_of("suricata_malformed.json")
    bad = [item for item in items if isinstance(item, BadRecord)]
    events = [item for item in items if isinstance(item, Event)]
    assert [event.position for event in events] == ["1", "5"]
    assert [(record.position, record.source) for record in bad] == [
        ("2", str(FIXTURES / "suricata_malformed.json")), ("3", str(FIXTURES / "suricata_malformed.json")),
        ("4", str(FIXTURES / "suricata_malformed.json"))]
    assert "invalid JSON" in bad[0].reason
    assert "timestamp" in bad[1].reason and "src_port" in bad[2].reason


def test_suricata_accepts_only_eve_records() -> None:
    parser = suricata.SuricataEveParser()
    context = ParseContext("x")
    assert parser.accepts({"timestamp": "t", "event_type": "dns"}, context)
    assert not parser.accepts({"event_type": "dns"}, context)
    assert not parser.accepts({"timestamp": "t", "event_type": "custom"}, context)
    assert parser.accepts({"timestamp": "t", "event_type": "custom", "flow_id": 3}, context)
    assert not parser.accepts({"timestamp": "t", "event_type": 5}, context)


# ------------------------------------------------------------------------------------------------------------
# Snort
# ------------------------------------------------------------------------------------------------------------


def test_snort_fast_alert() -> None:
    event = by_position("snort_fast.log")["1"]
    fields = event.fields
    assert event.logsource == ls("snort", "ids")
    assert event.raw.startswith("11/28-03:00:00.123456")
    assert fields["timestamp"] == "11/28-03:00:00.123456"
    assert fields["gid"] == 1 and fields["sid"] == 2019401 and fields["rev"] == 3
    assert fields["msg"] == fields["rule.name"] == "ET POLICY Vulnerable Java Version 1.8.x Detected"
    assert fields["classification"] == fields["rule.category"] == "Potential Corporate Privacy Violation"
    assert fields["priority"] == fields["event.severity"] == 1
    assert fields["rule.id"] == "2019401" and fields["rule.version"] == "3"
    assert fields["event.kind"] == "alert" and fields["event.category"] == ["network", "intrusion_detection"]
    assert fields["src_ip"] == fields["source.ip"] == "10.0.0.5"
    assert fields["src_port"] == fields["source.port"] == 51234
    assert fields["dest_ip"] == fields["destination.ip"] == "203.0.113.9"
    assert fields["dest_port"] == fields["destination.port"] == 443
    assert fields["network.transport"] == "tcp"
    assert fields["event.module"] == "snort" and fields["event.dataset"] == "snort.alert"


def test_snort_fast_variants() -> None:
    events = by_position("snort_fast.log")
    icmp = events["3"].fields
    assert icmp["network.transport"] == "icmp" and "source.port" not in icmp and icmp["source.ip"] == "10.0.0.9"
    snort3 = events["4"].fields
    assert snort3["msg"] == "LOCAL possible webshell upload"  # quotes removed
    assert snort3["appid"] == "HTTP" and snort3["network.protocol"] == "http"
    drop = events["5"].fields
    assert drop["action"] == "drop" and drop["event.type"] == ["denied"] and "classification" not in drop
    ipv6 = events["6"].fields
    assert (ipv6["source.ip"], ipv6["source.port"]) == ("2001:db8::5", 5353)
    assert (ipv6["destination.ip"], ipv6["destination.port"]) == ("2001:db8::1", 53)
    bare_ipv6 = events["7"].fields
    assert (bare_ipv6["source.ip"], bare_ipv6["source.port"]) == ("2001:db8::7", 1234)
    assert bare_ipv6["rule.id"] == "129:12"  # a preprocessor (gid 129) alert
    with_year = events["10"]
    assert with_year.timestamp == "2026-11-28T03:00:08Z"


def test_snort_fast_bad_lines_and_positions() -> None:
    bad = bad_of("snort_fast.log")
    assert [(record.position, record.source) for record in bad] == [
        ("8", str(FIXTURES / "snort_fast.log")), ("9", str(FIXTURES / "snort_fast.log"))]
    assert "not a Snort fast alert" in bad[0].reason and "time" in bad[1].reason
    assert len(events_of("snort_fast.log")) == 8


@pytest.mark.parametrize(("reference", "expected"), [
    (datetime(2027, 1, 2, tzinfo=UTC), "2026-11-28T03:00:00.123456Z"),
    (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "2026-11-28T03:00:00.123456Z"),
    (datetime(2026, 6, 1, tzinfo=UTC), "2025-11-28T03:00:00.123456Z"),
])
def test_snort_year_resolved_against_reference_time(reference: datetime, expected: str) -> None:
    line = (FIXTURES / "snort_fast.log").read_text().splitlines()[0]
    event = only_event(line + "\n", "alert", reference)
    assert event.timestamp == expected


def test_snort_syslog() -> None:
    events = by_position("snort_syslog.log")
    first = events["1"]
    assert first.logsource == ls("snort", "ids")
    fields = first.fields
    assert first.timestamp == "2026-11-28T03:10:00Z"
    assert fields["host"] == "ids01" and fields["program"] == "snort" and fields["pid"] == "812"
    assert fields["sid"] == 2019401 and fields["priority"] == fields["event.severity"] == 1
    assert fields["interface"] == fields["observer.ingress.interface.name"] == "eth0"
    assert fields["destination.port"] == 443 and fields["event.module"] == "snort"
    rfc5424 = events["3"]
    assert rfc5424.timestamp == "2026-11-28T03:10:02.250000Z"
    assert rfc5424.fields["msg"] == "LOCAL possible webshell upload" and rfc5424.fields["appid"] == "HTTP"
    # a snort message that is not an alert stays a generic syslog event
    assert events["4"].logsource != ls("snort", "ids") and "sid" not in events["4"].fields
    [bad] = bad_of("snort_syslog.log")
    assert bad.position == "5" and "address and port" in bad.reason


def test_snort_syslog_message_with_its_own_time() -> None:
    parser = snort.SnortSyslogParser()
    context = ParseContext("x", reference_time=REFERENCE)
    envelope = Envelope(timestamp="2026-11-28T05:00:00Z", host="ids01", program="snort")
    parsed = parser.parse("11/28-03:00:00.500000 [**] [1:1:1] test [**] [Priority: 2] {UDP} 10.0.0.1:1 -> 10.0.0.2:2",
                          envelope, context)
    assert parsed is not None and parsed.timestamp == "2026-11-28T03:00:00.500000Z"
    assert parsed.fields["alert_time"] == "11/28-03:00:00.500000"
    assert parser.parse("Commencing packet processing", envelope, context) is None


def test_snort_is_recognised_from_content() -> None:
    event = only_event("11/28-03:00:00.000001  [**] [1:1:1] x [**] {TCP} 10.0.0.1:1 -> 10.0.0.2:2\n", "whatever.txt")
    assert event.fields["event.module"] == "snort"


# ------------------------------------------------------------------------------------------------------------
# Zeek TSV
# ------------------------------------------------------------------------------------------------------------


def test_zeek_tsv_conn() -> None:
    events = by_position("conn.log")
    assert sorted(events, key=int) == ["9", "10", "11", "14"]
    first = events["9"]
    fields = first.fields
    assert first.logsource == ls("zeek", None, "conn")
    assert first.timestamp == "2026-11-28T03:00:00.123456Z"
    assert fields["ts"] == 1795834800.123456
    assert fields["id.orig_h"] == "10.0.0.5" and fields["id.orig_p"] == 51234
    assert fields["duration"] == 2.5 and fields["orig_bytes"] == 1200
    assert fields["local_orig"] is True and fields["local_resp"] is False
    assert fields["tunnel_parents"] == []  # (empty)
    assert fields["source.port"] == 51234 and fields["destination.port"] == 443
    assert fields["network.transport"] == "tcp" and fields["network.protocol"] == "ssl"
    assert fields["event.duration"] == 2_500_000_000
    assert fields["network.bytes"] == 2240 + 56400 and fields["network.packets"] == 65
    assert fields["zeek.session_id"] == "CAbc123xyz1" and "event.id" not in fields
    assert fields["event.type"] == ["connection", "end"] and fields["event.dataset"] == "zeek.conn"
    assert fields["event.module"] == "zeek"
    unset = events["11"].fields
    assert "service" not in unset and "duration" not in unset and "event.duration" not in unset
    assert unset["tunnel_parents"] == ["CTun1", "CTun2"]
    assert "tunnel_parents" not in events["10"].fields  # "-" is unset


def test_zeek_tsv_bad_lines() -> None:
    bad = bad_of("conn.log")
    assert [record.position for record in bad] == ["12", "13"]
    assert bad[0].reason == "5 values for 21 #fields"
    assert bad[1].reason == "field id.orig_p: 'not-a-port' is not a port"
    assert bad[1].source == str(FIXTURES / "conn.log")


def test_zeek_tsv_dns_type_from_file_name() -> None:
    events = by_position("dns.log")
    onion = events["7"]
    assert onion.logsource == ls("zeek", "dns", "dns")
    assert onion.fields["query"] == "abcdefghij.onion" and onion.fields["rcode_name"] == "NXDOMAIN"
    assert onion.fields["AA"] is False and onion.fields["RD"] is True
    answered = events["8"].fields
    assert answered["answers"] == answered["answer"] == ["cdn.example.test", "192.0.2.10"]
    assert answered["TTLs"] == [60.0, 60.0]
    assert answered["record_type"] == "A" and answered["dns.resolved_ip"] == ["192.0.2.10"]
    escaped = events["9"].fields
    assert escaped["query"] == "odd\tname,with.separators.test"
    [bad] = bad_of("dns.log")
    assert bad.position == "10" and bad.reason == "field RA: 'X' is not a bool"


@pytest.mark.parametrize("name", ["dns.00:00:00-01:00:00.log", "dns_20261128_00:00:00-01:00:00+0000.log", "x.log"])
def test_zeek_tsv_log_type_from_rotated_names_or_fields(name: str) -> None:
    text = (FIXTURES / "dns.log").read_text()
    items = read_bytes(text.encode(), name, REFERENCE)
    events = [item for item in items if isinstance(item, Event)]
    assert len(events) == 3
    assert all(event.logsource == ls("zeek", "dns", "dns") for event in events)


def test_zeek_tsv_several_header_blocks_and_gzip() -> None:
    conn = (FIXTURES / "conn.log").read_text()
    dns = (FIXTURES / "dns.log").read_text().replace("#fields", "#path\tdns\n#fields", 1)
    data = gzip.compress((conn + dns).encode())
    items = read_bytes(data, "zeek-all.log.gz", REFERENCE)
    events = [item for item in items if isinstance(item, Event)]
    services = Counter(event.logsource.service[0] for event in events)
    assert services == {"conn": 4, "dns": 3}
    assert sum(isinstance(item, BadRecord) for item in items) == 3


def test_zeek_tsv_and_json_give_the_same_fields() -> None:
    header = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
              "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tAA\tanswers\t"
              "TTLs\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tbool\tvector[string]\t"
              "vector[interval]\n")
    row = ("1795834800.5\tCx1\t10.0.0.1\t5353\t10.0.0.2\t53\tudp\t7\texample.test\tF\t"
           "a.example.test,192.0.2.1\t1.0,2.5\n")
    record = {"_path": "dns", "ts": 1795834800.5, "uid": "Cx1", "id.orig_h": "10.0.0.1", "id.orig_p": 5353,
              "id.resp_h": "10.0.0.2", "id.resp_p": 53, "proto": "udp", "trans_id": 7, "query": "example.test",
              "AA": False, "answers": ["a.example.test", "192.0.2.1"], "TTLs": [1.0, 2.5]}
    from_tsv = only_event(header + row, "dns.log")
    from_json = only_event(json.dumps(record), "dns.json")
    assert {k: v for k, v in from_tsv.fields.items() if k != "_path"} == \
        {k: v for k, v in from_json.fields.items() if k != "_path"}
    assert from_tsv.timestamp == from_json.timestamp == "2026-11-28T03:00:00.500000Z"


def test_zeek_tsv_data_before_header() -> None:
    items = read_bytes(b"#separator \\x09\n1.0\tx\n", "conn.log", REFERENCE)
    assert len(items) == 1 and isinstance(items[0], BadRecord) and "before the #fields" in items[0].reason


# ------------------------------------------------------------------------------------------------------------
# Zeek JSON
# ------------------------------------------------------------------------------------------------------------


def test_zeek_json_log_types_and_logsources() -> None:
    events = by_position("zeek_mixed.json")
    expected = {"1": ls("zeek", "dns", "dns"), "3": ls("zeek", "proxy", "http"), "5": ls("zeek", None, "ssl"),
                "6": ls("zeek", None, "files"), "7": ls("zeek", "ids", "notice"), "8": ls("zeek", None, "weird"),
                "9": ls("zeek", None, "x509"), "10": ls("zeek", None, "smb_files"),
                "11": ls("zeek", None, "kerberos"), "12": ls("zeek", None, "dce_rpc"), "13": ls("zeek", None, "ntlm"),
                "14": ls("zeek", None, "ssh"), "15": ls("zeek", None, "dhcp"), "16": ls("zeek", None, "ftp"),
                "17": ls("zeek", None, "smtp"), "18": ls("zeek", None, "software"), "19": ls("zeek", None, "rdp"),
                "20": ls("zeek", "ids", "signatures"), "21": ls("zeek"), "22": ls("zeek", None, "loaded_scripts")}
    for position, logsource in expected.items():
        assert events[position].logsource == logsource, position
    assert events["21"].fields["event.dataset"] == "zeek.mylog"
    assert events["22"].timestamp is None  # only a _write_ts of 1970
    [bad] = bad_of("zeek_mixed.json")
    assert bad.position == "23" and "ts is not a time" in bad.reason


def test_zeek_json_dns_http_ssl_files() -> None:
    events = by_position("zeek_mixed.json")
    dns = events["2"].fields
    assert dns["query"] == dns["dns.question.name"] == "api.telegram.org"
    assert dns["answer"] == dns["dns.answers.data"] == ["149.154.167.220"]
    assert dns["record_type"] == dns["dns.question.type"] == "A"
    assert dns["dns.response_code"] == "NOERROR" and dns["dns.id"] == "322" and dns["dns.type"] == "answer"
    http = events["4"].fields
    assert http["method"] == http["http.request.method"] == http["cs-method"] == "GET"
    assert http["uri"] == http["url.original"] == http["c-uri"] == "/bucket/archive.zip?sig=abc"
    assert http["url.path"] == "/bucket/archive.zip" and http["url.query"] == "sig=abc"
    assert http["c-uri-extension"] == "zip" and http["c-useragent"] == "rclone/v1.66.0"
    assert http["host"] == http["url.domain"] == http["cs-host"] == "storage.example.test"
    assert http["http.response.status_code"] == http["sc-status"] == 200
    assert http["http.response.mime_type"] == "application/zip"
    assert http["user.name"] == "backup" and http["dst_ip"] == "203.0.113.30"
    ssl = events["5"]
    assert ssl.timestamp == "2026-11-28T03:01:43Z"
    assert ssl.fields["tls.version"] == "1.3" and ssl.fields["tls.version_protocol"] == "tls"
    assert ssl.fields["tls.client.server_name"] == "secure.example.test"
    assert ssl.fields["tls.client.ja3"] == "e7d705a3286e19ea42f587b344ee6865"
    files = events["6"].fields
    assert files["file.name"] == "archive.zip" and files["file.size"] == 1048576
    assert files["file.hash.md5"] == "0cc175b9c0f1b6a831c399e269772661"
    assert files["event.category"] == ["network", "file"]


def test_zeek_json_notice_weird_x509_and_authentication() -> None:
    events = by_position("zeek_mixed.json")
    notice = events["7"].fields
    assert notice["event.kind"] == "alert" and notice["rule.name"] == "SSL::Invalid_Server_Cert"
    assert notice["message"].startswith("SSL certificate validation failed")
    assert notice["event.category"] == ["network", "intrusion_detection"]
    assert events["8"].fields["event.action"] == "data_before_established"
    x509 = events["9"].fields
    assert x509["certificate.serial"] == x509["tls.server.x509.serial_number"] == "8BB00EE"
    assert x509["tls.server.x509.not_before"] == "2015-05-12T03:06:40Z"
    assert x509["tls.server.hash.sha256"] == x509["fingerprint"].upper()
    smb = events["10"].fields
    assert smb["file.name"] == "csexecsvc-stdin" and smb["file.path"] == "\\\\fs01\\IPC$\\csexecsvc-stdin"
    kerberos = events["11"].fields
    assert (kerberos["user.name"], kerberos["user.domain"]) == ("jdoe", "CORP.EXAMPLE.TEST")
    assert kerberos["event.outcome"] == "success" and kerberos["event.category"] == ["network", "authentication"]
    ntlm = events["13"].fields
    assert ntlm["user.name"] == "jdoe" and ntlm["event.outcome"] == "failure"
    assert events["14"].fields["event.outcome"] == "failure"
    assert events["15"].fields["source.mac"] == "00-11-22-33-44-55"
    ftp = events["16"].fields
    assert ftp["user.name"] == "anonymous" and ftp["event.outcome"] == "failure"
    smtp = events["17"].fields
    assert smtp["email.to.address"] == ["bob@example.test", "carol@example.test"]
    assert events["19"].fields["user.name"] == "administrator"
    signature = events["20"].fields
    assert signature["rule.id"] == "http-shellshock" and signature["destination.port"] == 80


def test_zeek_json_type_from_name_nested_ids_and_millisecond_times() -> None:
    events = events_of("conn.json")
    assert [event.logsource for event in events] == [ls("zeek", None, "conn")] * 2
    first, second = (event.fields for event in events)
    assert first["id.orig_h"] == "10.0.0.5" and first["source.port"] == 51234  # nested "id" flattened
    assert first["network.community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert events[1].timestamp == "2026-11-28T03:02:01Z"  # ts in milliseconds
    assert second["source.ip"] == "fe80::1" and second["event.duration"] == 0


def test_zeek_json_type_from_fields() -> None:
    events = events_of("network_export.ndjson")
    assert [event.logsource for event in events] == [ls("zeek", "dns", "dns"), ls("zeek", "proxy", "http"), ls("zeek")]


def test_zeek_json_gzip_name() -> None:
    record = {"ts": 1795834800.0, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 1, "id.resp_h": "10.0.0.2",
              "id.resp_p": 53, "query": "example.test"}
    event = only_event(gzip.compress(json.dumps(record).encode()), "dns.json.gz")
    assert event.logsource == ls("zeek", "dns", "dns")


@pytest.mark.parametrize(("name", "log_type"), [
    ("conn.log", "conn"), ("dns.json", "dns"), ("conn.00:00:00-01:00:00.log", "conn"), ("smb_files.log", "smb_files"),
    ("http_20261128_00:00:00-01:00:00+0000.log", "http"), ("notes.txt", None), ("eve.json", None),
])
def test_log_type_from_name(name: str, log_type: str | None) -> None:
    assert zeek.log_type_from_name(name) == log_type


@pytest.mark.parametrize(("path", "log_type"), [
    ("dns", "dns"), ("conn_red", "conn"), ("conn-summary", "conn"), ("smb_files", "smb_files"), ("mine", "mine"),
])
def test_path_log_type(path: str, log_type: str) -> None:
    assert zeek.path_log_type(path) == log_type


@pytest.mark.parametrize(("value", "expected"), [
    (1795834800.25, "2026-11-28T03:00:00.250000Z"), (1795834800250, "2026-11-28T03:00:00.250000Z"),
    ("1795834800.25", "2026-11-28T03:00:00.250000Z"), ("2026-11-28T03:00:00.250000Z", "2026-11-28T03:00:00.250000Z"),
    ("2026-11-28T04:00:00.000000+01:00", "2026-11-28T03:00:00Z"),
    ("2026-11-28T03:00:00.000000Z", "2026-11-28T03:00:00Z"),
    ("soon", None), (None, None), (True, None), (1e300, None),
])
def test_zeek_time(value: Any, expected: str | None) -> None:
    assert zeek.zeek_time(value) == expected


# ------------------------------------------------------------------------------------------------------------
# the Zeek JSON dataset: every file, every line
# ------------------------------------------------------------------------------------------------------------


def test_zeek_json_dataset_parses_without_bad_records(shared: Path) -> None:
    folder = shared / "datasets" / "brimdata_zed-sample-data" / "zeek-json"
    files = sorted(folder.glob("*.json.gz"))
    assert len(files) >= 30
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    bad: list[BadRecord] = []
    for path in files:
        log_type = path.name.split(".", 1)[0]
        for item in read_file(path):
            if isinstance(item, BadRecord):
                bad.append(item)
                continue
            assert item.logsource.service == (log_type,), (path.name, item.position, item.logsource)
            assert item.fields["event.dataset"] == f"zeek.{log_type}"
            counts[log_type] += 1
    elapsed = time.perf_counter() - started
    assert not bad, bad[:5]
    assert sum(counts.values()) == 158_439
    assert counts["dns"] == 53_615 and counts["ssl"] == 49_474 and counts["weird"] == 24_202
    assert elapsed < 60, f"{elapsed:.1f} s"


# ------------------------------------------------------------------------------------------------------------
# SigmaHQ rules fire on the fixtures
# ------------------------------------------------------------------------------------------------------------


def test_sigmahq_rules_fire(sigmahq_rules: Any) -> None:
    events: list[Event | BadRecord] = []
    for name in ("zeek_mixed.json", "dns.log", "suricata_eve.json", "network_export.ndjson"):
        events.extend(items_of(name))
    fired = fired_rule_ids(sigmahq_rules, events)
    expected = {
        "a8322756-015c-42e7-afb1-436e85ed3ff5",  # DNS TOR Proxies (zeek dns; TSV and JSON)
        "705072a5-bb6f-4ced-95b6-ecfa6602090b",  # WebDav Put Request (zeek http)
        "c64c5175-5189-431b-a55e-6d9882158251",  # Telegram Bot API Request (category dns: Suricata and Zeek)
        "2c03648b-e081-41a5-b9fb-7d854a915091",  # Rclone Activity via Proxy (category proxy on zeek http)
        "7100f7e3-92ce-4584-b7b7-01b40d3d4118",  # Default Cobalt Strike Certificate (zeek x509)
        "f1b3a22a-45e6-4004-afb5-4291f9c21166",  # Suspicious PsExec Execution - Zeek (smb_files)
        "503fe26e-b5f2-4944-a126-eab405cc06e5",  # Kerberos RC4 Ticket Encryption (zeek kerberos)
        "b640c0b8-87f8-4daa-aef8-95a24261dd1d",  # MITRE BZAR Indicators for Execution (zeek dce_rpc)
        "1fc0809e-06bf-4de3-ad52-25e5263b7623",  # Publicly Accessible RDP Service (zeek rdp)
        "bf74135c-18e8-4a72-a926-0e4f47888c19",  # DNS Events Related To Mining Pools (zeek dns, inferred type)
    }
    assert expected <= fired, expected - fired


def test_sigmahq_dns_rule_fires_on_suricata_dns(sigmahq_rules: Any) -> None:
    fired = fired_rule_ids(sigmahq_rules, items_of("suricata_eve.json")[2:4])
    assert "c64c5175-5189-431b-a55e-6d9882158251" in fired


# ------------------------------------------------------------------------------------------------------------
# fuzzing: no exception escapes, every item is an Event or a BadRecord
# ------------------------------------------------------------------------------------------------------------

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
                | st.text(max_size=12))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=12)
SURICATA_KEYS = st.sampled_from(["timestamp", "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto",
                                 "app_proto", "alert", "dns", "http", "tls", "flow", "fileinfo", "netflow", "anomaly"])
ZEEK_KEYS = st.sampled_from(["ts", "_path", "_write_ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
                             "proto", "duration", "query", "answers", "uri", "host", "status_code", "version",
                             "fingerprint", "certificate.not_valid_before", "client", "name", "path", "mac",
                             "rcptto", "p", "src_port", "sig_id", "auth_success", "reply_code", "command",
                             "orig_ip_bytes", "resp_bytes"])
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_malformed(parser: Any, record: dict[str, Any], context: ParseContext) -> None:
    try:
        if parser.accepts(record, context):
            for parsed in parser.parse(record, context):
                assert isinstance(parsed, Parsed)
    except Malformed:
        pass


@FUZZ
@given(st.dictionaries(SURICATA_KEYS, JSON_VALUES, max_size=10), st.sampled_from(list(suricata.KNOWN_EVENT_TYPES)),
       st.sampled_from(["2026-11-28T03:00:00+0000", "x", "2026-13-45T99:00:00Z"]))
def test_fuzz_suricata_records(record: dict[str, Any], event_type: str, timestamp: str) -> None:
    record.setdefault("event_type", event_type)
    record.setdefault("timestamp", timestamp)
    _only_malformed(suricata.SuricataEveParser(), record, ParseContext("fuzz"))
    for item in read_bytes(json.dumps(record).encode(), "eve.json"):
        assert isinstance(item, Event | BadRecord)


@FUZZ
@given(st.dictionaries(ZEEK_KEYS, JSON_VALUES, max_size=12),
       st.sampled_from([*zeek.KNOWN_LOGS[:20], "dns", "http", "x509", "kerberos", "smb_files", "odd"]))
def test_fuzz_zeek_records(record: dict[str, Any], path: str) -> None:
    record.setdefault("_path", path)
    record.setdefault("ts", 1795834800.0)
    _only_malformed(zeek.ZeekJsonParser(), record, ParseContext("fuzz", "conn.log"))
    for item in read_bytes(json.dumps(record).encode(), "conn.json"):
        assert isinstance(item, Event | BadRecord)


@st.composite
def _mutated(draw: st.DrawFn, lines: list[str]) -> str:
    """One of ``lines`` with a few characters deleted, inserted or replaced, or cut short."""
    line = draw(st.sampled_from(lines))
    for _ in range(draw(st.integers(0, 4))):
        if not line:
            break
        position = draw(st.integers(0, len(line) - 1))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        char = draw(st.sampled_from(["\t", ",", ":", "[", "]", "{", "}", "-", ">", " ", "0", "x", "\\", '"', "#",
                                     "*", "(empty)", "T", "F"]))
        if kind == "delete":
            line = line[:position] + line[position + 1:]
        elif kind == "insert":
            line = line[:position] + char + line[position:]
        elif kind == "replace":
            line = line[:position] + char + line[position + 1:]
        else:
            line = line[:position]
    return line


SNORT_LINES = (FIXTURES / "snort_fast.log").read_text().splitlines()
SYSLOG_LINES = (FIXTURES / "snort_syslog.log").read_text().splitlines()
TSV_TEXT = (FIXTURES / "conn.log").read_text() + (FIXTURES / "dns.log").read_text()


@FUZZ
@given(st.lists(_mutated(SNORT_LINES) | st.text(max_size=60), min_size=1, max_size=6))
def test_fuzz_snort_fast(lines: list[str]) -> None:
    context = ParseContext("fuzz", reference_time=REFERENCE)
    for item in snort.SnortFastParser().parse(enumerate(lines, 1), context):
        assert isinstance(item, Parsed | BadRecord)
    for item in read_bytes("\n".join(lines).encode(), "alert", REFERENCE):
        assert isinstance(item, Event | BadRecord)


@FUZZ
@given(_mutated(SYSLOG_LINES) | st.text(max_size=80))
def test_fuzz_snort_syslog(line: str) -> None:
    envelope = Envelope(timestamp="2026-11-28T03:00:00Z", program="snort", line=line)
    message = line.split("]: ", 1)[-1]
    try:
        parsed = snort.SnortSyslogParser().parse(message, envelope, ParseContext("fuzz", reference_time=REFERENCE))
        assert parsed is None or isinstance(parsed, Parsed)
    except Malformed:
        pass
    for item in read_bytes((line + "\n").encode(), "messages", REFERENCE):
        assert isinstance(item, Event | BadRecord)


@FUZZ
@given(st.lists(_mutated(TSV_TEXT.splitlines()), min_size=1, max_size=12))
def test_fuzz_zeek_tsv(lines: list[str]) -> None:
    numbered = [(number, line) for number, line in enumerate(["#separator \\x09", *lines], 1) if line.strip()]
    for item in zeek.ZeekTsvParser().parse(iter(numbered), ParseContext("fuzz", "conn.log")):
        assert isinstance(item, Parsed | BadRecord)
    for item in read_bytes(("#separator \\x09\n" + "\n".join(lines)).encode(), "conn.log", REFERENCE):
        assert isinstance(item, Event | BadRecord)


@FUZZ
@given(_mutated(SNORT_LINES + [line.split(": ", 1)[-1] for line in SYSLOG_LINES]), st.booleans())
def test_snort_two_step_match_equals_one_regex(line: str, fast: bool) -> None:
    one_regex = (snort._FAST if fast else snort._MESSAGE).match(line)
    assert snort.match_alert(line, fast) == (one_regex.groupdict() if one_regex else None)
