"""`yamori serve` end to end, as a real process: HTTP/HEC ingest, search, alerts, auth by role, audit, metrics,
filters and `yamori status`."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from serve_harness import TOKENS, RunningServer, start_server

DEMO = Path(__file__).resolve().parent.parent / "demo" / "events"
SSH_FAILURE = "<38>Nov 28 02:58:01 web01 sshd[4101]: Failed password for root from 203.0.113.77 port 51022 ssh2"

FILTERS = """
[[filters]]
name = "drop-cron"
action = "drop"
where = { "process.name" = "cron" }
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("serve")
    watch = f'[[inputs.watch]]\nname = "drop"\npaths = ["{base / "drop"}"]\nsettle_seconds = 0.2\npoll_interval = 0.1\n'
    running = start_server(base, FILTERS + watch)
    yield running
    assert running.stop() == 0, running.log_text()[-3000:]


def hec(server: RunningServer, path: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", content=body, headers={**server.hec_headers(), **headers}, timeout=30)


def test_hec_json_and_raw_events_become_searchable_with_alerts(server: RunningServer) -> None:
    before = server.status()["stored_events"]
    windows = [orjson.loads(line) for line in DEMO.joinpath("workstation-sysmon.jsonl").read_bytes().splitlines()]
    batch = b"".join(orjson.dumps({"event": record, "host": "ws-fin-07", "sourcetype": "xmlwineventlog"})
                     for record in windows)
    answer = hec(server, "/services/collector/event", batch)
    assert answer.status_code == 200 and answer.json() == {"text": "Success", "code": 0}
    raw = (SSH_FAILURE + "\n" + "<13>Nov 28 03:00:00 web01 cron[1]: (root) CMD (true)\n").encode()
    answer = hec(server, "/services/collector/raw?sourcetype=syslog&host=web01", gzip.compress(raw),
                 **{"Content-Encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    server.wait_stored(before + len(windows) + 1)
    found = server.get("/api/v1/search", q='source.ip:"203.0.113.77" AND event.outcome:failure', role="reader")
    assert found.status_code == 200, found.text
    (row,) = found.json()["rows"]
    assert row["input"] == "hec" and row["parser"] == "linux_sshd"
    alerts = server.get("/api/v1/alerts", q=f'event_id:"{row["event_id"]}"', role="reader").json()["rows"]
    assert alerts, "Yamori's SSH failure rule fires on the event"
    assert alerts[0]["latency_ms"] >= 0
    sysmon = server.get("/api/v1/search", q="input:hec AND EventID:1", role="reader").json()["rows"]
    assert sysmon
    assert server.get("/api/v1/search", q="process.name:cron", role="reader").json()["rows"] == []


def test_ndjson_and_arrays_over_the_ingest_api(server: RunningServer) -> None:
    before = server.status()["stored_events"]
    lines = DEMO.joinpath("suricata-eve.json").read_bytes()
    count = len([line for line in lines.splitlines() if line.strip()])
    answer = httpx.post(f"{server.url}/api/v1/ingest?input=ids", content=lines, headers=server.headers("ingest"),
                        timeout=30)
    assert answer.status_code == 200 and answer.json()["accepted"] is True
    answer = httpx.post(f"{server.url}/api/v1/ingest?input=cloud", content=DEMO.joinpath("cloudtrail.json")
                        .read_bytes(), headers=server.headers("ingest"), timeout=30)
    assert answer.status_code == 200
    server.wait_stored(before + count + 1)
    counts = server.get("/api/v1/search", count_by="input", role="reader").json()["rows"]
    by_input = {row["value"]: row["count"] for row in counts}
    assert by_input["ids"] == count and by_input["cloud"] >= 1
    histogram = server.get("/api/v1/search", histogram="1d", q="input:ids", role="reader").json()["rows"]
    assert sum(row["count"] for row in histogram) == count


def test_a_file_dropped_in_a_watched_folder_is_detected_and_searchable(server: RunningServer) -> None:
    import gzip as gz

    drop = server.config.parent / "drop"
    before = server.status()["stored_events"]
    staging = server.config.parent / "staging.jsonl.gz"
    staging.write_bytes(gz.compress(DEMO.joinpath("dc-security.jsonl").read_bytes()))
    staging.rename(drop / "dc-security.jsonl.gz")  # dropped whole, as a copy tool's final rename does
    count = len(DEMO.joinpath("dc-security.jsonl").read_bytes().splitlines())
    server.wait_stored(before + count)
    rows = server.get("/api/v1/search", q="input:drop", limit=1000, role="reader").json()["rows"]
    assert len(rows) == count
    assert {row["source"].split("!")[0] for row in rows} == {str(drop / "dc-security.jsonl.gz")}
    assert not list(drop.iterdir()), "the file was taken out of the folder"
    assert server.get("/api/v1/alerts", q="input:drop", role="reader").json()["rows"]


def test_every_endpoint_but_healthz_needs_a_token_of_the_right_role(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    for method, path in (("GET", "/metrics"), ("GET", "/api/v1/status"), ("GET", "/api/v1/search"),
                         ("GET", "/api/v1/alerts"), ("GET", "/api/v1/sql?q=select 1"),
                         ("POST", "/api/v1/ingest"), ("POST", "/services/collector/event"),
                         ("POST", "/services/collector/raw"), ("GET", "/services/collector/health")):
        response = httpx.request(method, f"{server.url}{path}", content=b'{"event":"x"}')
        assert response.status_code == 401, (method, path, response.status_code)
        wrong = httpx.request(method, f"{server.url}{path}", content=b'{"event":"x"}',
                              headers={"Authorization": "Bearer not-a-token"})
        hec_path = path.startswith("/services/collector")
        assert wrong.status_code == (403 if hec_path else 401), (method, path)
        if hec_path:
            assert wrong.json() == {"text": "Invalid token", "code": 4}
    missing = hec(server, "/services/collector/event", b'{"event":"x"}', Authorization="")
    assert missing.json() == {"text": "Token is required", "code": 2}
    for name in ("hec", "bad name", "x" * 65):  # a configured input's name, or a name no metric should carry
        refused = httpx.post(f"{server.url}/api/v1/ingest", params={"input": name}, content=b"{}",
                             headers=server.headers("ingest"))
        assert refused.status_code == 400, name
    reader = server.headers("reader")
    assert httpx.post(f"{server.url}/api/v1/ingest", content=b"{}", headers=reader).status_code == 403
    assert httpx.post(f"{server.url}/services/collector/event", content=b'{"event":"x"}',
                      headers={"Authorization": f"Splunk {TOKENS['YAMORI_READER_TOKEN']}"}).status_code == 403
    assert server.get("/api/v1/search", role="ingest").status_code == 403
    assert server.get("/api/v1/sql", role="reader", q="select 1").status_code == 403
    admin = server.get("/api/v1/sql", role="admin", q="select count(*) as n from events")
    assert admin.status_code == 200 and admin.json()["rows"][0]["n"] >= 0
    assert server.get("/api/v1/sql", role="admin", q="copy events to '/tmp/x.csv'").status_code == 400


def test_hec_answers_like_splunk_for_empty_and_malformed_bodies(server: RunningServer) -> None:
    assert hec(server, "/services/collector/event", b"").json() == {"text": "No data", "code": 5}
    assert hec(server, "/services/collector/event", b"not json").json() == {"text": "Invalid data format",
                                                                           "code": 6}
    assert hec(server, "/services/collector/health", b"").status_code == 405  # GET only, as Splunk
    health = httpx.get(f"{server.url}/services/collector/health", headers=server.hec_headers())
    assert health.json()["code"] == 17


def test_the_audit_log_says_who_did_what_and_never_holds_a_token(server: RunningServer) -> None:
    server.get("/api/v1/search", q="EventID:4625", role="reader")
    assert server.get("/api/v1/search", q="EventID:(4625", role="reader").status_code == 400
    httpx.get(f"{server.url}/api/v1/status", headers={"Authorization": "Bearer wrong"})
    text = (server.data_dir / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    assert any(entry["who"] == "reader" and entry["role"] == "reader" and entry["path"] == "/api/v1/search"
               and entry["query"].get("q") == "EventID:4625" for entry in entries)
    assert any(entry["who"] is None and entry["status"] == 401 for entry in entries)
    assert any(entry["status"] == 400 and entry["query"].get("q") == "EventID:(4625" for entry in entries)
    assert not any(token in text for token in TOKENS.values())
    assert not any(token in server.log_text() for token in TOKENS.values())


def test_metrics_expose_inputs_pipeline_and_latency(server: RunningServer) -> None:
    hec(server, "/services/collector/event", orjson.dumps({"event": SSH_FAILURE}))
    server.wait_until(lambda: server.status()["log"]["backlog_records"] == 0, what="the pipeline to catch up")
    server.wait_until(lambda: "yamori_detection_latency_seconds_bucket" in server.get("/metrics", "reader").text,
                      what="latency metrics")
    text = server.get("/metrics", role="reader").text
    for name in ("yamori_input_records_total{input=\"hec\"}", "yamori_events_total{input=\"hec\"}",
                 "yamori_filtered_events_total{rule=\"drop-cron\"}", "yamori_queue_depth_records",
                 "yamori_events_per_second", "yamori_store_bytes", "yamori_parse_errors_total",
                 "yamori_detection_latency_seconds_bucket"):
        assert name in text, name


def test_yamori_status_prints_a_running_server(server: RunningServer) -> None:
    environment = {**os.environ, "YAMORI_READER_TOKEN": TOKENS["YAMORI_READER_TOKEN"]}
    result = subprocess.run([sys.executable, "-m", "yamori.cli.main", "status", "--url", server.url],
                            capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "running" in result.stdout and "hec" in result.stdout
    as_json = subprocess.run([sys.executable, "-m", "yamori.cli.main", "status", "--url", server.url,
                              "--format", "json"], capture_output=True, text=True, env=environment, timeout=60)
    assert json.loads(as_json.stdout)["pipeline_alive"] is True
