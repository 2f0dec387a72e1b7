"""Acceptance 3 of issue 4: input beyond capacity keeps memory bounded, senders see push-back, counters are right.

The pipeline process is paused (SIGSTOP), so nothing is consumed while HEC, syslog TCP and syslog UDP senders
keep sending. HEC must answer 503 with Retry-After, TCP must stop reading (the sender's socket stops accepting
data), UDP must drop and count, the server's memory must stay bounded; once the pipeline resumes, everything
acknowledged is stored, exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson

from serve_harness import RunningServer, free_port, start_server, write_config

BATCH = 200


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    assert match
    return int(match.group(1)) / 1024


def metric(server: RunningServer, name: str, **labels: str) -> float:
    text = server.get("/metrics", role="reader").text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def hec_batch(start: int) -> bytes:
    return b"".join(orjson.dumps({"event": {"overload": "hec", "n": n, "pad": "x" * 200}})
                    for n in range(start, start + BATCH))


def test_overload_pushes_back_keeps_memory_bounded_and_loses_nothing(tmp_path: Path) -> None:
    tcp_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
    config = f"""
[limits]
max_backlog_records = 300
max_backlog_bytes = 4000000
retry_after = 2

[[inputs.syslog]]
name = "tcp"
protocol = "tcp"
listen = "127.0.0.1:{tcp_port}"
receive_buffer_bytes = 65536

[[inputs.syslog]]
name = "udp"
protocol = "udp"
listen = "127.0.0.1:{udp_port}"
max_pending_records = 2000
"""
    server = start_server(tmp_path, config)
    try:
        pipeline = server.status()["pipeline_pid"]
        os.kill(pipeline, signal.SIGSTOP)
        base_rss = rss_mb(server.process.pid)

        # HEC: accepted until the backlog is full, then 503 + Retry-After
        client = httpx.Client(timeout=30)
        accepted, refused, retry_after = 0, 0, None
        for number in range(0, 400 * BATCH, BATCH):
            answer = client.post(f"{server.url}/services/collector/event", content=hec_batch(number),
                                 headers=server.hec_headers())
            if answer.status_code == 200:
                accepted += 1
            else:
                assert answer.status_code == 503 and answer.json()["code"] == 9
                retry_after = answer.headers.get("Retry-After")
                refused += 1
        assert accepted > 0 and refused > 0
        assert retry_after == "2"

        # TCP: the server stops reading, so the sender's buffers fill and send() stops taking data
        sender = socket.create_connection(("127.0.0.1", tcp_port))
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sender.setblocking(False)
        line = b"<13>Nov 28 05:00:00 host app[1]: overload tcp message with some padding " + b"y" * 100 + b"\n"
        sent = 0
        stalled_since = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                sent += sender.send(line[sent % len(line):])
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.5:
                    break
                time.sleep(0.01)
        assert stalled_since is not None, "TCP sends never blocked: no push-back"
        assert sent < 64 << 20, "the server kept reading far beyond its limits"
        unfinished = line[sent % len(line):] if sent % len(line) else b""
        tcp_messages = sent // len(line) + (1 if unfinished else 0)

        # UDP: datagrams beyond the pending bound are dropped and counted
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        datagrams = 3000
        for number in range(datagrams):
            udp.sendto(f"<13>Nov 28 05:00:00 host app[1]: overload udp {number}".encode(), ("127.0.0.1", udp_port))
            if number % 200 == 0:
                time.sleep(0.01)  # pace below the kernel's socket buffer, so drops are ours, not the kernel's
        time.sleep(1)
        grown = rss_mb(server.process.pid) - base_rss
        assert grown < 150, f"server memory grew {grown:.0f} MB under overload"
        assert metric(server, "yamori_input_pushback_total", input="hec") >= refused
        assert metric(server, "yamori_input_pushback_total", input="tcp") >= 1
        udp_received = metric(server, "yamori_input_records_total", input="udp")
        udp_dropped = metric(server, "yamori_input_dropped_total", input="udp", reason="overload")
        assert udp_dropped > 0
        assert udp_received + udp_dropped == datagrams

        os.kill(pipeline, signal.SIGCONT)
        sender.setblocking(True)
        sender.sendall(unfinished)  # the server reads again: the message cut by the stall is finished
        sender.close()
        expected = accepted * BATCH + tcp_messages + int(udp_received)
        server.wait_stored(expected, timeout=120)
        counts = server.get("/api/v1/search", count_by="input", role="reader").json()["rows"]
        by_input = {row["value"]: row["count"] for row in counts}
        expected_by_input = {"hec": accepted * BATCH, "tcp": tcp_messages, "udp": int(udp_received)}
        assert by_input == {name: count for name, count in expected_by_input.items() if count}
        numbers = server.get("/api/v1/sql", q="select count(distinct json_extract_string(fields, '$.n')) as n "
                             "from events where input = 'hec'").json()["rows"][0]["n"]
        assert numbers == accepted * BATCH
    finally:
        with_pipeline = server.status() if server.process.poll() is None else None
        if with_pipeline:
            os.kill(with_pipeline["pipeline_pid"], signal.SIGCONT)
        server.stop()


def test_concurrent_request_bodies_share_a_memory_budget(tmp_path: Path) -> None:
    import asyncio



    write_config(tmp_path / "yamori.toml", tmp_path / "data", free_port())
    config = tmp_path / "yamori.toml"
    config.write_text(config.read_text().replace("[api]\n", "[api]\nmax_inflight_bytes = 1000000\n"))
    server = start_server(tmp_path)
    try:
        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"event": "' + b"x" * 700_000
            await asyncio.sleep(1.5)
            yield b'"}'

        async def main() -> tuple[int, int, int]:
            async with httpx.AsyncClient(timeout=30) as client:
                url = f"{server.url}/services/collector/event"
                holding = asyncio.create_task(client.post(url, content=slow_body(), headers=server.hec_headers()))
                await asyncio.sleep(0.5)  # the first request now holds 700 kB of the 1 MB budget
                second = await client.post(url, content=b'{"event": "' + b"y" * 700_000 + b'"}',
                                           headers=server.hec_headers())
                first = await holding
                third = await client.post(url, content=b'{"event": "' + b"z" * 700_000 + b'"}',
                                          headers=server.hec_headers())
                return first.status_code, second.status_code, third.status_code

        first, second, third = asyncio.run(main())
        assert (first, second, third) == (200, 503, 200)  # refused while the budget was taken, then given back
    finally:
        server.stop()
