"""Service authentication logs (Dovecot, FTP servers, Dropbear, OpenVPN, phpMyAdmin, Drupal, MySQL, MSSQL,
MongoDB, Grafana, GitLab, PortSentry), the generic text parser, and Cowrie honeypot JSON: fields, logsources,
recognition through the readers, bad records, robustness."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import BadRecord, Event, LogSource
from yamori.parsers.auth_patterns import address, classify, is_pam_message, kv_pairs, split_host_port
from yamori.parsers.base import Envelope, Malformed, ParseContext
from yamori.parsers.cowrie import CowrieParser
from yamori.parsers.registry import message_parsers, text_parsers
from yamori.parsers.service_auth import PARSERS as SERVICE_PARSERS
from yamori.parsers.service_auth import AuthMessageParser, VsftpdParser
from yamori.parsers.text_generic import AppLogParser, GenericTextParser, TimestampedLineParser, tai64n
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "auth"
REFERENCE = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
SYSLOG_AUTH = LogSource(product=("linux",), service=("syslog", "auth"))
SYSLOG = LogSource(product=("linux",), service=("syslog",))


def items(name: str) -> list[Event | BadRecord]:
    return list(read_file(FIXTURES / name))


def events(name: str) -> list[Event]:
    return [item for item in items(name) if isinstance(item, Event)]


def by_line(name: str) -> dict[int, Event]:
    return {int(event.position.split("/")[0]): event for event in events(name)}


def subset(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert fields.get(key) == value, (key, fields.get(key), value, fields)


def is_auth_failure(event: Event) -> bool:
    return "authentication" in event.fields.get("event.category", ()) and event.fields.get(
        "event.outcome") == "failure"


# ------------------------------------------------------------------------------------------- syslog services

SERVICE_LINES: dict[int, dict[str, Any]] = {
    1: {"service.name": "dovecot", "event.action": "dovecot-auth-failed", "event.outcome": "failure",
        "user.name": "alice@example.org", "source.ip": "203.0.113.45", "destination.ip": "192.0.2.10",
        "dovecot.attempts": 2, "dovecot.protocol": "imap", "rip": "203.0.113.45", "method": "PLAIN",
        "event.type": ["info"], "event.category": ["authentication"], "event.module": "dovecot"},
    2: {"event.action": "dovecot-login", "event.outcome": "success", "user.name": "bob", "source.ip": "198.51.100.7",
        "event.type": ["start"], "pid": "812"},
    3: {"event.action": "dovecot-passdb-failed", "user.name": "carol", "source.ip": "203.0.113.46",
        "dovecot.passdb": "pam"},
    4: {"event.action": "dovecot-disconnected-before-auth", "event.category": ["network"],
        "source.ip": "203.0.113.47"},
    5: {"service.name": "vsftpd", "event.action": "vsftpd-login", "event.outcome": "failure", "user.name": "dave",
        "source.ip": "203.0.113.50", "source.address": "::ffff:203.0.113.50"},
    6: {"event.action": "vsftpd-login", "event.outcome": "success", "user.name": "erin"},
    7: {"service.name": "vsftpd", "message": "Connection refused: too many sessions for this address."},
    8: {"service.name": "proftpd", "event.action": "proftpd-login-failed", "user.name": "frank",
        "source.ip": "203.0.113.51", "proftpd.client_name": "scanner.example.net",
        "event.reason": "Incorrect password."},
    9: {"event.action": "proftpd-no-such-user", "user.name": "nobody", "source.ip": "203.0.113.52"},
    10: {"event.action": "proftpd-max-login-attempts", "source.ip": "203.0.113.53", "proftpd.attempts": "3"},
    11: {"service.name": "pure-ftpd", "event.action": "pure-ftpd-auth-failed", "user.name": "grace",
         "source.ip": "203.0.113.54", "log.level": "warning"},
    12: {"service.name": "wu-ftpd", "event.action": "wu-ftpd-login-failed", "source.ip": "203.0.113.55",
         "wu-ftpd.client_name": "bad.example.net"},
    13: {"service.name": "dropbear", "event.action": "dropbear-bad-password", "user.name": "root",
         "source.ip": "203.0.113.56", "source.port": 40022},
    14: {"event.action": "dropbear-nonexistent-user", "source.ip": "203.0.113.57", "source.port": 40023},
    15: {"event.action": "dropbear-login", "event.outcome": "success", "user.name": "heidi",
         "dropbear.method": "Password"},
    16: {"service.name": "openvpn", "event.action": "openvpn-tls-auth-error", "event.outcome": "failure",
         "source.ip": "203.0.113.58", "source.port": 1194},
    17: {"event.action": "openvpn-peer-connection-initiated", "event.outcome": "success", "user.name": "ivan",
         "openvpn.common_name": "ivan", "source.ip": "198.51.100.10"},
    18: {"event.action": "openvpn-certificate-verify-failed", "event.outcome": "failure",
         "source.ip": "203.0.113.59"},
    19: {"service.name": "phpmyadmin", "event.action": "phpmyadmin-login-failed", "user.name": "admin",
         "source.ip": "203.0.113.60", "event.reason": "mysql-denied"},
    20: {"service.name": "drupal", "event.action": "drupal-login-failed", "user.name": "judy",
         "source.ip": "203.0.113.61", "drupal.type": "user", "drupal.uid": "0",
         "url.original": "https://shop.example.org/user/login", "http.request.referrer": "https://shop.example.org/",
         "drupal.message": "Login attempt failed for judy."},
    21: {"event.action": "drupal-login", "event.outcome": "success", "user.name": "kim", "user.id": "5"},
    22: {"service.name": "mysql", "event.action": "mysql-access-denied", "user.name": "root",
         "source.ip": "203.0.113.62", "mysql.using_password": "YES"},
    23: {"service.name": "portsentry", "event.kind": "alert", "event.category": ["intrusion_detection", "network"],
         "source.ip": "203.0.113.63", "destination.port": 23, "network.transport": "tcp"},
    24: {"service.name": "custom-daemon", "event.action": "authentication-failed", "event.outcome": "failure",
         "user.name": "mallory", "source.ip": "203.0.113.64", "related.ip": ["203.0.113.64"],
         "related.user": ["mallory"]},
    27: {"event.action": "dovecot-auth-failed", "user.name": "peggy", "source.ip": "203.0.113.66"},
}


def test_service_syslog_lines() -> None:
    lines = by_line("services.log")
    for number, expected in SERVICE_LINES.items():
        event = lines[number]
        subset(event.fields, expected)
        assert event.fields["host"] and event.fields["program"], number
        assert event.timestamp is not None and event.timestamp.endswith("Z"), number
    auth = {n for n, e in lines.items() if "authentication" in e.fields.get("event.category", ())}
    for number in auth - {25, 29}:  # 25: the Linux PAM parser's; 29: a MySQL error-log line (product: mysql)
        assert lines[number].logsource.covers("linux", None, "auth"), number
        assert lines[number].logsource.covers("linux", None, "syslog"), number
    assert lines[4].logsource == SYSLOG and lines[23].logsource == SYSLOG
    assert lines[7].logsource == LogSource(product=("linux",), service=("syslog", "vsftpd"))
    assert lines[5].logsource == LogSource(product=("linux",), service=("syslog", "auth", "vsftpd"))


def test_pam_module_messages_are_left_to_the_linux_parser() -> None:
    line = lines_of("services.log")[24]
    assert "pam_unix(vsftpd:auth)" in line
    envelope = Envelope(timestamp="2026-11-20T08:11:00Z", host="ftp", program="vsftpd", line=line)
    message = line.split("vsftpd: ", 1)[1]
    context = ParseContext("x")
    for parser in SERVICE_PARSERS:
        assert parser.parse(message, envelope, context) is None, parser.name
    assert is_pam_message("pam_unix(sshd:auth): authentication failure; logname=")
    assert is_pam_message("pam_unix(auth): authentication failure; logname=")
    assert is_pam_message("(pam_unix) authentication failure; logname=")
    assert is_pam_message("pam_unix: authentication failure; logname=")
    assert is_pam_message("authentication failure; logname=", "vsftpd(pam_unix)")
    assert not is_pam_message("pam(u,1.2.3.4): pam_authenticate() failed: Authentication failure")
    event = by_line("services.log")[25]
    assert event.fields.get("service.name") != "vsftpd"
    assert event.fields["event.module"] not in {parser.name for parser in SERVICE_PARSERS}


def test_a_line_that_is_not_syslog_is_a_bad_record_and_the_rest_parses() -> None:
    found = items("services.log")
    bad = [item for item in found if isinstance(item, BadRecord)]
    assert len(bad) == 1 and bad[0].position == "26" and bad[0].source.endswith("services.log")
    assert bad[0].data == "this line is not syslog at all"
    assert len(found) == 29
    assert by_line("services.log")[27].fields["event.outcome"] == "failure"
    subset(by_line("services.log")[28].fields, {"user.name": "sybil", "event.module": "dovecot"})  # multilog line
    subset(by_line("services.log")[29].fields, {"user.name": "root", "event.module": "timestamped_line",
                                                "event.dataset": "mysql"})


def lines_of(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def test_pam_body_without_module_prefix_and_injection() -> None:
    found = classify("authentication failure; logname= uid=0 euid=0 tty= ruser=rhost=198.51.100.1 "
                     "rhost=203.0.113.9 user=tester")
    assert found is not None and found.outcome == "failure"
    assert found.fields["source.ip"] == "203.0.113.9" and found.fields["user.name"] == "tester"
    assert found.fields["ruser"] == "rhost=198.51.100.1"
    found = classify("pam_unix: authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=ftp.example.net")
    assert found is not None and found.fields["source.domain"] == "ftp.example.net"


@pytest.mark.parametrize(("text", "expected"), [
    # the wording of a service without its structure: foreign text echoed into a log
    ("Wrong data: Logon       Login failed for user 'x'. Reason: none [CLIENT: 192.0.2.1]", None),
    ("2016-02-24T15:26:18.237955 6 [Note] Access denied for user 'root'@'localhost' (using password: YES) extra",
     None),
    # dovecot: the status in parentheses decides, not words before it
    ("imap-login: Disconnected: a: a: (reason) (tried to use disallowed plaintext auth): user=<>, rip=192.0.2.3",
     "dovecot-plaintext-auth-refused"),
    ("imap-login: Disconnected: a: a: a: no status", None),
    ("imap-login: Disconnected (proxy dest auth failed): user=<u>, method=PLAIN, rip=192.0.2.4, lip=192.0.2.1",
     "dovecot-proxy-auth-failed"),
    ("auth(u@example.org,192.0.2.5,sasl:login)<AbC>: Info: sql: Password mismatch (given password: x)",
     "dovecot-passdb-failed"),
    ("auth-worker(9): Info: conn unix:auth-worker (uid=1): auth-worker<3>: sql(u,192.0.2.6): unknown user",
     "dovecot-passdb-failed"),
    # drupal: pipes injected into the URI do not forge the message, which is the last field
    ("https://e.org|1613063581|user|192.0.2.5|https://e.org/user/login?a=|b|https://e.org/?a=|0||Login attempt "
     "failed for x|2||Session revisited for y.", "drupal-user"),
    ("https://e.org|1613063581|user|192.0.2.4|https://e.org/user/login?a=|b=||0||Login attempt failed from "
     "192.0.2.4.", "drupal-login-failed"),
    ("USER h proftpd[1] h (inject[198.51.100.4]): no such user found from 198.51.100.4", None),
    ("SECURITY VIOLATION: root login attempted", None),
    ("Host: 192.0.2.9/192.0.2.9 Port: 22 TCP Blocked", "portsentry-blocked"),
    ("[conn3] Failed to authenticate u@db with mechanism SCRAM-SHA-256: AuthenticationFailed",
     "mongodb-auth-failed"),
    ("Failed Login: username=two words ip=192.0.2.10", "gitlab-login-failed"),
    ("user denied: root (mysql-denied) from 192.0.2.11", "phpmyadmin-login-failed"),
    ("Authentication failed for user bob from 192.0.2.12", "authentication-failed"),
    ("Invalid password for user 'carol' (client 192.0.2.13)", "authentication-failed"),
    ("Login successful for user=dan from 192.0.2.14", "authentication-succeeded"),
    ("Started Session 4 of user root.", None),
])
def test_classify(text: str, expected: str | None) -> None:
    found = classify(text)
    assert (found.action if found is not None else None) == expected, found


def test_generic_wording_finds_user_and_client() -> None:
    found = classify("Invalid password for user 'carol' (client 192.0.2.13)")
    assert found is not None and found.fields["user.name"] == "carol" and found.fields["source.ip"] == "192.0.2.13"
    found = classify("login failure: user=eve rhost=2001:db8::7")
    assert found is not None and found.fields["source.ip"] == "2001:db8::7" and found.fields["user.name"] == "eve"
    found = classify("authentication failure from the console")
    assert found is not None and "source.ip" not in found.fields


def test_addresses() -> None:
    assert address("::ffff:192.0.2.1") == ("192.0.2.1", None)
    assert address("[AF_INET]192.0.2.2") == ("192.0.2.2", None)
    assert address("2001:DB8::1") == ("2001:db8::1", None)
    assert address("Mail.Example.NET.") == (None, "mail.example.net")
    assert address("<local machine>") == (None, None)
    assert address("999.1.1.1") == (None, None)
    assert split_host_port("192.0.2.1:22") == ("192.0.2.1", "22")
    assert split_host_port("::ffff:192.0.2.1:60495") == ("::ffff:192.0.2.1", "60495")
    assert split_host_port("[2001:db8::1]:443") == ("2001:db8::1", "443")
    assert split_host_port("2001:db8::1:22", port_expected=False) == ("2001:db8::1:22", None)
    assert kv_pairs("a=1 b= c=x=y a=2") == {"a": "1", "b": "", "c": "x=y"}


def test_mongodb_client_from_accepted_line_in_syslog() -> None:
    data = (b"Nov 20 08:50:00 db mongod[7]: [initandlisten] connection accepted from 203.0.113.100:40100 #7 "
            b"(1 connection now open)\n"
            b"Nov 20 08:50:01 db mongod[7]: [conn7] Failed to authenticate admin@admin with mechanism "
            b"SCRAM-SHA-1: AuthenticationFailed\n")
    found = [item for item in read_bytes(data, "syslog", REFERENCE) if isinstance(item, Event)]
    assert found[1].fields["event.action"] == "mongodb-auth-failed"
    assert found[1].fields["source.ip"] == "203.0.113.100"


# ----------------------------------------------------------------------------------------- vsftpd's own log

def test_vsftpd_own_log_file() -> None:
    lines = by_line("vsftpd.log")
    assert {event.logsource for event in lines.values()} == {LogSource(product=("linux",), service=("vsftpd",))}
    subset(lines[1].fields, {"event.action": "vsftpd-connect", "source.ip": "203.0.113.70", "pid": "3",
                             "process.pid": 3})
    subset(lines[2].fields, {"event.action": "vsftpd-login", "event.outcome": "failure", "user.name": "anonymous"})
    subset(lines[3].fields, {"event.outcome": "success", "user.name": "walter", "source.ip": "198.51.100.12"})
    subset(lines[4].fields, {"event.category": ["file"], "event.type": ["access"], "file.path": "/pub/report.pdf",
                             "event.action": "vsftpd-download", "event.outcome": "success"})
    subset(lines[5].fields, {"event.type": ["creation"], "event.outcome": "failure"})
    subset(lines[6].fields, {"event.reason": "User is not in the allow user list.", "user.name": "guest"})
    assert lines[1].timestamp == "2025-11-20T08:20:01Z" and lines[6].timestamp == "2025-11-06T08:20:13Z"
    assert lines[1].fields["timestamp"] == "Thu Nov 20 08:20:01 2025"


def test_vsftpd_own_lines_inside_a_syslog_file() -> None:
    data = (b"Nov 20 08:02:01 ftp vsftpd[2201]: [dave] FAIL LOGIN: Client \"203.0.113.50\"\n"
            b"Thu Nov 20 08:20:03 2025 [pid 2] [anonymous] FAIL LOGIN: Client \"203.0.113.70\"\n"
            b"Nov 20 08:02:05 ftp vsftpd[2202]: [erin] OK LOGIN: Client \"198.51.100.8\"\n")
    found = read_bytes(data, "mixed.log", REFERENCE)
    assert all(isinstance(item, Event) for item in found)
    assert [item.fields["event.outcome"] for item in found if isinstance(item, Event)] == [
        "failure", "failure", "success"]


# ------------------------------------------------------------------------------------------ application logs

def test_mysql_error_log() -> None:
    lines = by_line("mysql-error.log")
    assert all(event.logsource == LogSource(product=("mysql",)) for event in lines.values())
    subset(lines[1].fields, {"user.name": "root", "source.ip": "203.0.113.80", "mysql.using_password": "NO",
                             "timestamp": "251120  8:30:00"})
    assert lines[1].timestamp == "2025-11-20T08:30:00Z"
    assert lines[2].timestamp == "2025-11-20T08:30:05Z" and lines[2].fields["source.ip"] == "203.0.113.81"
    assert lines[3].fields["source.domain"] == "localhost" and lines[3].timestamp == "2025-11-20T08:30:10.123456Z"
    assert not is_auth_failure(lines[4]) and not is_auth_failure(lines[5])  # injection: text after the line
    assert lines[4].fields["event.module"] == "app_log" and lines[4].fields["event.dataset"] == "mysql"


def test_mssql_errorlog() -> None:
    lines = by_line("mssql-errorlog.txt")
    assert all(event.logsource == LogSource(product=("mssql",)) for event in lines.values())
    subset(lines[2].fields, {"event.action": "mssql-login-failed", "user.name": "sa", "source.ip": "203.0.113.90",
                             "event.reason": "Password did not match that for the login provided."})
    subset(lines[3].fields, {"event.outcome": "success", "user.name": "reporting",
                             "mssql.method": "SQL Server"})
    assert not is_auth_failure(lines[4])
    assert lines[2].timestamp == "2025-11-20T08:40:01.340000Z"


def test_mongodb_log_joins_client_addresses() -> None:
    found = events("mongod.log")
    assert [int(event.position) for event in found] == [1, 2, 3, 4, 5, 6]  # order kept while holding back
    lines = {int(event.position): event for event in found}
    assert lines[2].fields["source.ip"] == "203.0.113.100"  # from the accepted line before
    assert lines[3].fields["source.ip"] == "203.0.113.101"  # from the end line after
    assert lines[3].fields["source.port"] == 40200
    subset(lines[6].fields, {"user.name": "sysop", "source.ip": "203.0.113.102", "mongodb.database": "admin",
                             "mongodb.mechanism": "SCRAM-SHA-1"})
    assert lines[4].fields["event.outcome"] == "success" and "source.ip" not in lines[4].fields
    assert lines[2].timestamp == "2025-11-20T08:50:00.100000Z"
    assert all(event.logsource == LogSource(product=("mongodb",)) for event in found)


def test_mongodb_failure_without_an_end_line_is_not_lost() -> None:
    lines = ["2025-11-20T08:50:01.000+0000 [conn8] Failed to authenticate root@admin with mechanism M: failed"]
    lines += [f"2025-11-20T08:51:{i % 60:02d}.000+0000 [conn9] command {i}" for i in range(250)]
    found = read_bytes("\n".join(lines).encode(), "mongod.log", REFERENCE)
    assert len(found) == 251 and all(isinstance(item, Event) for item in found)
    assert [int(item.position) for item in found if isinstance(item, Event)] == list(range(1, 252))
    assert "source.ip" not in found[0].fields  # type: ignore[union-attr]


def test_grafana_gitlab_portsentry() -> None:
    grafana = by_line("grafana.log")
    subset(grafana[1].fields, {"event.action": "grafana-login-failed", "user.name": "admin",
                               "source.ip": "203.0.113.110", "lvl": "eror", "logger": "context",
                               "remote_addr": "203.0.113.110", "log.level": "eror"})
    assert grafana[1].timestamp == "2025-11-20T08:00:00Z"
    subset(grafana[2].fields, {"event.outcome": "success", "user.name": "viewer@example.org"})
    assert "event.outcome" not in grafana[3].fields and grafana[3].fields["msg"] == "HTTP Server Listen"
    gitlab = by_line("gitlab-application.log")
    subset(gitlab[1].fields, {"event.action": "gitlab-login-failed", "user.name": "root", "source.ip": "203.0.113.120"})
    subset(gitlab[2].fields, {"event.outcome": "success", "user.name": "dev"})
    assert gitlab[1].logsource == LogSource(product=("gitlab",))
    portsentry = by_line("portsentry.history")
    subset(portsentry[1].fields, {"event.category": ["network"], "event.type": ["denied"], "event.kind": "alert",
                                  "source.ip": "203.0.113.130", "destination.port": 23, "network.transport": "tcp"})
    assert portsentry[2].fields["network.transport"] == "udp"
    assert portsentry[1].timestamp == "2025-11-20T09:13:20Z"
    assert not any(is_auth_failure(event) for event in portsentry.values())


def test_multilog_tai64n() -> None:
    assert tai64n("40000000691edd4a0ee6b280") == "2025-11-20T09:20:00.250000Z"
    assert tai64n("zz") is None
    lines = by_line("multilog-current")
    subset(lines[1].fields, {"event.action": "dovecot-auth-failed", "user.name": "quinn",
                             "source.ip": "203.0.113.140", "program": "imap-login",
                             "timestamp": "@40000000691edd4a0ee6b280"})
    subset(lines[2].fields, {"event.action": "dovecot-passdb-failed", "user.name": "rupert"})
    subset(lines[3].fields, {"program": "master", "event.dataset": "daemontools"})
    assert lines[3].timestamp == "2025-11-20T09:20:02.250000Z"


def test_multilog_lines_inside_a_syslog_file() -> None:
    data = (b"Nov 20 08:01:02 mail dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=198.51.100.7\n"
            b"@40000000691edd4a0ee6b280 imap-login: Info: Aborted login (auth failed, 1 attempts): user=<q>, "
            b"method=PLAIN, rip=203.0.113.140\n"
            b"130324  0:04:00 [Warning] Access denied for user 'root'@'203.0.113.80' (using password: NO)\n"
            b"Nov 20 08:01:03 mail dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=198.51.100.7\n")
    found = read_bytes(data, "maillog", REFERENCE)
    assert all(isinstance(item, Event) for item in found), found
    assert [item.fields.get("event.action") for item in found if isinstance(item, Event)] == [
        "dovecot-login", "dovecot-auth-failed", "mysql-access-denied", "dovecot-login"]


# -------------------------------------------------------------------------------------------- generic text

def test_generic_text_lines() -> None:
    lines = by_line("generic.txt")
    assert len(lines) == 9 and all(event.fields["event.module"] == "text" for event in lines.values())
    expected_times = {
        1: "2025-11-20T09:30:00.123000Z", 2: "2025-11-20T09:30:01Z", 3: "2025-11-20T09:30:02Z",
        4: "2025-11-20T09:30:03Z", 5: "2025-11-20T09:30:03.500000Z", 6: "2025-11-20T09:30:04Z",
        7: "2025-11-20T09:30:05Z", 8: None, 9: "2025-11-20T08:30:06Z"}
    for number, timestamp in expected_times.items():
        assert lines[number].timestamp == timestamp, number
    assert lines[1].fields["message"] == "INFO worker started"
    assert lines[1].fields["timestamp"] == "2025-11-20 09:30:00,123"
    assert lines[4].fields["timestamp"] == "Thu Nov 20 09:30:03 2025"
    assert lines[8].fields["message"] == "a line without any time at all"
    subset(lines[7].fields, {"level": "warn", "caller": "main.go:12", "msg": "disk almost full", "free": "2%",
                             "log.level": "warn"})
    subset(lines[9].fields, {"event.outcome": "failure", "user.name": "trent", "source.ip": "203.0.113.150"})
    assert all(event.logsource == LogSource() for event in lines.values())


def test_generic_text_takes_log_like_text_but_not_prose() -> None:
    assert isinstance(read_bytes(b"2025-11-20 10:00:00 started\nsome more words\n", "a.txt")[0], Event)
    assert isinstance(read_bytes(b"ts=1 level=info msg=hi\n", "a.txt")[0], Event)
    [problem] = read_bytes(b"hello\nthis is a README\n", "notes.txt")
    assert isinstance(problem, BadRecord) and problem.reason.startswith("not a recognised format")
    assert not GenericTextParser().sniff(["\x00\x01\x02\x03 2025-11-20 10:00:00"], ParseContext("x"))


def test_iso_lines_of_applications_are_not_read_as_syslog() -> None:
    data = b"2025-11-20 09:30:00,123 INFO worker started\n2025/11/20 09:30:01 x\nplain words\n"
    found = read_bytes(data, "app.log", REFERENCE)
    assert found[0].fields.get("program") is None  # type: ignore[union-attr]
    data = b"2025-11-20T09:30:00Z srv sshd[1]: x\n2025/11/20 09:30:01 x\nplain words\n"
    found = read_bytes(data, "mixed.log", REFERENCE)
    assert found[0].fields.get("program") == "sshd"  # type: ignore[union-attr]


def test_autodetection() -> None:
    modules = {
        "services.log": ("dovecot", "dovecot"), "vsftpd.log": ("app_log", "vsftpd"),
        "mysql-error.log": ("app_log", "mysql"), "mssql-errorlog.txt": ("app_log", "mssql"),
        "mongod.log": ("app_log", "mongodb"), "grafana.log": ("app_log", "grafana"),
        "gitlab-application.log": ("app_log", "gitlab"), "portsentry.history": ("app_log", "portsentry"),
        "multilog-current": ("dovecot", "dovecot"), "generic.txt": ("text", "text"),
        "cowrie.json": ("cowrie", "cowrie")}
    for name, (module, dataset) in modules.items():
        fields = events(name)[0].fields
        assert (fields["event.module"], fields["event.dataset"]) == (module, dataset), name
    names = [parser.name for parser in text_parsers()]
    assert names.index("app_log") < names.index("syslog") < names.index("text") == len(names) - 1
    assert AppLogParser().sniff(lines_of("mysql-error.log"), ParseContext("x"))
    assert not AppLogParser().sniff(lines_of("services.log"), ParseContext("x"))
    assert not AppLogParser().sniff(lines_of("generic.txt"), ParseContext("x"))


# --------------------------------------------------------------------------------------------------- cowrie

def test_cowrie_events() -> None:
    lines = by_line("cowrie.json")
    assert all(event.logsource == LogSource(product=("cowrie",)) for event in lines.values())
    subset(lines[1].fields, {"event.category": ["network"], "event.type": ["connection", "start"],
                             "source.ip": "203.0.113.160", "source.port": 51000, "destination.ip": "192.0.2.30",
                             "destination.port": 2222, "network.protocol": "ssh", "observer.name": "hp1",
                             "event.id": "0f1e2d3c-0000-4000-8000-000000000001", "session": "a1b2c3d4e5f6"})
    assert lines[1].timestamp == "2025-11-20T10:00:00.000001Z"
    subset(lines[2].fields, {"version": "SSH-2.0-libssh2_1.9.0", "event.type": ["protocol"]})
    subset(lines[3].fields, {"kexAlgs": ["curve25519-sha256", "diffie-hellman-group14-sha256"],
                             "hassh": "0123456789abcdef0123456789abcdef"})
    subset(lines[4].fields, {"event.category": ["authentication"], "event.outcome": "failure", "user.name": "root",
                             "password": "123456", "event.action": "cowrie.login.failed"})
    assert not any(value == "123456" for key, value in lines[4].fields.items() if key != "password"
                   and "." in key and key != "message")
    subset(lines[5].fields, {"event.outcome": "success", "password": "admin"})
    subset(lines[6].fields, {"event.category": ["process"], "process.command_line": "uname -a; cat /proc/cpuinfo"})
    subset(lines[7].fields, {"event.outcome": "failure", "process.command_line": "foobar --x"})
    subset(lines[8].fields, {"event.category": ["file"], "url.original": "http://203.0.113.200/x.sh",
                             "file.hash.sha256": "5f2b7c0e9d1a4b3c8e6f5a4b3c2d1e0f5f2b7c0e9d1a4b3c8e6f5a4b3c2d1e0f"})
    subset(lines[9].fields, {"destination.ip": "198.51.100.25", "destination.port": 25})
    subset(lines[10].fields, {"event.type": ["connection", "end"], "event.duration": 12_500_000_000})


def test_cowrie_bad_records() -> None:
    bad = [item for item in items("cowrie.json") if isinstance(item, BadRecord)]
    assert [(item.position, item.reason.split(":")[0]) for item in bad] == [
        ("11", "invalid JSON"), ("12", "cowrie record with an unreadable timestamp")]
    assert all(item.source.endswith("cowrie.json") for item in bad)
    with pytest.raises(Malformed):
        list(CowrieParser().parse({"eventid": "cowrie.x", "timestamp": "never"}, ParseContext("x")))
    assert not CowrieParser().accepts({"eventid": 5}, ParseContext("x"))
    assert not CowrieParser().accepts({"eventid": "suricata.alert"}, ParseContext("x"))


# ------------------------------------------------------------------------------------------------ SigmaHQ

def test_sigmahq_vsftpd_rule_fires(sigmahq_rules: Any) -> None:
    fired = fired_rule_ids(sigmahq_rules, items("services.log"))
    assert "377f33a1-4b36-4ee1-acee-1dbe4b43cfbe" in fired  # Suspicious VSFTPD Error Messages


def test_rules_check_maps_the_vsftpd_rules() -> None:
    from yamori.parsers.registry import logsource_supported

    assert logsource_supported("linux", None, "vsftpd")
    assert logsource_supported("cowrie", None, None)
    assert logsource_supported("linux", None, "auth")


# ---------------------------------------------------------------------------------------------- robustness

CONTEXT = ParseContext("fuzz", "fuzz.log", REFERENCE)
SAMPLE_LINES = [line for name in ("services.log", "vsftpd.log", "mysql-error.log", "mssql-errorlog.txt",
                                  "mongod.log", "grafana.log", "gitlab-application.log", "portsentry.history",
                                  "multilog-current", "generic.txt")
                for line in lines_of(name)]
MY_MESSAGE_PARSERS = [parser for parser in message_parsers()
                      if parser.name in {p.name for p in SERVICE_PARSERS} | {"timestamped_line"}]


def _mutate(line: str, data: st.DataObject) -> str:
    position = data.draw(st.integers(0, len(line)))
    cut = data.draw(st.integers(0, 12))
    insert = data.draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12))
    return line[:position] + insert + line[position + cut:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_message_parsers(data: st.DataObject) -> None:
    line = _mutate(data.draw(st.sampled_from(SAMPLE_LINES)), data)
    program = data.draw(st.sampled_from([None, "dovecot", "vsftpd", "proftpd", "pure-ftpd", "wu-ftpd",
                                         "dropbear", "ovpn-server", "phpmyadmin", "mysqld", "portsentry", "x"]))
    bare = data.draw(st.booleans())
    envelope = Envelope(line=line) if bare else Envelope(timestamp="2026-11-28T03:00:00Z", program=program,
                                                         line=line)
    for parser in MY_MESSAGE_PARSERS:
        try:
            parsed = parser.parse(line, envelope, CONTEXT)
        except Malformed:
            continue
        if parsed is not None:
            assert isinstance(parsed.fields, dict)
            assert parsed.logsource in parser.logsources or isinstance(parser, TimestampedLineParser)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_text_files(data: st.DataObject) -> None:
    lines = data.draw(st.lists(st.one_of(
        st.sampled_from(SAMPLE_LINES).map(lambda line: line),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)), min_size=1, max_size=8))
    lines = [_mutate(line, data) if data.draw(st.booleans()) else line for line in lines]
    blob = "\n".join(lines).encode("utf-8", "surrogatepass")
    for item in read_bytes(blob, data.draw(st.sampled_from(["x.log", "mongod.log", "current"])), REFERENCE):
        assert isinstance(item, Event | BadRecord)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(blob: bytes) -> None:
    for parser in (GenericTextParser(), AppLogParser()):
        text = blob.decode("utf-8", "backslashreplace").splitlines()
        parser.sniff(text, CONTEXT)
        for item in parser.parse(enumerate(text, 1), CONTEXT):
            assert not isinstance(item, Exception)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
COWRIE_KEYS = ["src_ip", "src_port", "dst_ip", "dst_port", "timestamp", "duration", "username", "password",
               "input", "url", "shasum", "protocol", "session", "uuid", "sensor"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["cowrie.session.connect", "cowrie.login.failed", "cowrie.command.input",
                        "cowrie.session.closed", "cowrie.session.file_download", "cowrie.unknown.thing"]),
       st.dictionaries(st.sampled_from(COWRIE_KEYS), json_values, max_size=8))
def test_fuzz_cowrie(eventid: str, record: dict[str, Any]) -> None:
    record["eventid"] = eventid
    for item in read_bytes(json.dumps(record).encode(), "cowrie.json", REFERENCE):
        assert isinstance(item, Event | BadRecord)
        if isinstance(item, Event):
            assert item.logsource == LogSource(product=("cowrie",))


def test_every_service_parser_declares_its_logsources() -> None:
    for name in ("services.log", "vsftpd.log", "multilog-current"):
        for event in events(name):
            if event.fields["event.module"] in {"linux_pam"} or event.logsource == LogSource():
                continue
            assert any(event.logsource == produced for parser in (*SERVICE_PARSERS, VsftpdParser(),
                                                                  AuthMessageParser(), TimestampedLineParser())
                       for produced in parser.logsources), (name, event.position, event.logsource)
