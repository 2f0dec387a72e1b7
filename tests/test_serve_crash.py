"""Acceptance 2 of issue 4: ``kill -9`` during sustained ingest loses no acknowledged event and duplicates none.

HEC senders post numbered events and remember which were acknowledged (HTTP 200); a writer appends numbered lines
to a tailed file and rotates it. The whole server (both processes) is killed with SIGKILL in the middle, the
writer goes on meanwhile, and a new server is started on the same data folder. Then every acknowledged HEC event
and every line written must be stored exactly once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from serve_harness import RunningServer, start_server


class Senders:
    def __init__(self, server: RunningServer, log_file: Path) -> None:
        self.server = server
        self.log_file = log_file
        self.acked: list[int] = []
        self.lines_written = 0
        self.stop = threading.Event()
        self.next_number = 0
        self.lock = threading.Lock()

    def hec(self) -> None:
        client = httpx.Client(timeout=5)
        while not self.stop.is_set():
            with self.lock:
                numbers = list(range(self.next_number, self.next_number + 50))
                self.next_number += 50
            body = b"".join(orjson.dumps({"event": {"crash_test": "hec", "n": n}}) for n in numbers)
            try:
                answer = client.post(f"{self.server.url}/services/collector/event", content=body,
                                     headers=self.server.hec_headers())
            except httpx.HTTPError:
                time.sleep(0.05)  # the server is down: these were never acknowledged
                continue
            if answer.status_code == 200:
                with self.lock:
                    self.acked.extend(numbers)

    def tail(self) -> None:
        rotated = False
        while not self.stop.is_set():
            with self.log_file.open("a") as stream:
                for _ in range(20):
                    stream.write(f"2026-11-28T05:00:00Z crash-test tail n={self.lines_written}\n")
                    self.lines_written += 1
            if not rotated and self.lines_written >= 3000:
                self.log_file.rename(self.log_file.with_suffix(".log.1"))  # rotation by rename
                rotated = True
            time.sleep(0.01)


def stored_numbers(server: RunningServer, kind: str) -> list[int]:
    if kind == "hec":
        statement = ("select cast(json_extract_string(fields, '$.n') as bigint) as n from events "
                     "where json_extract_string(fields, '$.crash_test') = 'hec'")
    else:
        statement = ("select cast(regexp_extract(message, 'n=(\\d+)', 1) as bigint) as n from events "
                     "where message like '%crash-test tail%'")
    answer = server.get("/api/v1/sql", q=f"select list(n) as numbers from ({statement})")
    assert answer.status_code == 200, answer.text
    return sorted(answer.json()["rows"][0]["numbers"] or [])


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_during_ingest_loses_and_duplicates_nothing_acknowledged(tmp_path: Path, workers: int) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    log_file = log_dir / "app.log"
    log_file.touch()
    inputs = f'[[inputs.tail]]\nname = "app"\npaths = ["{log_dir}/app.log*"]\npoll_interval = 0.05\n'
    server = start_server(tmp_path / "server", inputs,
                          pipeline=f"workers = {workers}\nflush_seconds = 0.05\nmaintenance_seconds = 2")
    senders = Senders(server, log_file)
    threads = [threading.Thread(target=senders.hec), threading.Thread(target=senders.hec),
               threading.Thread(target=senders.tail)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(4)
        pipeline_pids = server.status()["pipeline_pids"]
        assert len(pipeline_pids) == workers
        os.kill(server.process.pid, signal.SIGKILL)
        for pid in pipeline_pids:
            os.kill(pid, signal.SIGKILL)
        server.process.wait()
        killed_at = len(senders.acked)
        time.sleep(1)  # the tail writer and the HEC senders go on while the server is down
        restarted = start_server(tmp_path / "server")
        senders.server = restarted
        time.sleep(3)
    finally:
        senders.stop.set()
        for thread in threads:
            thread.join()
    try:
        check_everything_stored_once(restarted, senders, killed_at)
    finally:
        restarted.stop()


def check_everything_stored_once(restarted: RunningServer, senders: Senders, killed_at: int) -> None:
    assert killed_at > 0
    written = senders.lines_written

    def caught_up() -> bool:
        return len(stored_numbers(restarted, "tail")) >= written and \
            restarted.status()["log"]["backlog_records"] == 0

    try:
        restarted.wait_until(caught_up, timeout=60, what="the restarted server to catch up")
    except AssertionError:
        tail = stored_numbers(restarted, "tail")
        missing_lines = sorted(set(range(written)) - set(tail))
        raise AssertionError(f"{written} lines written, {len(tail)} stored ({len(set(tail))} distinct), missing "
                             f"{missing_lines[:10]}... ({len(missing_lines)})") from None
    hec_numbers = stored_numbers(restarted, "hec")
    assert len(hec_numbers) == len(set(hec_numbers)), "an HEC event was stored twice"
    missing = set(senders.acked) - set(hec_numbers)
    assert not missing, f"{len(missing)} acknowledged HEC events lost, e.g. {sorted(missing)[:5]}"
    assert stored_numbers(restarted, "tail") == list(range(written)), "the tail skipped or repeated lines"
