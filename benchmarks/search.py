"""Event store: write throughput, bytes on disk per event and search latency over 10 million stored events.

Builds (or reuses) a store of synthetic but realistic events - Windows Security and Sysmon, Linux sshd, firewall,
web access and CloudTrail, as Yamori's parsers give them (native fields, Sigma taxonomy and ECS names; 300-600
bytes of field JSON), over several hosts, users, event codes and one month of timestamps - written in batches of
5,000 through the store's own writer (``EventStore.write_batch``), then compacted. Then it times, best and median
of several runs: a count-by on a normalized column and on a field only in the JSON, a 1-hour histogram over
everything, and a selective query with ``limit 100``. It also times converting and writing alone (the pipeline's
hot path) on batches of 5,000 events.

Usage: python benchmarks/search.py [--dir PATH] [--events N] [--runs N]
The store is kept in ``--dir`` (default: a folder under the system temporary folder) and reused when it already
holds N events; delete it to rebuild.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from yamori.events import Event, LogSource
from yamori.store.columns import EVENT_SCHEMA, event_rows, to_table
from yamori.store.compact import compact
from yamori.store.events import EventStore
from yamori.store.fileio import parquet_bytes
from yamori.store.model import StoredEvent
from yamori.store.search import count_by, histogram, iter_events, search
from yamori.store.stats import store_stats

BATCH = 5_000
START = datetime(2026, 10, 1, tzinfo=UTC)
SPAN = timedelta(days=30)

HOSTS = [f"ws{n:03d}.corp.example" for n in range(40)] + [f"srv{n:02d}.corp.example" for n in range(12)] + \
    ["dc01.corp.example", "dc02.corp.example"]
LINUX_HOSTS = [f"web{n:02d}" for n in range(8)] + [f"db{n:02d}" for n in range(4)] + ["bastion"]
USERS = [f"user{n:03d}" for n in range(300)] + ["administrator", "svc_backup", "svc_sql", "alice", "bob"]
PROCESSES = [r"C:\Windows\System32\cmd.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
             r"C:\Program Files\Google\Chrome\Application\chrome.exe", r"C:\Windows\explorer.exe",
             r"C:\Windows\System32\svchost.exe", r"C:\Windows\System32\net.exe", r"C:\Windows\System32\whoami.exe",
             r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", r"C:\Windows\System32\rundll32.exe"]
COMMANDS = ["/c dir", "-NoProfile -Command Get-Process", "--type=renderer", "", "-k netsvcs -p", "user /domain",
            "/all", "/n /dde", "shell32.dll,Control_RunDLL"]
URLS = ["/", "/index.html", "/login", "/api/v1/items", "/static/app.js", "/wp-login.php", "/admin", "/search?q=x"]
AWS_ACTIONS = ["ConsoleLogin", "GetObject", "PutObject", "AssumeRole", "DescribeInstances", "CreateUser",
               "ListBuckets", "GetSecretValue"]

WINDOWS_SECURITY = LogSource(("windows",), (), ("security",))
WINDOWS_PROCESS = LogSource(("windows",), ("process_creation",), ("security",))
SYSMON_PROCESS = LogSource(("windows",), ("process_creation",), ("sysmon",))
SYSMON_NETWORK = LogSource(("windows",), ("network_connection",), ("sysmon",))
LINUX_SSHD = LogSource(("linux",), (), ("auth", "sshd"))
FIREWALL = LogSource(("linux",), ("firewall",), ("syslog",))
WEB = LogSource((), ("webserver",), ())
CLOUDTRAIL = LogSource(("aws",), (), ("cloudtrail",))


def _ip(rng: random.Random, internal: bool) -> str:
    if internal:
        return f"10.{rng.randrange(4)}.{rng.randrange(16)}.{rng.randrange(1, 255)}"
    return f"{rng.choice((198, 203, 185, 45))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _logon(rng: random.Random, when: str, seq: int) -> Event:
    code = rng.choice((4624, 4624, 4624, 4625, 4634, 4672))
    host, user, ip = rng.choice(HOSTS), rng.choice(USERS), _ip(rng, rng.random() < 0.8)
    failed = code == 4625
    fields = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": host.split(".")[0].upper() + "$",
              "SubjectDomainName": "CORP", "TargetUserName": user, "TargetDomainName": "CORP",
              "LogonType": rng.choice((2, 3, 3, 10)), "IpAddress": ip, "IpPort": rng.randrange(1024, 65535),
              "EventID": code, "Channel": "Security", "Computer": host, "EventRecordID": seq,
              "event.code": code, "host.name": host, "user.name": user, "source.ip": ip,
              "event.action": "logon-failed" if failed else "logged-in",
              "event.outcome": "failure" if failed else "success", "event.category": ["authentication"],
              "@timestamp": when, "event.module": "windows"}
    return Event(fields, WINDOWS_SECURITY, "C:/Windows/System32/winevt/Logs/Security.evtx", str(seq), when,
                 None, "windows")


def _process(rng: random.Random, when: str, seq: int) -> Event:
    host, user = rng.choice(HOSTS), rng.choice(USERS)
    image, parent = rng.choice(PROCESSES), rng.choice(PROCESSES)
    command = f'"{image}" {rng.choice(COMMANDS)}'
    sysmon = rng.random() < 0.5
    fields = {"Image": image, "CommandLine": command, "ParentImage": parent, "User": f"CORP\\{user}",
              "ProcessId": rng.randrange(100, 30000), "EventID": 1 if sysmon else 4688,
              "Channel": "Microsoft-Windows-Sysmon/Operational" if sysmon else "Security", "Computer": host,
              "Hashes": f"SHA256={rng.getrandbits(128):032X}", "event.code": 1 if sysmon else 4688,
              "host.name": host, "user.name": user, "process.executable": image, "process.command_line": command,
              "process.parent.executable": parent, "@timestamp": when, "event.module": "windows"}
    return Event(fields, SYSMON_PROCESS if sysmon else WINDOWS_PROCESS, "winlogbeat", str(seq), when, None,
                 "windows")


def _network(rng: random.Random, when: str, seq: int) -> Event:
    host, image = rng.choice(HOSTS), rng.choice(PROCESSES)
    src, dst, port = _ip(rng, True), _ip(rng, rng.random() < 0.3), rng.choice((443, 443, 80, 53, 445, 3389, 8080))
    fields = {"Image": image, "Protocol": "tcp", "Initiated": "true", "SourceIp": src,
              "SourcePort": rng.randrange(49152, 65535), "DestinationIp": dst, "DestinationPort": port,
              "EventID": 3, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": host,
              "event.code": 3, "host.name": host, "source.ip": src, "destination.ip": dst,
              "destination.port": port, "network.transport": "tcp", "@timestamp": when, "event.module": "windows"}
    return Event(fields, SYSMON_NETWORK, "winlogbeat", str(seq), when, None, "windows")


def _sshd(rng: random.Random, when: str, seq: int) -> Event:
    host, user, ip, port = rng.choice(LINUX_HOSTS), rng.choice(USERS), _ip(rng, False), rng.randrange(1024, 65535)
    accepted = rng.random() < 0.3
    verb = "Accepted password" if accepted else "Failed password"
    message = f"{verb} for {user} from {ip} port {port} ssh2"
    line = f"{when[5:7]} {when[8:10]} {when[11:19]} {host} sshd[{rng.randrange(1000, 9999)}]: {message}"
    fields = {"timestamp": when[11:19], "host": host, "host.hostname": host, "program": "sshd",
              "process.name": "sshd", "message": message, "user": user, "user.name": user, "source_ip": ip,
              "source.ip": ip, "source.port": port, "event.category": ["authentication"],
              "event.action": "ssh_login", "event.outcome": "success" if accepted else "failure",
              "@timestamp": when, "event.module": "linux_sshd"}
    return Event(fields, LINUX_SSHD, "/var/log/auth.log", str(seq), when, line, "linux_sshd")


def _firewall(rng: random.Random, when: str, seq: int) -> Event:
    host, src, dst = rng.choice(LINUX_HOSTS), _ip(rng, False), _ip(rng, True)
    spt, dpt = rng.randrange(1024, 65535), rng.choice((22, 23, 80, 443, 445, 3389, 5900))
    line = (f"{when[11:19]} {host} kernel: [UFW BLOCK] IN=eth0 OUT= SRC={src} DST={dst} LEN=60 PROTO=TCP "
            f"SPT={spt} DPT={dpt} SYN")
    fields = {"host": host, "host.hostname": host, "program": "kernel", "rule.name": "UFW BLOCK", "IN": "eth0",
              "SRC": src, "DST": dst, "PROTO": "TCP", "SPT": str(spt), "DPT": str(dpt), "src_ip": src,
              "source.ip": src, "dst_ip": dst, "destination.ip": dst, "src_port": spt, "source.port": spt,
              "dst_port": dpt, "destination.port": dpt, "action": "drop", "event.action": "drop",
              "event.outcome": "failure", "@timestamp": when, "event.module": "netfilter"}
    return Event(fields, FIREWALL, "/var/log/kern.log", str(seq), when, line, "netfilter")


def _web(rng: random.Random, when: str, seq: int) -> Event:
    ip, url, status = _ip(rng, False), rng.choice(URLS), rng.choice((200, 200, 200, 304, 404, 403, 500))
    size = rng.randrange(200, 90000)
    line = (f'{ip} - - [{when}] "GET {url} HTTP/1.1" {status} {size} "-" '
            f'"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"')
    fields = {"remote_addr": ip, "request": f"GET {url} HTTP/1.1", "status": str(status),
              "body_bytes_sent": str(size), "c-ip": ip, "source.ip": ip, "cs-method": "GET", "cs-uri-stem": url,
              "sc-status": status, "url.original": url, "http.response.status_code": status,
              "user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
              "event.category": ["web"], "event.outcome": "success" if status < 400 else "failure",
              "host.hostname": rng.choice(LINUX_HOSTS[:8]), "@timestamp": when, "event.module": "access_log"}
    return Event(fields, WEB, "/var/log/nginx/access.log", str(seq), when, line, "access_log")


def _cloudtrail(rng: random.Random, when: str, seq: int) -> Event:
    action, user, ip = rng.choice(AWS_ACTIONS), rng.choice(USERS[:40]), _ip(rng, False)
    fields = {"eventVersion": "1.09", "userIdentity.type": "IAMUser", "userIdentity.userName": user,
              "userIdentity.accountId": "123456789012", "eventTime": when, "eventSource": "iam.amazonaws.com",
              "eventName": action, "awsRegion": rng.choice(("us-east-1", "eu-west-1")), "sourceIPAddress": ip,
              "eventID": f"{rng.getrandbits(64):016x}", "cloud.provider": "aws", "user.name": user,
              "source.ip": ip, "event.action": action, "event.outcome": "success", "cloud.account.id": "123456789012",
              "@timestamp": when, "event.module": "cloudtrail"}
    return Event(fields, CLOUDTRAIL, "s3://trail/2026/10/01/log.json.gz", str(seq), when, None, "cloudtrail")


MAKERS: list[tuple[Callable[[random.Random, str, int], Event], int]] = [
    (_logon, 30), (_process, 20), (_network, 15), (_sshd, 12), (_firewall, 10), (_web, 10), (_cloudtrail, 3)]


def synthetic_batches(count: int, seed: int = 7, span: timedelta = SPAN) -> Iterator[list[StoredEvent]]:
    """``count`` events in time order over ``span`` from :data:`START`, as write-ahead-log batches of :data:`BATCH`."""
    rng = random.Random(seed)
    makers = [maker for maker, weight in MAKERS for _ in range(weight)]
    step_us = span / timedelta(microseconds=1) / count
    start_us = int(START.timestamp() * 1_000_000)
    received_ns = time.time_ns()
    for first in range(0, count, BATCH):
        batch = []
        for seq in range(first, min(count, first + BATCH)):
            micros = start_us + int(seq * step_us)
            when = datetime.fromtimestamp(micros / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            event = rng.choice(makers)(rng, when, seq)
            batch.append(StoredEvent(seq, 0, "bench", received_ns, event))
        yield batch


def build(root: Path, count: int) -> tuple[float, float]:
    """Write ``count`` events through EventStore.write_batch and compact; (write seconds, compact seconds)."""
    store = EventStore(root)
    written = store.committed_seq() + 1
    seconds = 0.0
    for batch in synthetic_batches(count):
        if batch[-1].seq < written:
            continue
        started = time.perf_counter()
        store.write_batch(batch, [], batch[0].seq, batch[-1].seq)
        seconds += time.perf_counter() - started
        if batch[0].seq % 500_000 == 0:
            print(f"  {batch[-1].seq + 1:,} events written", file=sys.stderr)
    started = time.perf_counter()
    compact(root, idle_seconds=0)
    return seconds, time.perf_counter() - started


def timed(function: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def convert_rate(runs: int) -> tuple[float, float]:
    """Events/s of converting + encoding (no disk) and of the whole write_batch (disk, fsync) on 5,000 events."""
    batches = list(synthetic_batches(BATCH * 4, seed=11, span=timedelta(seconds=4)))  # 20,000 events/s
    best_convert = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        for batch in batches:
            columns, _ = event_rows(batch)
            parquet_bytes(to_table(columns, EVENT_SCHEMA))
        best_convert = max(best_convert, BATCH * len(batches) / (time.perf_counter() - started))
    best_write = 0.0
    with tempfile.TemporaryDirectory() as folder:
        store = EventStore(Path(folder))
        offset = 0
        for _ in range(runs):
            started = time.perf_counter()
            for batch in batches:
                for stored in batch:
                    stored.seq += offset
                store.write_batch(batch, [], batch[0].seq, batch[-1].seq)
            best_write = max(best_write, BATCH * len(batches) / (time.perf_counter() - started))
            offset = BATCH * len(batches)
    return best_convert, best_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "yamori-search-bench")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root: Path = args.dir
    rows: list[tuple[str, str]] = []
    convert, write = convert_rate(3)
    rows.append(("convert + encode, 5,000-event batches (events/s)", f"{convert:,.0f}"))
    rows.append(("write_batch incl. fsync, 5,000-event batches (events/s)", f"{write:,.0f}"))
    stats = store_stats(root) if root.exists() else None
    if stats is None or stats.events < args.events:
        print(f"building {args.events:,} events in {root} ...", file=sys.stderr)
        write_seconds, compact_seconds = build(root, args.events)
        stats = store_stats(root)
        rows.append(("bulk build: write_batch (events/s)", f"{args.events / write_seconds:,.0f}"))
        rows.append(("bulk build: compaction (s)", f"{compact_seconds:.1f}"))
    rows.append(("events stored", f"{stats.events:,}"))
    rows.append(("files / partitions", f"{stats.event_files:,} / {stats.partitions:,}"))
    rows.append(("bytes on disk per event", f"{stats.bytes_per_event:.1f}"))
    queries: list[tuple[str, Callable[[], Any]]] = [
        ("count-by host (normalized column), all events", lambda: count_by(root, "host", limit=10)),
        ("count-by LogonType (JSON-only field), all events", lambda: count_by(root, "LogonType", limit=10)),
        ("histogram 1h, all events", lambda: histogram(root, "1h")),
        ("search 'user:alice AND event_code:4625', limit 100",
         lambda: search(root, "user:alice AND event_code:4625", limit=100)),
        ("search 'user:alice AND event_code:4625 AND host:dc01*' (33 hits: reads everything)",
         lambda: search(root, "user:alice AND event_code:4625 AND host:dc01*", limit=100)),
        ("count-by user where outcome:failure, last 7 days",
         lambda: count_by(root, "user", "outcome:failure", start=START + SPAN - timedelta(days=7),
                          end=START + SPAN, limit=10)),
    ]
    for title, function in queries:
        best, median, _ = timed(function, args.runs)
        rows.append((f"{title}: best / median (s)", f"{best:.3f} / {median:.3f}"))
    day = START + timedelta(days=10)
    started = time.perf_counter()
    count = sum(1 for _ in iter_events(root, day, day + timedelta(days=1)))
    rows.append(("read back as Events in time order (hunt --store), one day (events/s)",
                 f"{count / (time.perf_counter() - started):,.0f}"))
    print(table(("measure", "value"), rows))


if __name__ == "__main__":
    main()
