"""`yamori serve` on this machine: sustained ingest over HEC and TCP, and detection latency at fixed rates.

Replays the events of ``../shared/datasets`` (Windows EVTX records as the JSON a shipper sends, CloudTrail
records, Zeek JSON lines, Apache access and syslog lines) into a real ``yamori serve`` loaded with every rule of
``../shared/sigma`` plus Yamori's own. The sender is a separate process with its payloads encoded in advance.

* sustained: as fast as the server takes them (HEC: batches of 500 over 2 connections; TCP: newline-framed
  messages over 2 connections); events/s = events / (first send → last event stored); bytes on disk per event;
* ``--workers N``: N pipeline processes, each on its stripe of the log;
* latency: paced at 2,000, 5,000 and 10,000 events/s for ``--seconds``; p50/p99 of the stored alerts' latency
  (event received → alert stored) and whether the server kept up.

Search latency over 10 million stored events is ``benchmarks/search.py``. Usage:
``python benchmarks/serve.py [--events N] [--seconds S] [--rates 2000,5000,10000] [--skip-sustained]``
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import DATASETS, REPO, SIGMA, require_shared, table
from serve_harness import RunningServer, free_port, start_server
from yamori.events import Event
from yamori.sources.files import read_file

Item = dict[str, Any] | str


def corpus(limit_text: int = 20_000) -> list[Item]:
    """JSON records (dicts) and text lines from the shared datasets."""
    items: list[Item] = []
    for path in sorted(DATASETS.rglob("*.evtx")):
        items.extend(event.raw for event in read_file(path) if isinstance(event, Event) and isinstance(event.raw,
                                                                                                         dict))
    for path in sorted((DATASETS / "invictus-ir_aws_dataset").rglob("*.json")):
        document = orjson.loads(path.read_bytes())
        if isinstance(document, dict):
            items.extend(document.get("Records", []))
    for path in sorted((DATASETS / "brimdata_zed-sample-data").rglob("*.json.gz"))[:12]:
        with gzip.open(path) as lines:
            items.extend(orjson.loads(line) for line in islice(lines, 3_000))
    apache = DATASETS / "elastic_examples" / "Common Data Formats" / "apache_logs" / "apache_logs"
    lines = apache.read_text(errors="replace").splitlines()[:limit_text]
    items.extend(f"<134>1 2026-11-28T05:00:00Z web01 apache - - - {line}" for line in lines)
    for path in sorted((DATASETS / "fail2ban_fail2ban").rglob("*")):
        if path.is_file() and path.suffix in ("", ".log"):
            items.extend(line for line in path.read_text(errors="replace").splitlines()
                         if line.strip() and not line.startswith("#"))
    return items


def hec_payloads(items: list[Item], total: int, batch: int) -> list[bytes]:
    chosen = list(islice(cycle(items), total))
    return [b"".join(orjson.dumps({"event": item}) for item in chosen[start:start + batch])
            for start in range(0, total, batch)]


def tcp_payloads(items: list[Item], total: int, batch: int) -> list[bytes]:
    chosen = list(islice(cycle(items), total))
    lines = [(orjson.dumps(item) if isinstance(item, dict) else item.encode()) + b"\n" for item in chosen]
    return [b"".join(lines[start:start + batch]) for start in range(0, total, batch)]


def send(kind: str, target: str, token: str, payloads: list[bytes], per_batch: int, rate: float | None,
         started: Any) -> None:
    """Sender process: post/write ``payloads`` (of ``per_batch`` events each), paced to ``rate`` events/s."""
    started.value = time.time()
    interval = per_batch / rate if rate else 0.0
    next_at = time.monotonic()
    if kind == "hec":
        with httpx.Client(timeout=60, headers={"Authorization": f"Splunk {token}"}) as client:
            for payload in payloads:
                while True:
                    answer = client.post(target, content=payload)
                    if answer.status_code == 200:
                        break
                    time.sleep(float(answer.headers.get("Retry-After", "0.2")))
                if interval:
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.monotonic()))
    else:
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as connection:
            for payload in payloads:
                connection.sendall(payload)
                if interval:
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.monotonic()))


def run_senders(server: RunningServer, kind: str, tcp_port: int, payload_sets: list[list[bytes]], per_batch: int,
                rate: float | None) -> float:
    context = multiprocessing.get_context("fork")
    started = [context.Value("d", 0.0) for _ in payload_sets]
    target = (f"{server.url}/services/collector/event" if kind == "hec" else f"127.0.0.1:{tcp_port}")
    token = os.environ.get("YAMORI_HEC_TOKEN", "") or "hec-test-token-0123456789"
    processes = [context.Process(target=send, args=(kind, target, token, payloads, per_batch,
                                                     rate / len(payload_sets) if rate else None, value))
                 for payloads, value in zip(payload_sets, started, strict=True)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return min(value.value for value in started)


def tcp_input(tcp_port: int) -> str:
    return f'[[inputs.syslog]]\nname = "tcp"\nprotocol = "tcp"\nlisten = "127.0.0.1:{tcp_port}"\nread_bytes = 262144\n'


def measure_sustained(base: Path, items: list[Item], kind: str, total: int) -> dict[str, Any]:
    tcp_port = free_port()
    server = launch(base / f"sustained-{kind}", tcp_port)
    per_batch = 500
    builder = hec_payloads if kind == "hec" else tcp_payloads
    payloads = builder(items, total, per_batch)
    halves = [payloads[0::2], payloads[1::2]]
    before_status = server.status()
    before = before_status["stored_events"]
    pids = {"server": [server.process.pid], "pipeline": before_status["pipeline_pids"]}
    cpu_before = {role: sum(cpu_seconds(pid) for pid in group) for role, group in pids.items()}
    first = run_senders(server, kind, tcp_port, halves, per_batch, None)
    sent_at = time.time()
    wait_drained(server)
    done = time.time()
    cpu = {role: sum(cpu_seconds(pid) for pid in group) - cpu_before[role] for role, group in pids.items()}
    status = server.status()
    stored = status["stored_events"] - before
    stats = server.get("/api/v1/sql", q="select count(*) as n from alerts").json()["rows"][0]["n"]
    metrics = server.get("/metrics").text
    server.stop()
    from yamori.store.stats import store_stats

    store = store_stats(server.data_dir / "store")
    return {"kind": kind, "events": stored, "seconds": done - first, "send_seconds": sent_at - first,
            "eps": stored / (done - first), "alerts": stats, "bytes_per_event": store.bytes_per_event,
            "parse_errors": sum(status["parse_errors"].values()), "metrics": metrics,
            "server_cpu_us": cpu["server"] / stored * 1e6, "pipeline_cpu_us": cpu["pipeline"] / stored * 1e6}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_latency(base: Path, items: list[Item], rate: int, seconds: float) -> dict[str, Any]:
    tcp_port = free_port()
    server = launch(base / f"latency-{rate}", tcp_port)
    per_batch = max(10, rate // 20)  # 20 posts a second
    total = int(rate * seconds)
    payloads = hec_payloads(items, total, per_batch)
    first = run_senders(server, "hec", tcp_port, [payloads], per_batch, rate)
    send_seconds = time.time() - first
    wait_drained(server)
    row = server.get("/api/v1/sql", q="select count(*) as n, quantile_cont(latency_ms, 0.5) as p50, "
                     "quantile_cont(latency_ms, 0.99) as p99, max(latency_ms) as worst from alerts").json()["rows"][0]
    server.stop()
    return {"rate": rate, "events": total, "achieved": total / send_seconds, "alerts": row["n"],
            "p50": row["p50"], "p99": row["p99"], "max": row["worst"]}


def launch(base: Path, tcp_port: int) -> RunningServer:
    """A server with the TCP input, all rules and ``WORKERS`` pipeline processes, warmed up."""
    base.mkdir(parents=True, exist_ok=True)
    api_port = free_port()
    from serve_harness import wait_ready, write_config

    write_config(base / "yamori.toml", base / "data", api_port, tcp_input(tcp_port), rules=RULES,
                 pipeline=f"flush_seconds = 0.2\nworkers = {WORKERS[0]}")
    server = start_server(base, wait=False)
    wait_ready(server, timeout=300)
    # the first events pay for building the engine's plans: warm them so the measures see the steady state
    warm = hec_payloads(corpus_sample, 4_000, 500)
    run_senders(server, "hec", tcp_port, [warm], 500, None)
    wait_drained(server)
    return server


def wait_drained(server: RunningServer) -> None:
    """Until the pipeline has stored everything the inputs took (the senders have finished)."""
    time.sleep(0.5)  # the last TCP reads reach the log
    server.wait_until(lambda: server.status()["log"]["backlog_records"] == 0, timeout=1800, what="catch up")


corpus_sample: list[Item] = []
WORKERS = [1]
RULES = [SIGMA, REPO / "rules"]
"""The rule paths the servers load (benchmarks/correlation.py adds its correlation rules)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", default="2000,5000,10000")
    parser.add_argument("--skip-sustained", action="store_true")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=1, help="pipeline processes ([pipeline] workers)")
    arguments = parser.parse_args()
    require_shared()
    items = corpus()
    corpus_sample[:] = items
    WORKERS[0] = arguments.workers
    print(f"corpus: {len(items):,} events ({sum(isinstance(item, dict) for item in items):,} JSON records); "
          f"{arguments.workers} pipeline process(es)")
    with tempfile.TemporaryDirectory(prefix="yamori-serve-bench-") as folder:
        base = arguments.dir or Path(folder)
        os.environ.setdefault("YAMORI_CACHE_DIR", str(Path(tempfile.gettempdir()) / "yamori-bench-cache"))
        if not arguments.skip_sustained:
            rows = []
            for kind in ("hec", "tcp"):
                result = measure_sustained(base, items, kind, arguments.events)
                rows.append([kind.upper(), f"{result['events']:,}", f"{result['seconds']:.1f}",
                             f"{result['eps']:,.0f}", f"{result['alerts']:,}", f"{result['bytes_per_event']:.0f}",
                             f"{result['server_cpu_us']:.0f}", f"{result['pipeline_cpu_us']:.0f}",
                             result["parse_errors"]])
            print(table(["input", "events", "seconds", "events/s stored", "alerts", "bytes/event on disk",
                         "server CPU µs/event", "pipeline CPU µs/event", "parse errors"], rows))
        rows = []
        for rate in (int(value) for value in arguments.rates.split(",") if value):
            result = measure_latency(base, items, rate, arguments.seconds)
            rows.append([f"{rate:,}", f"{result['achieved']:,.0f}", f"{result['alerts']:,}",
                         f"{result['p50']:.0f}", f"{result['p99']:.0f}", f"{result['max']:.0f}"])
        print(table(["target events/s (HEC)", "sent events/s", "alerts", "latency p50 (ms)", "p99 (ms)",
                     "max (ms)"], rows))


if __name__ == "__main__":
    main()
