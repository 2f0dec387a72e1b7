"""Linux hosts: auth.log/secure (sshd, sudo, su, login, logind, accounts, pkexec, cron, PAM), auditd's audit.log
(records joined into events), the journal (JSON export and the short form without time), audit records in syslog.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import BadRecord, Event, LogSource
from yamori.parsers.auditd import AuditdParser, AuditSyslogParser, parse_record
from yamori.parsers.base import Envelope, Malformed, ParseContext, Parsed
from yamori.parsers.journal_short import JournalShortParser
from yamori.parsers.journald import JournaldParser, journal_value
from yamori.parsers.linux_auth import PARSERS as AUTH_PARSERS
from yamori.parsers.linux_auth import parse_pam, parse_sshd_message
from yamori.parsers.registry import logsource_supported
from yamori.parsers.syslog import SyslogParser
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "linux"
REFERENCE = datetime(2026, 11, 28, 12, tzinfo=UTC)
CONTEXT = ParseContext("test", "test.log", REFERENCE)
LINUX_AUTH = LogSource(product=("linux",), service=("auth",))
LINUX_SSHD = LogSource(product=("linux",), service=("auth", "sshd"))
LINUX_SUDO = LogSource(product=("linux",), service=("auth", "sudo"))
AUDITD = LogSource(product=("linux",), service=("auditd",))
AUDITD_PROCESS = LogSource(product=("linux",), category=("process_creation",), service=("auditd",))
AUDITD_FILE = LogSource(product=("linux",), category=("file_event",), service=("auditd",))
FAIL2BAN = Path("datasets/fail2ban_fail2ban/fail2ban/tests/files/logs")


def _read(name: str) -> list[Event | BadRecord]:
    items: list[Event | BadRecord] = read_bytes((FIXTURES / name).read_bytes(), name, REFERENCE)
    return items


def _events(name: str) -> dict[str, Event]:
    return {item.position: item for item in _read(name) if isinstance(item, Event)}


def _bad(name: str) -> list[BadRecord]:
    return [item for item in _read(name) if isinstance(item, BadRecord)]


def _line(line: str, name: str = "auth.log") -> Event:
    items = read_bytes(line.encode() + b"\n", name, REFERENCE)
    assert len(items) == 1 and isinstance(items[0], Event), items
    return items[0]


def _auth_failure(fields: dict[str, Any]) -> bool:
    return "authentication" in (fields.get("event.category") or []) and fields.get("event.outcome") == "failure"


# --- auth.log -------------------------------------------------------------------------------------------------

def test_auth_log_reads_every_line_and_reports_the_broken_ones() -> None:
    items = _read("auth.log")
    events = [item for item in items if isinstance(item, Event)]
    bad = [item for item in items if isinstance(item, BadRecord)]
    assert len(events) == 68
    assert [(b.source, b.position) for b in bad] == [("<auth.log>", "68"), ("<auth.log>", "70")]
    assert all(e.fields["event.module"].startswith("linux_") for e in events)
    assert all("linux" in e.logsource.product and "auth" in e.logsource.service for e in events)


def test_sshd_accepted_password() -> None:
    event = _events("auth.log")["1"]
    fields = event.fields
    assert event.logsource == LINUX_SSHD
    assert event.timestamp == fields["@timestamp"] == "2026-11-28T02:10:01Z"
    assert fields["timestamp"] == "Nov 28 02:10:01"
    assert (fields["host"], fields["program"], fields["pid"]) == ("web01", "sshd", "2101")
    assert (fields["user"], fields["source_ip"], fields["source_port"], fields["auth_method"]) == (
        "alice", "203.0.113.10", "52814", "password")
    assert fields["ssh_protocol"] == "ssh2"
    assert fields["event.category"] == ["authentication", "session"]
    assert fields["event.type"] == ["start"]
    assert (fields["event.action"], fields["event.outcome"]) == ("ssh_login", "success")
    assert (fields["user.name"], fields["source.ip"], fields["source.port"]) == ("alice", "203.0.113.10", 52814)
    assert fields["related.user"] == ["alice"] and fields["related.ip"] == ["203.0.113.10"]
    assert (fields["event.module"], fields["event.dataset"], fields["event.kind"]) == (
        "linux_sshd", "linux_sshd", "event")


def test_sshd_publickey_ipv6_and_key_fingerprint() -> None:
    fields = _events("auth.log")["4"].fields
    assert fields["auth_method"] == "publickey"
    assert fields["source.ip"] == "2001:db8::25"
    assert fields["key_type"] == "ED25519"
    assert fields["key_fingerprint"] == "SHA256:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"
    assert _events("auth.log")["5"].fields["auth_method"] == "keyboard-interactive/pam"
    assert _events("auth.log")["6"].fields["auth_method"] == "gssapi-with-mic"


@pytest.mark.parametrize(("position", "action", "user", "source"), [
    ("7", "ssh_login", "root", "192.0.2.50"),
    ("8", "ssh_login", "admin", "192.0.2.50"),
    ("9", "ssh_login", "git", "192.0.2.51"),
    ("10", "ssh_login", "oracle", "192.0.2.52"),
    ("11", "ssh_invalid_user", "test", "192.0.2.53"),
    ("22", "ssh_max_auth_attempts_exceeded", "root", "192.0.2.57"),
    ("23", "ssh_too_many_auth_failures", "root", "192.0.2.57"),
    ("28", "ssh_received_disconnect", None, "192.0.2.61"),
    ("29", "pam_authentication_failure", "root", "192.0.2.62"),
    ("30", "pam_authentication_failure", "root", "192.0.2.62"),
    ("32", "ssh_user_not_allowed", "guest", "192.0.2.63"),
    ("35", "ssh_login", "root", "192.0.2.66"),
])
def test_sshd_authentication_failures(position: str, action: str, user: str | None, source: str) -> None:
    event = _events("auth.log")[position]
    fields = event.fields
    assert event.logsource == LINUX_SSHD
    assert _auth_failure(fields), fields
    assert fields["event.action"] == action
    assert fields.get("user.name") == user
    assert fields["source.ip"] == source


def test_sshd_invalid_user_flag_host_names_and_details() -> None:
    events = _events("auth.log")
    assert events["8"].fields["invalid_user"] is True and "invalid_user" not in events["7"].fields
    by_name = events["12"].fields
    assert by_name["source_host"] == "scanner.example.net" and by_name["source.domain"] == "scanner.example.net"
    assert "source.ip" not in by_name and "source_ip" not in by_name
    pam = events["21"].fields  # error: PAM: Authentication failure for mallory from bad.example.org
    assert _auth_failure(pam) and pam["source.domain"] == "bad.example.org" and pam["log_level"] == "error"
    closed = events["13"].fields  # the client left while authenticating: not a failed attempt of its own
    assert closed["preauth"] is True and closed["auth_state"] == "authenticating"
    assert (closed["user.name"], closed["source.ip"], closed["event.category"], closed["event.outcome"]) == (
        "root", "192.0.2.54", ["authentication"], "unknown")
    assert events["14"].fields["invalid_user"] is True and events["14"].fields["event.outcome"] == "unknown"
    assert events["28"].fields["disconnect_code"] == "14"
    assert events["30"].fields["pam_failures"] == "2"
    assert events["29"].fields["pam_module"] == "pam_unix" and events["29"].fields["pam_service"] == "sshd"
    assert events["29"].fields["pam_type"] == "auth" and events["29"].fields["rhost"] == "192.0.2.62"
    assert events["35"].fields["program"] == "sshd-session"
    assert _auth_failure(events["36"].fields) and events["36"].fields["event.action"] == "pam_user_unknown"
    assert events["37"].fields["event.action"] == "account_locked" and events["37"].fields["user.name"] == "root"


@pytest.mark.parametrize(("position", "action", "category"), [
    ("15", "ssh_connection_closed", ["network"]),
    ("24", "ssh_no_identification", ["network"]),
    ("25", "ssh_banner_exchange_failed", ["network"]),
    ("26", "ssh_kex_identification_failed", ["network"]),
    ("27", "ssh_received_disconnect", ["network"]),
    ("33", "ssh_negotiation_failed", ["network"]),
    ("34", "ssh_connection", ["network"]),
    ("16", "ssh_received_disconnect", ["session"]),
    ("17", "ssh_disconnected", ["session"]),
])
def test_sshd_connection_lines_are_not_authentication_failures(position: str, action: str,
                                                               category: list[str]) -> None:
    fields = _events("auth.log")[position].fields
    assert fields["event.action"] == action
    assert fields["event.category"] == category
    assert not _auth_failure(fields)


def test_sshd_unknown_message_is_still_an_sshd_event() -> None:
    event = _events("auth.log")["31"]
    assert event.logsource == LINUX_SSHD
    assert event.fields["message"] == "Corrupted MAC on input. [preauth]"
    assert "event.category" not in event.fields


def test_sudo_lines() -> None:
    events = _events("auth.log")
    command = events["38"]
    assert command.logsource == LINUX_SUDO
    fields = command.fields
    assert (fields["user"], fields["TTY"], fields["PWD"], fields["USER"], fields["COMMAND"]) == (
        "alice", "pts/0", "/home/alice", "root", "/bin/bash")
    assert (fields["user.name"], fields["user.effective.name"]) == ("alice", "root")
    assert fields["process.command_line"] == "/bin/bash"
    assert fields["process.working_directory"] == "/home/alice"
    assert fields["event.category"] == ["process"] and fields["event.type"] == ["start"]
    assert (fields["event.action"], fields["event.outcome"]) == ("sudo_command", "success")
    assert fields["related.user"] == ["alice", "root"]
    assert events["40"].fields["COMMAND"] == "/usr/bin/apt-get install -y nmap ; echo done"
    wrong_password = events["42"].fields
    assert wrong_password["sudo_error"] == "3 incorrect password attempts"
    assert _auth_failure(wrong_password) and wrong_password["COMMAND"] == "/bin/cat /etc/shadow"
    refused = events["43"].fields
    assert refused["sudo_error"] == "user NOT in sudoers"
    assert refused["event.type"] == ["denied"] and refused["event.outcome"] == "failure"
    assert not _auth_failure(refused)
    assert events["44"].fields["USER"] == "#-1"
    session = events["39"].fields
    assert session["event.action"] == "session_opened" and session["user.name"] == "root"
    assert (session["by_user"], session["user.id"]) == ("alice", "0")
    pam = events["41"]
    assert pam.logsource == LINUX_SUDO and _auth_failure(pam.fields)
    assert (pam.fields["logname"], pam.fields["tty"], pam.fields["user.name"]) == ("eve", "/dev/pts/1", "eve")


def test_su_login_logind() -> None:
    events = _events("auth.log")
    su = events["45"].fields
    assert (su["user.name"], su["user.effective.name"], su["tty"]) == ("alice", "root", "pts/0")
    assert su["event.action"] == "su" and su["event.outcome"] == "success"
    failed_su = events["47"].fields
    assert _auth_failure(failed_su) and failed_su["target_user"] == "root"
    assert _auth_failure(events["48"].fields) and events["48"].fields["pam_service"] == "su"
    root_login = events["50"].fields
    assert (root_login["user.name"], root_login["tty"], root_login["event.outcome"]) == ("root", "/dev/tty1",
                                                                                         "success")
    failed_login = events["51"].fields
    assert _auth_failure(failed_login) and failed_login["user"] == "UNKNOWN" and "user.name" not in failed_login
    assert (failed_login["attempts"], failed_login["reason"]) == ("1", "Authentication failure")
    assert events["3"].fields["session_id"] == "42" and events["3"].fields["event.type"] == ["start"]
    assert events["20"].fields["event.action"] == "session_removed"
    assert events["20"].fields["event.type"] == ["end"]


def test_account_management() -> None:
    events = _events("auth.log")
    user = events["53"].fields
    assert user["event.category"] == ["iam"] and user["event.type"] == ["user", "creation"]
    assert user["event.action"] == "user_created"
    assert (user["user.name"], user["user.id"], user["group.id"]) == ("backdoor", "0", "0")
    assert (user["home"], user["shell"], user["from"]) == ("/root", "/bin/bash", "/dev/pts/0")
    group = events["52"].fields
    assert group["event.type"] == ["group", "creation"] and group["group.name"] == "backdoor"
    assert group["group.id"] == "1005"
    for position, group_name in (("54", "sudo"), ("55", "sudo"), ("56", "wheel")):
        added = events[position].fields
        assert added["event.action"] == "user_added_to_group" and added["group.name"] == group_name
    assert events["56"].fields["by_user"] == "root"
    assert events["57"].fields["event.action"] == "password_changed"
    assert events["58"].fields["event.action"] == "password_expiry_changed"
    assert events["59"].fields["group.name"] == "devs" and events["59"].fields["group.id"] == "1006"
    assert events["60"].fields["event.type"] == ["user", "deletion"]
    assert events["60"].fields["user.name"] == "olduser"
    assert events["62"].fields["event.type"] == ["group", "deletion"]


def test_pam_of_any_program_and_pkexec_cron_authpriv() -> None:
    events = _events("auth.log")
    pkexec = events["63"].fields
    assert (pkexec["USER"], pkexec["CWD"], pkexec["process.command_line"]) == (
        "root", "/home/alice", "/usr/bin/systemctl restart nginx")
    assert pkexec["event.action"] == "pkexec_command" and pkexec["user.effective.name"] == "root"
    cron = events["64"]
    assert cron.fields["event.module"] == "linux_cron" and cron.fields["event.action"] == "session_opened"
    assert cron.logsource == LogSource(product=("linux",), service=("auth", "cron"))
    vsftpd = events["65"]  # a program of another family: its PAM line is read here
    assert vsftpd.fields["event.module"] == "linux_pam" and vsftpd.logsource == LINUX_AUTH
    assert _auth_failure(vsftpd.fields) and vsftpd.fields["ruser"] == "ftpuser"
    old_form = events["66"].fields  # pop(pam_unix)[4920]: authentication failure; ...
    assert (old_form["pam_module"], old_form["pam_service"], old_form["user.name"]) == (
        "pam_unix", "pop", "mailuser")
    assert _auth_failure(old_form)
    other = events["67"]  # polkitd in auth.log: service auth, nothing more
    assert other.fields["event.module"] == "linux_authpriv" and other.logsource == LINUX_AUTH


@pytest.mark.parametrize(("message", "expected"), [
    ("(pam_unix) authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=host.example.com  user=root",
     {"pam_module": "pam_unix", "user.name": "root", "source.domain": "host.example.com"}),
    ("pam_unix: authentication failure; logname= uid=0 euid=0 tty=ftp ruser=bob rhost=192.0.2.1",
     {"pam_module": "pam_unix", "ruser": "bob", "source.ip": "192.0.2.1"}),
    ("pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.151 "
     "rhost=192.0.2.1", {"pam_type": "auth", "ruser": "test rhost=192.0.2.151", "source.ip": "192.0.2.1"}),
    ("pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2 user=bob",
     {"pam_module": "pam_sss", "pam_service": "sshd", "user.name": "bob"}),
    ("pam_unix(sudo:auth): auth could not identify password for [alice]", {"user.name": "alice"}),
    ("pam_tally2(sshd:auth): user root (0) tally 4, deny 3", {"attempts": "4", "user.name": "root"}),
    ('pam_succeed_if(sshd:auth): requirement "uid >= 1000" not met by user "root"',
     {"reason": "uid >= 1000", "user.name": "root"}),
])
def test_pam_failure_forms(message: str, expected: dict[str, str]) -> None:
    fields: dict[str, Any] = {}
    assert parse_pam(message, fields, None)
    assert _auth_failure(fields), fields
    for key, value in expected.items():
        assert fields[key] == value, (key, fields)


def test_pam_not_a_pam_message() -> None:
    assert not parse_pam("Started session 42", {}, "systemd")
    assert not parse_pam("PAM service(sshd) ignoring max retries; 6 > 3", {}, "sshd")


@pytest.mark.parametrize(("message", "peer", "user"), [
    # user names holding "from ... port" (fail2ban's injection cases): the last peer is the real one
    ("Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
     "127.0.0.1", "test from 10.10.1.2 port 55555 ssh2"),
    ("Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
     "127.0.0.1", "test"),
    ("maximum authentication attempts exceeded for invalid user test 127.0.0.1 from 192.0.2.11 port 46039 ssh2 "
     "[preauth]", "192.0.2.11", "test 127.0.0.1"),
    ("[ID 800047 auth.info] Failed keyboard-interactive for james from 205.186.180.30 port 54520 ssh2",
     "205.186.180.30", "james"),
    ("ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4", "1.2.3.4", "root"),
    ("Received disconnect from 89.24.13.192: 3: com.jcraft.jsch.JSchException: Auth fail", "89.24.13.192", None),
])
def test_sshd_tricky_lines(message: str, peer: str, user: str | None) -> None:
    fields: dict[str, Any] = {}
    parse_sshd_message(message, fields)
    assert _auth_failure(fields), fields
    assert fields["source.ip"] == peer
    assert fields.get("user.name") == user


@pytest.mark.parametrize("message", [
    "pam_unix(sshd:auth): authentication failure; logname=" + " uid= euid= tty= ruser= rhost=" * 2000,
    "Failed password for u" + " from a: b" * 5000,
    "   alice : " + "TTY=x ; " * 5000 + "COMMAND=/bin/sh",
])
def test_long_adversarial_messages_stay_fast(message: str) -> None:
    started = time.perf_counter()
    for parser in AUTH_PARSERS:
        parser.parse(message, Envelope(program="sshd", facility=10), CONTEXT)
    assert time.perf_counter() - started < 1.0


def test_sshd_without_program_tag() -> None:
    event = _line("Mar  3 00:17:22 [sshd]: User root from 211.188.220.49 not allowed because not listed in "
                  "AllowUsers", "messages")
    assert event.logsource == LINUX_SSHD and _auth_failure(event.fields)
    assert event.fields["program"] == "sshd" and event.fields["source.ip"] == "211.188.220.49"


def test_secure_rfc5424_and_rfc3339() -> None:
    events = _events("secure")
    assert len(events) == 7
    assert [(b.position, b.reason) for b in _bad("secure")] == [
        ("8", "neither a syslog line nor a message of a known format")]
    first = events["1"]
    assert first.timestamp == "2026-11-28T02:00:01.123456Z"
    assert first.fields["timestamp"] == "2026-11-28T03:00:01.123456+01:00"
    assert first.fields["host"] == "db01.example.test" and first.fields["pid"] == "5100"
    assert first.fields["event.outcome"] == "success" and first.logsource == LINUX_SSHD
    assert _auth_failure(events["2"].fields) and events["2"].fields["invalid_user"] is True
    assert events["3"].logsource == LINUX_SUDO and events["3"].fields["COMMAND"] == "/usr/sbin/useradd -o -u 0 svc"
    assert events["4"].fields["user.id"] == "0"
    assert events["5"].fields["pam_service"] == "su-l" and events["5"].fields["by_user"] == "oracle"
    assert events["6"].timestamp == "2026-11-28T02:03:00Z" and events["6"].fields["user.name"] == "root"
    assert events["7"].fields["event.type"] == ["end"]


# --- audit.log ------------------------------------------------------------------------------------------------

def test_audit_log_joins_records_into_events() -> None:
    events = _events("audit.log")
    assert list(events) == ["1", "8", "9", "20", "21", "22", "23", "29", "33", "38", "43"]
    chmod = events["1"]
    assert chmod.logsource == AUDITD_PROCESS
    fields = chmod.fields
    assert fields["type"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert fields["msg"] == "audit(1795831200.101:5001)"
    assert chmod.timestamp == "2026-11-28T02:00:00.101000Z"
    assert (fields["a0"], fields["a1"], fields["a2"], fields["argc"]) == ("chmod", "777", "/tmp/payload", "3")
    assert fields["SYSCALL.a0"] == "55d0c1a0" and fields["EXECVE.a0"] == "chmod"
    assert (fields["SYSCALL"], fields["ARCH"], fields["syscall"]) == ("execve", "x86_64", "59")
    assert (fields["exe"], fields["comm"], fields["key"], fields["cwd"]) == (
        "/usr/bin/chmod", "chmod", "perm_mod", "/home/alice")
    assert fields["name"] == ["/usr/bin/chmod", "/lib64/ld-linux-x86-64.so.2"]
    assert fields["PATH.nametype"] == ["NORMAL", "NORMAL"] and fields["PATH.item"] == ["0", "1"]
    assert fields["proctitle"] == "chmod 777 /tmp/payload"  # hex, NUL-separated
    assert (fields["Image"], fields["CommandLine"], fields["CurrentDirectory"]) == (
        "/usr/bin/chmod", "chmod 777 /tmp/payload", "/home/alice")
    assert (fields["LogonId"], fields["ProcessId"], fields["ParentProcessId"]) == ("7", "2301", "2240")
    assert "User" not in fields  # uid 1000 without the enriched name
    assert (fields["process.pid"], fields["process.parent.pid"]) == (2301, 2240)
    assert fields["process.args"] == ["chmod", "777", "/tmp/payload"] and fields["process.args_count"] == 3
    assert fields["process.executable"] == "/usr/bin/chmod" and fields["process.name"] == "chmod"
    assert (fields["user.id"], fields["user.audit.id"], fields["auditd.session"]) == ("1000", "1000", "7")
    assert fields["event.category"] == ["process"] and fields["event.type"] == ["start"]
    assert (fields["event.action"], fields["event.outcome"]) == ("execve", "success")
    assert fields["auditd.sequence"] == 5001 and fields["file.path"] == "/usr/bin/chmod"
    assert chmod.raw.count("\n") == 5  # the six records (EOE aside), as read


def test_audit_interleaved_events_and_key_null() -> None:
    events = _events("audit.log")
    rm, tee = events["8"].fields, events["9"].fields
    assert rm["CommandLine"] == "rm -f /root/.bash_history" and rm["name"] == ["/usr/bin/rm"]
    assert "key" not in rm and rm["User"] == "root"
    assert tee["type"] == ["SYSCALL", "CWD", "PATH", "PROCTITLE"]
    assert tee["name"] == ["/etc/", "/etc/ld.so.preload"] and tee["nametype"] == ["PARENT", "CREATE"]
    assert (tee["SYSCALL"], tee["a0"]) == ("openat", "ffffff9c")  # no EXECVE: the syscall's own arguments
    assert events["9"].logsource == AUDITD_FILE
    assert (tee["TargetFilename"], tee["Image"]) == ("/etc/ld.so.preload", "/usr/bin/tee")
    assert tee["event.category"] == ["file"] and tee["event.type"] == ["creation"]
    assert tee["file.path"] == "/etc/ld.so.preload"


def test_audit_user_space_records() -> None:
    events = _events("audit.log")
    auth = events["20"]
    assert auth.logsource == AUDITD
    fields = auth.fields
    assert fields["type"] == ["USER_AUTH"]
    assert (fields["op"], fields["acct"], fields["exe"], fields["res"]) == (
        "PAM:authentication", "root", "/usr/sbin/sshd", "failed")
    assert _auth_failure(fields) and fields["user.name"] == "root" and fields["source.ip"] == "192.0.2.50"
    assert fields["process.user.id"] == "0" and "user.audit.id" not in fields
    add_user = events["21"].fields
    assert add_user["type"] == ["ADD_USER"] and add_user["event.type"] == ["user", "creation"]
    assert add_user["user.name"] == "backdoor"
    stop = events["22"].fields
    assert stop["unit"] == "firewalld" and stop["event.type"] == ["end"]


def test_audit_enriched_record_and_hex_values() -> None:
    event = _events("audit.log")["23"]
    fields = event.fields
    assert fields["node"] == fields["host.name"] == "web01"
    assert (fields["AUID"], fields["UID"], fields["SYSCALL"], fields["ARCH"]) == ("alice", "root", "execve",
                                                                                  "x86_64")
    assert fields["a2"] == "id; whoami"  # hex-encoded argument
    assert fields["cwd"] == "/home/alice/my dir"  # hex-encoded path
    assert fields["OUID"] == ["root"]  # enriched PATH field
    assert (fields["User"], fields["user.name"], fields["user.audit.name"]) == ("root", "root", "alice")
    assert fields["CommandLine"] == "bash -c id; whoami"
    assert fields["related.user"] == ["root", "alice"]


def test_audit_syscall_arguments_long_arguments_sockaddr() -> None:
    events = _events("audit.log")
    personality = events["29"].fields
    assert (personality["SYSCALL"], personality["a0"]) == ("personality", "40000")
    assert personality["proctitle"] == "setarch x86_64 -R /bin/bash"
    assert events["33"].fields["a1"] == "--decode"  # a1[0] + a1[1]
    assert "a1_len" not in events["33"].fields
    connect = events["38"].fields
    assert (connect["SYSCALL"], connect["saddr_fam"], connect["laddr"], connect["lport"]) == (
        "connect", "inet", "198.51.100.10", "4444")
    assert (connect["destination.ip"], connect["destination.port"]) == ("198.51.100.10", 4444)
    assert connect["event.outcome"] == "unknown" and connect["event.category"] == ["network"]
    assert events["38"].logsource == LogSource(product=("linux",), category=("network_connection",),
                                               service=("auditd",))
    assert (connect["Image"], connect["DestinationIp"], connect["DestinationPort"], connect["Initiated"]) == (
        "/usr/bin/nc.openbsd", "198.51.100.10", "4444", "true")


def test_audit_broken_lines_and_truncated_record() -> None:
    bad = _bad("audit.log")
    assert [(b.position, b.reason) for b in bad] == [
        ("42", "not an audit record (type=... msg=audit(...): ...)"),
        ("44", "PATH record cut short in name"),
    ]
    cut = _events("audit.log")["43"].fields  # its SYSCALL record still makes the event, at the end of the file
    assert cut["type"] == ["SYSCALL"] and cut["SYSCALL"] == "open"


def _record(serial: int, kind: str, body: str, seconds: int = 1795831200) -> str:
    return f"type={kind} msg=audit({seconds}.000:{serial}): {body}"


def test_audit_bounded_buffer_flushes_idle_and_too_many_open_events() -> None:
    parser = AuditdParser()
    lines = [_record(1, "SYSCALL", 'arch=c000003e syscall=2 success=yes exe="/bin/a" key=(null)')]
    for serial in range(2, 12):  # events whose EOE never comes, one record each
        lines.append(_record(serial, "CWD", 'cwd="/"'))
    lines.append(_record(1, "PATH", 'item=0 name="/late" nametype=NORMAL'))  # too late for event 1
    items = list(parser.parse(enumerate(lines, 1), CONTEXT))
    parsed = [item for item in items if isinstance(item, Parsed)]
    assert len(parsed) == 12 and not [item for item in items if isinstance(item, BadRecord)]
    first = parsed[0]
    assert first.position == "1" and first.fields["type"] == ["SYSCALL"]  # flushed after 8 idle records
    assert sorted(p.fields["auditd.sequence"] for p in parsed) == [1, *range(1, 12)]
    many = [_record(serial, "CWD", 'cwd="/"') for serial in range(100, 140) for _ in range(2)]
    assert len([p for p in parser.parse(enumerate(many, 1), CONTEXT) if isinstance(p, Parsed)]) == 40


def test_audit_interpreted_ausearch_output_and_node_serials() -> None:
    lines = [
        "----",
        "time->Sat Nov 28 02:00:00 2026",
        "type=SYSCALL msg=audit(11/28/2026 02:00:00.500:77) : arch=x86_64 syscall=execve success=yes exit=0 "
        "ppid=1 pid=2 auid=alice uid=root exe=/usr/bin/id",
        "type=EXECVE msg=audit(11/28/2026 02:00:00.500:77) : argc=1 a0=id",
        "node=a type=CWD msg=audit(1795831200.000:5): cwd=\"/\"",
        "node=b type=CWD msg=audit(1795831200.000:5): cwd=\"/tmp\"",
    ]
    parsed = [p for p in AuditdParser().parse(enumerate(lines, 1), CONTEXT) if isinstance(p, Parsed)]
    assert len(parsed) == 3
    assert parsed[0].fields["SYSCALL"] == "execve" and parsed[0].timestamp == "2026-11-28T02:00:00.500000Z"
    assert parsed[0].fields["a0"] == "id"
    assert {p.fields["cwd"] for p in parsed[1:]} == {"/", "/tmp"}  # same serial, other node: other event


@pytest.mark.parametrize("body", [
    'a0="ls',                 # unterminated quote
    "a0=6C730",               # odd hex
    "proctitle=ZZ",           # proctitle neither quoted nor hex
    "msg='op=login acct=\"x\"",  # unterminated user message
])
def test_audit_truncated_values_are_malformed(body: str) -> None:
    kind = "PROCTITLE" if body.startswith("proctitle") else "USER_LOGIN" if body.startswith("msg") else "EXECVE"
    with pytest.raises(Malformed):
        parse_record(kind, body)


def test_audit_multiple_keys() -> None:
    fields = parse_record("SYSCALL", "key=" + b"exec\x01priv".hex().upper())
    assert fields["key"] == ["exec", "priv"]


def test_audit_records_in_syslog() -> None:
    events = _events("messages")
    syscall = events["1"]
    assert syscall.logsource == AUDITD and syscall.fields["event.module"] == "auditd_syslog"
    assert (syscall.fields["type"], syscall.fields["key"], syscall.fields["program"]) == (
        ["SYSCALL"], "recon", "audisp-syslog")
    assert syscall.timestamp == "2026-11-28T02:30:00.100000Z"
    assert events["2"].fields["a0"] == "whoami" and events["3"].fields["node"] == "web01"
    avc = events["5"].fields
    assert avc["type"] == ["AVC"] and avc["apparmor"] == "DENIED" and avc["name"] == "/tmp/x.sh"
    seccomp = events["6"].fields
    assert seccomp["type"] == ["SECCOMP"] and seccomp["exe"] == "/opt/google/chrome/chrome"
    assert events["7"].fields["event.module"] == "syslog"  # auditd's own daemon line: generic syslog
    assert [(b.position, b.reason) for b in _bad("messages")] == [("8", "PATH record cut short in name")]
    crontab = events["9"]
    assert crontab.logsource == LogSource(product=("linux",), service=("cron", "syslog"))
    assert crontab.fields["event.action"] == "crontab_replace"
    assert events["10"].fields["process.command_line"] == "/usr/local/bin/backup.sh > /dev/null 2>&1"


# --- the journal ----------------------------------------------------------------------------------------------

def test_journald_json_export() -> None:
    events = _events("journal.json")
    assert len(events) == 8
    failed = events["1"]
    fields = failed.fields
    assert failed.logsource == LINUX_SSHD and _auth_failure(fields)
    assert failed.timestamp == fields["@timestamp"] == "2026-11-28T02:00:01.250000Z"
    assert (fields["host"], fields["program"], fields["pid"]) == ("web02", "sshd", "4100")
    assert (fields["facility"], fields["severity"]) == (10, 6)
    assert fields["_SYSTEMD_UNIT"] == fields["systemd.unit"] == "ssh.service"
    assert fields["process.executable"] == "/usr/sbin/sshd" and fields["_CMDLINE"] == "sshd: root [priv]"
    assert fields["__CURSOR"].startswith("s=0b1c") and fields["host.id"] == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert (fields["event.module"], fields["event.dataset"]) == ("journald", "linux_sshd")
    invalid = events["3"].fields  # MESSAGE as a byte array (not UTF-8)
    assert invalid["message"] == "Invalid user \\xffadm1n from 192.0.2.81 port 50200"
    assert invalid["MESSAGE"] == invalid["message"] and invalid["user"] == "\\xffadm1n"
    sudo = events["4"]
    assert sudo.logsource == LINUX_SUDO and sudo.fields["COMMAND"] == "/usr/bin/systemctl stop auditd"
    assert sudo.fields["process.command_line"] == "/usr/bin/systemctl stop auditd"  # the message's, not _CMDLINE
    assert events["5"].logsource == LogSource(product=("linux",), service=("syslog",))
    login = events["6"]  # the audit transport
    assert login.logsource == AUDITD and login.fields["type"] == ["USER_LOGIN"]
    assert login.fields["auditd.sequence"] == 7301 and login.fields["event.outcome"] == "success"
    assert login.fields["source.ip"] == "203.0.113.20" and login.fields["user.id"] == "1001"
    kernel = events["7"].fields
    assert kernel["type"] == ["AVC"] and kernel["event.module"] == "journald"
    assert events["8"].fields["message"] == "" and events["8"].fields["TAGS"] == ["a", "b"]
    bad = _bad("journal.json")
    assert len(bad) == 1 and bad[0].position == "9" and "microseconds" in bad[0].reason


def test_journald_entry_gives_the_same_event_as_the_auth_log_line() -> None:
    line = _line("Nov 28 02:00:01 web02 sshd[4100]: Failed password for root from 192.0.2.80 port 50022 ssh2")
    journal = _events("journal.json")["1"]
    assert journal.logsource == line.logsource
    for key, value in line.fields.items():
        if key not in ("timestamp", "@timestamp", "event.module"):
            assert journal.fields[key] == value, key


def test_journal_value() -> None:
    assert journal_value([104, 105]) == "hi"
    assert journal_value(["a", [104]]) == ["a", "h"]
    assert journal_value(None) is None and journal_value(5) == "5" and journal_value({"a": 1}) == "{'a': 1}"


def test_journal_short_form() -> None:
    events = _events("journal_short.log")
    assert len(events) == 6
    failed = events["1"]
    assert failed.logsource == LINUX_SSHD and _auth_failure(failed.fields)
    assert (failed.fields["host"], failed.fields["pid"], failed.timestamp) == ("web03", "6001", None)
    assert (failed.fields["event.module"], failed.fields["event.dataset"]) == ("journal_short", "linux_sshd")
    assert events["4"].logsource == LINUX_SUDO
    assert events["6"].fields["session_id"] == "7" and "pid" not in events["6"].fields
    assert [(b.position, b.reason) for b in _bad("journal_short.log")] == [
        ("7", "not a 'host program[pid]: message' line")]


def test_journal_short_sniff_leaves_syslog_files_alone() -> None:
    parser = JournalShortParser()
    assert parser.sniff(["srv sshd[1]: Accepted password for a from 192.0.2.1 port 2 ssh2"], CONTEXT)
    assert not parser.sniff(["Nov 28 02:00:00 srv sshd[1]: Accepted password"], CONTEXT)
    assert not parser.sniff(["type=SYSCALL msg=audit(1.0:1): a=b"], CONTEXT)
    assert not parser.sniff(["just words here", "and more"], CONTEXT)
    assert not parser.sniff([], CONTEXT)


# --- autodetection, logsources, fail2ban's files, SigmaHQ rules ---------------------------------------------

@pytest.mark.parametrize(("name", "module"), [
    ("auth.log", "linux_sshd"), ("secure", "linux_sshd"), ("audit.log", "auditd"), ("journal.json", "journald"),
    ("journal_short.log", "journal_short"), ("messages", "auditd_syslog"),
])
def test_files_are_recognised_from_their_content(name: str, module: str) -> None:
    events = [item for item in read_file(FIXTURES / name) if isinstance(item, Event)]
    assert events and events[0].fields["event.module"] == module
    assert events[0].source == str(FIXTURES / name)


def test_logsources_are_supported() -> None:
    for product, category, service in (("linux", None, "auth"), ("linux", None, "sshd"), ("linux", None, "sudo"),
                                       ("linux", None, "auditd"), ("linux", "process_creation", None),
                                       ("linux", "file_event", None), ("linux", "network_connection", None),
                                       ("linux", None, "cron")):
        assert logsource_supported(product, category, service)


def _labelled(path: Path) -> dict[int, bool]:
    labels: dict[int, bool] = {}
    pending = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# failJSON:"):
            pending = json.loads(line.split(":", 1)[1])["match"]
        elif line.strip() and not line.startswith("#"):
            if pending is not None:
                labels[number] = pending
            pending = None
    return labels


@pytest.mark.parametrize(("name", "at_least"), [("sshd", 66), ("sshd-journal", 57), ("pam-generic", 8)])
def test_fail2ban_auth_logs(shared: Path, name: str, at_least: int) -> None:
    path = shared / FAIL2BAN / name
    items = list(read_file(path))
    assert not [item for item in items if isinstance(item, BadRecord)]
    events = {int(item.position): item for item in items if isinstance(item, Event)}
    labels = _labelled(path)
    assert set(labels) <= set(events)
    failures = [number for number, attack in labels.items() if attack and _auth_failure(events[number].fields)]
    assert len(failures) >= at_least


def test_sigmahq_rules_fire_on_the_fixtures(sigmahq_rules: Any) -> None:
    auditd = _events("audit.log")
    expected_auditd = {
        "1": {"1543ae20-cbdf-4ec1-8d12-7664d667a825",    # auditd EXECVE: chmod 777 (Suspicious Commands Linux)
              "6419afd1-3742-47a5-a7e6-b50386cd15f8"},   # process_creation: chmod on /tmp
        "8": {"eae8ce9f-bde9-47a6-8e79-f20d18419910",    # auditd EXECVE keywords: .bash_history
              "1182f3b3-e716-4efa-99ab-d2685d04360f"},   # process_creation: History File Deletion
        "9": {"4b3cb710-5e83-4715-8c45-8b2b5b3e5751"},   # auditd PATH: /etc/ld.so.preload
        "21": {"759d0d51-bc99-4b5e-9add-8f5b2c8e7512"},  # auditd ADD_USER
        "22": {"53059bc0-1472-438b-956a-7508a94a91f0"},  # auditd SERVICE_STOP firewalld
        "29": {"e497a24e-9345-4a62-9803-b06d7d7cb132"},  # auditd SYSCALL personality a0=40000
        "33": {"e2072cab-8c9a-459b-b63c-40ae79e27031"},  # process_creation: base64 --decode
        "38": {"3761e026-f259-44e6-8826-719ed8079408",   # auditd SYSCALL: nc with key network_connect_4
               "dbfc7c98-04ab-4ab7-aa94-c74d22aa7376"},  # network_connection: port 4444 to a public address
    }
    for position, ids in expected_auditd.items():
        assert ids <= fired_rule_ids(sigmahq_rules, [auditd[position]]), position
    preload = "4b3cb710-5e83-4715-8c45-8b2b5b3e5751"
    suspicious_commands = "1543ae20-cbdf-4ec1-8d12-7664d667a825"
    benign = [auditd[p] for p in ("20", "23", "33", "38")]
    assert not {preload, suspicious_commands} & fired_rule_ids(sigmahq_rules, benign)
    auth = _events("auth.log")
    assert "e76b413a-83d0-4b94-8e4c-85db4a5b8bdc" in fired_rule_ids(sigmahq_rules, [auth["31"]])  # sshd keywords
    assert "7fcc54cb-f27d-4684-84b7-436af096f858" in fired_rule_ids(sigmahq_rules, [auth["44"]])  # sudo USER=#-1
    assert "0ac15ec3-d24f-4246-aa2a-3077bb1cf90e" in fired_rule_ids(sigmahq_rules, [auth["53"]])  # UID=0 user
    assert "7fcc54cb-f27d-4684-84b7-436af096f858" not in fired_rule_ids(sigmahq_rules, [auth["38"]])


# --- fuzz -----------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
_AUDIT_LINES = (FIXTURES / "audit.log").read_text(encoding="utf-8").splitlines()
_AUTH_MESSAGES = [line.split(": ", 1)[1] for line in (FIXTURES / "auth.log").read_text(encoding="utf-8").splitlines()
                  if ": " in line]


def _mutate(draw: Callable[[st.SearchStrategy[Any]], Any], seeds: list[str]) -> str:
    text: str = draw(st.sampled_from(seeds))
    at = draw(st.integers(0, len(text)))
    piece: str = draw(st.text(max_size=8) | st.sampled_from(['"', "'", "=", ":", ")", "\x1d", "\x00", " port ", "["]))
    operation = draw(st.sampled_from(["cut", "insert", "replace", "random"]))
    if operation == "cut":
        return text[:at]
    if operation == "insert":
        return text[:at] + piece + text[at:]
    if operation == "replace":
        return text[:at] + piece + text[at + len(piece):]
    random_text: str = draw(st.text(max_size=120))
    return random_text


@FUZZ
@given(data=st.data())
def test_fuzz_auditd(data: st.DataObject) -> None:
    lines = [_mutate(data.draw, _AUDIT_LINES) if data.draw(st.booleans()) else line
             for line in data.draw(st.lists(st.sampled_from(_AUDIT_LINES), max_size=30))]
    for item in AuditdParser().parse(enumerate(lines, 1), CONTEXT):
        assert isinstance(item, Parsed | BadRecord)
    with contextlib.suppress(Malformed):
        AuditSyslogParser().parse(_mutate(data.draw, _AUDIT_LINES), Envelope(), CONTEXT)


@FUZZ
@given(data=st.data())
def test_fuzz_auth_messages(data: st.DataObject) -> None:
    message = _mutate(data.draw, _AUTH_MESSAGES)
    program = data.draw(st.sampled_from([None, "sshd", "sudo", "su", "login", "useradd", "pkexec", "cron",
                                         "systemd-logind", "vsftpd", "x(pam_unix)"]))
    envelope = Envelope(program=program, facility=data.draw(st.sampled_from([None, 4, 10])))
    for parser in AUTH_PARSERS:
        result = parser.parse(message, envelope, CONTEXT)
        assert result is None or isinstance(result, Parsed)


_JOURNAL = [json.loads(line) for line in (FIXTURES / "journal.json").read_text(encoding="utf-8").splitlines()]
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 300) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                  max_size=3), max_leaves=8)


@FUZZ
@given(data=st.data())
def test_fuzz_journald(data: st.DataObject) -> None:
    record = dict(data.draw(st.sampled_from(_JOURNAL)))
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from([*record, "MESSAGE", "_TRANSPORT", "_AUDIT_TYPE_NAME", "PRIORITY"]))
        if data.draw(st.booleans()):
            record.pop(key, None)
        else:
            record[key] = data.draw(_JSON)
    parser = JournaldParser()
    try:
        if parser.accepts(record, CONTEXT):
            for parsed in parser.parse(record, CONTEXT):
                assert isinstance(parsed, Parsed)
    except Malformed:
        pass


@FUZZ
@given(lines=st.lists(st.text(max_size=60) | st.sampled_from(
    (FIXTURES / "journal_short.log").read_text(encoding="utf-8").splitlines()), max_size=10))
def test_fuzz_journal_short(lines: list[str]) -> None:
    for item in JournalShortParser().parse(enumerate(lines, 1), CONTEXT):
        assert isinstance(item, Parsed | BadRecord)
    SyslogParser().sniff(lines, CONTEXT)
