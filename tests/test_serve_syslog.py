"""Acceptance 1 of issue 4 for syslog and file tails, end to end through ``yamori serve``: a real rsyslogd
forwards sshd lines over UDP, TCP (both framings) and mutual TLS; a tailed file is appended to and rotated; every
line becomes a searchable event, and Yamori's SSH failure rule raises an alert for each."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from rsyslog import Forward, Rsyslog, make_certificates, rsyslogd_or_skip
from serve_harness import RunningServer, free_port, start_server

LINES = 300


def count_by_input(server: RunningServer, q: str, dataset: str = "search") -> dict[str, int]:
    rows = server.get(f"/api/v1/{dataset}", q=q, count_by="input", role="reader").json()["rows"]
    return {row["value"]: row["count"] for row in rows}


def test_rsyslog_over_udp_tcp_and_tls_into_searchable_events_and_alerts(tmp_path: Path) -> None:
    rsyslogd_or_skip()
    certificates = make_certificates(tmp_path / "pki")
    os.chmod(certificates.server_key, 0o600)
    ports = {"udp": free_port(socket.SOCK_DGRAM), "tcp": free_port(), "octet": free_port(), "tls": free_port()}
    config = f"""
[[inputs.syslog]]
name = "rs-udp"
protocol = "udp"
listen = "127.0.0.1:{ports['udp']}"

[[inputs.syslog]]
name = "rs-tcp"
protocol = "tcp"
listen = "127.0.0.1:{ports['tcp']}"

[[inputs.syslog]]
name = "rs-octet"
protocol = "tcp"
listen = "127.0.0.1:{ports['octet']}"

[[inputs.syslog]]
name = "rs-tls"
protocol = "tls"
listen = "127.0.0.1:{ports['tls']}"
cert = "{certificates.server_cert}"
ca = "{certificates.ca}"
require_client_cert = true
key_env = "YAMORI_SYSLOG_TLS_KEY"
"""
    server = start_server(tmp_path / "serve", config,
                          env={"YAMORI_SYSLOG_TLS_KEY_FILE": str(certificates.server_key)})
    assert str(certificates.server_key) not in server.config.read_text()
    source = tmp_path / "auth.log"
    forwards = [Forward("udp", ports["udp"]), Forward("tcp", ports["tcp"], "traditional"),
                Forward("tcp", ports["octet"], "octet-counted"), Forward("tls", ports["tls"])]
    try:
        with Rsyslog(tmp_path / "rsyslog", source, forwards, certificates, tag="sshd[4101]:") as rsyslog:
            with source.open("a") as stream:
                for number in range(LINES):
                    stream.write(f"Failed password for invalid user u{number} from 203.0.113.{number % 250} "
                                 f"port {40000 + number} ssh2\n")
                    if number % 100 == 99:
                        stream.flush()
                        time.sleep(0.02)  # paced: UDP datagrams must not be lost in the kernel
            expected = {"rs-udp": LINES, "rs-tcp": LINES, "rs-octet": LINES, "rs-tls": LINES}
            try:
                server.wait_until(lambda: count_by_input(server, "parser:linux_sshd") == expected, timeout=60,
                                  what="rsyslog's lines as events on every input")
            except AssertionError:
                raise AssertionError(f"{count_by_input(server, 'parser:linux_sshd')}; rsyslogd: "
                                     f"{rsyslog.output()[-1500:]}") from None
        users = server.get("/api/v1/search", q='input:rs-tls AND user.name:"u7"', role="reader").json()["rows"]
        assert len(users) == 1 and users[0]["src_ip"] == "203.0.113.7"
        server.wait_until(lambda: count_by_input(server, "rule_id:*", "alerts") == expected, timeout=30,
                          what="an SSH failure alert per line and input")
    finally:
        assert server.stop() == 0


def test_tailed_file_appends_and_rotation_become_events(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    current = logs / "auth.log"
    current.write_text("")
    config = f'[[inputs.tail]]\nname = "tail-auth"\npaths = ["{logs}/auth.log*"]\npoll_interval = 0.05\n'
    server = start_server(tmp_path / "serve", config)
    try:
        def append(count: int, start: int) -> None:
            with current.open("a") as stream:
                for number in range(start, start + count):
                    stream.write(f"Nov 28 05:00:00 web01 sshd[1]: Failed password for root from 198.51.100.9 "
                                 f"port {number} ssh2\n")
        append(100, 0)
        server.wait_until(lambda: count_by_input(server, "parser:linux_sshd").get("tail-auth") == 100,
                          what="the first appends")
        append(20, 100)  # written just before the rotation: must not be lost
        current.rename(logs / "auth.log.1")
        current.write_text("")
        append(30, 120)
        server.wait_until(lambda: count_by_input(server, "parser:linux_sshd").get("tail-auth") == 150,
                          what="the lines around the rotation")
        ports = server.get("/api/v1/sql", q="select list(cast(json_extract_string(fields, '$.\"source.port\"') "
                           "as int) order by 1) as p from events where input = 'tail-auth'").json()["rows"][0]["p"]
        assert sorted(ports) == list(range(150))
        server.wait_until(lambda: count_by_input(server, "input:tail-auth", "alerts").get("tail-auth") == 150,
                          what="alerts for the tailed failures")
    finally:
        assert server.stop() == 0
