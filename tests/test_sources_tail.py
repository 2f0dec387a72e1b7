"""File tail over real files and a real write-ahead log: appends, partial lines, rotation by rename and by
copytruncate, new files, restart from checkpoints (also with the checkpoint lost or stale), back-pressure."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from asynckit import until
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink, Limits
from yamori.ingest.wal import WalWriter, iter_records
from yamori.ops.metrics import InputMetrics
from yamori.sources.tail import TailInput, TailSettings, checkpoint_path

T = TypeVar("T")
NAME = "tail-test"


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def tail_records(wal: Path) -> list[IngestRecord]:
    return [record for _, record in iter_records(wal) if record.input == NAME]


def lines(wal: Path) -> list[str]:
    """Every line submitted, in log order; each record's offsets are checked against its payload."""
    out: list[str] = []
    for record in tail_records(wal):
        assert record.kind is RecordKind.LINES
        meta = record.meta
        assert meta["end"] - meta["start"] == len(record.payload)
        assert record.source == meta["path"]
        assert record.payload.endswith(b"\n")
        out += record.payload.decode().splitlines()
    return out


def numbered(start: int, stop: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {number:05d} some text after it\n" for number in range(start, stop))


def expected(start: int, stop: int, prefix: str = "line") -> list[str]:
    return numbered(start, stop, prefix).splitlines()




class Harness:
    """A real sink over a real write-ahead log, and tail inputs started and stopped on it."""

    def __init__(self, tmp_path: Path, limits: Limits | None = None) -> None:
        self.wal = tmp_path / "wal"
        self.state = tmp_path / "state"
        self.sink = IngestSink(WalWriter(self.wal), InputMetrics(), limits)

    def tail(self, *patterns: str, **options: Any) -> TailInput:
        options.setdefault("poll_interval", 0.03)
        options.setdefault("rotate_wait", 0.3)
        return TailInput(NAME, TailSettings(tuple(patterns), **options), self.sink, self.state)

    async def wait_lines(self, count: int) -> None:
        await until(lambda: len(lines(self.wal)) >= count, what=f"{count} lines")
        await asyncio.sleep(0.1)  # and nothing more arrives

    def close(self) -> None:
        self.sink.close()


def append(path: Path, text: str) -> None:
    with path.open("a") as stream:
        stream.write(text)


def test_appends_and_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("first\nsecond\npart")

    async def main() -> None:
        harness = Harness(tmp_path)
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(2)
        assert lines(harness.wal) == ["first", "second"]  # the partial line waits for its newline
        append(log, "ial\nthird\n")
        await harness.wait_lines(4)
        await tail.stop()
        assert lines(harness.wal) == ["first", "second", "partial", "third"]
        records = tail_records(harness.wal)
        assert [(record.meta["start"], record.meta["end"]) for record in records] == [(0, 13), (13, 27)]
        status = log.stat()
        assert records[0].meta["dev"] == status.st_dev and records[0].meta["ino"] == status.st_ino
        harness.close()

    run(main())


@pytest.mark.parametrize("pattern", ["app.log", "app.log*"])
def test_rotation_by_rename_loses_and_repeats_nothing(tmp_path: Path, pattern: str) -> None:
    log = tmp_path / "app.log"

    async def main() -> None:
        harness = Harness(tmp_path)
        tail = harness.tail(str(tmp_path / pattern))
        log.write_text(numbered(0, 100))
        await tail.start()
        await harness.wait_lines(100)
        with log.open("a") as writer:  # a writer that keeps its handle across the rotation
            writer.write(numbered(100, 150))
            writer.flush()
            log.rename(tmp_path / "app.log.1")
            writer.write(numbered(150, 160))  # written to the old file after the rename
            writer.flush()
            log.write_text(numbered(160, 200))  # the new file
        await harness.wait_lines(200)
        append(log, numbered(200, 210))
        await harness.wait_lines(210)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 210)  # the old file's end before the new file's start
        harness.close()

    run(main())


def test_copytruncate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"

    async def main() -> None:
        harness = Harness(tmp_path)
        tail = harness.tail(str(log))
        log.write_text(numbered(0, 50))
        await tail.start()
        await harness.wait_lines(50)
        shutil.copy(log, tmp_path / "app.log.1")
        with log.open("r+") as stream:  # truncated, then shorter than the offset
            stream.truncate(0)
        append(log, numbered(50, 60, "after"))
        await harness.wait_lines(60)
        shutil.copy(log, tmp_path / "app.log.2")
        with log.open("r+") as stream:  # truncated and rewritten past the offset before the next look
            stream.truncate(0)
            stream.write(numbered(60, 200, "again"))
        await harness.wait_lines(200)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 50) + expected(50, 60, "after") + expected(60, 200, "again")
        harness.close()

    run(main())


def test_new_files_matching_the_glob_are_picked_up(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()

    async def main() -> None:
        harness = Harness(tmp_path)
        tail = harness.tail(str(folder / "*.log"))
        (folder / "a.log").write_text(numbered(0, 10, "a"))
        (folder / "a.log.gz").write_bytes(b"\x1f\x8b not a log\n")  # excluded by default
        await tail.start()
        await harness.wait_lines(10)
        (folder / "b.log").write_text(numbered(0, 5, "b"))
        (folder / "c.txt").write_text("not matched\n")
        await harness.wait_lines(15)
        await tail.stop()
        got = lines(harness.wal)
        assert sorted(got) == sorted(expected(0, 10, "a") + expected(0, 5, "b"))
        assert {record.source for record in tail_records(harness.wal)} == {str(folder / "a.log"),
                                                                           str(folder / "b.log")}
        harness.close()

    run(main())


def test_restart_resumes_without_gap_or_duplicate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    checkpoint = checkpoint_path(tmp_path / "state", NAME)

    async def main() -> None:
        harness = Harness(tmp_path)
        log.write_text(numbered(0, 100))
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(100)
        await tail.stop()
        assert checkpoint.exists()
        stale = checkpoint.read_bytes()

        append(log, numbered(100, 200))  # written while stopped
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(200)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 200)

        # a kill -9 between the log append and the checkpoint write: no checkpoint at all, the log decides
        checkpoint.unlink()
        append(log, numbered(200, 250))
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(250)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 250)

        # a stale checkpoint (an older offset and seq): the newer records in the log win
        checkpoint.write_bytes(stale)
        append(log, numbered(250, 300))
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(300)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 300)

        # a checkpoint that cannot be read is not fatal either
        checkpoint.write_bytes(b"{not json")
        append(log, numbered(300, 310))
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(310)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 310)
        harness.close()

    run(main())


def test_restart_after_rotation_and_inode_reuse(tmp_path: Path) -> None:
    log = tmp_path / "app.log"

    async def main() -> None:
        harness = Harness(tmp_path)
        log.write_text(numbered(0, 100, "old"))
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(100)
        await tail.stop()
        # while stopped: the file is replaced by a longer one, possibly on the same inode
        inode = log.stat().st_ino
        log.unlink()
        log.write_text(numbered(0, 150, "new"))
        reused = log.stat().st_ino == inode
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(250)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 100, "old") + expected(0, 150, "new"), f"inode reused: {reused}"
        # the same inode for certain: rewritten in place, longer than the saved offset, other first bytes
        inode = log.stat().st_ino
        log.write_text(numbered(0, 200, "rewritten"))
        assert log.stat().st_ino == inode
        tail = harness.tail(str(log))
        await tail.start()
        await harness.wait_lines(450)
        await tail.stop()
        assert lines(harness.wal)[250:] == expected(0, 200, "rewritten")
        harness.close()

    run(main())


def test_waits_for_capacity_and_drops_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"

    async def main() -> None:
        harness = Harness(tmp_path, Limits(max_backlog_records=1))
        tail = harness.tail(str(log), max_record_bytes=4096, max_batch_bytes=4096)
        log.write_text(numbered(0, 1000))  # about 35 KB: several records
        await tail.start()
        await until(harness.sink.overloaded, what="overload")
        await asyncio.sleep(0.2)
        held = len(tail_records(harness.wal))
        assert held == 1
        while len(lines(harness.wal)) < 1000:  # the pipeline catches up, one record at a time
            harness.sink.set_committed(harness.sink.wal.last_seq)
            await asyncio.sleep(0.01)
        await tail.stop()
        assert lines(harness.wal) == expected(0, 1000)
        assert harness.sink.metrics.registry.get_sample_value("yamori_input_pushback_total", {"input": NAME}) >= 1
        harness.close()

    run(main())


def test_read_from_end_and_long_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(numbered(0, 10, "before"))

    async def main() -> None:
        harness = Harness(tmp_path)
        tail = harness.tail(str(log), read_from="end", max_record_bytes=1000)
        await tail.start()
        await asyncio.sleep(0.2)
        append(log, "x" * 2500 + "\n" + numbered(0, 3, "after"))
        await until(lambda: b"after 00002" in b"".join(record.payload for record in tail_records(harness.wal)),
                    what="the last line")
        await tail.stop()
        payload = b"".join(record.payload for record in tail_records(harness.wal))
        assert payload == ("x" * 2500 + "\n" + numbered(0, 3, "after")).encode()
        harness.close()

    run(main())



CHILD = """
import asyncio, sys
from pathlib import Path
from yamori.ingest.sink import IngestSink
from yamori.ingest.wal import WalWriter
from yamori.ops.metrics import InputMetrics
from yamori.sources.tail import TailInput, TailSettings

async def main():
    base = Path(sys.argv[1])
    sink = IngestSink(WalWriter(base / "wal"), InputMetrics())
    settings = TailSettings((str(base / "app.log*"),), poll_interval=0.01, rotate_wait=0.5, max_batch_bytes=8192)
    await TailInput(sys.argv[2], settings, sink, base / "state").start()
    print("started", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_kill_9_during_sustained_appends_and_rotation(tmp_path: Path) -> None:
    """A real ``kill -9`` of the process tailing, three times, while lines are appended and the file rotated:
    after the last restart every line is in the log exactly once, in order."""
    import signal
    import subprocess
    import sys
    import threading

    log = tmp_path / "app.log"
    log.touch()
    total = 30_000
    written = threading.Event()

    def writer() -> None:
        stream = log.open("a")
        for number in range(total):
            stream.write(f"line {number:05d} some text after it\n")
            if number % 200 == 199:
                stream.flush()
                time.sleep(0.005)
            if number == total // 2:  # rotate by rename half-way
                stream.close()
                log.rename(tmp_path / "app.log.1")
                stream = log.open("a")
        stream.close()
        written.set()

    def child() -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), NAME], stdout=subprocess.PIPE,
                                   text=True)
        assert process.stdout is not None and process.stdout.readline().strip() == "started"
        return process

    thread = threading.Thread(target=writer)
    process = child()
    thread.start()
    kills = 0
    try:
        for pause in (0.3, 0.4, 0.3):
            time.sleep(pause)
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            process = child()
        written.wait(30)
        deadline = time.monotonic() + 20
        while len(wal_lines(tmp_path / "wal")) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        thread.join()
    assert kills == 3
    assert wal_lines(tmp_path / "wal") == [f"line {number:05d} some text after it" for number in range(total)]


def wal_lines(wal: Path) -> list[str]:
    return [line for record in tail_records(wal) for line in record.payload.decode().splitlines()]
