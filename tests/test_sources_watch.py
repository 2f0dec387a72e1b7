"""Watched folders over real files and a real write-ahead log: settling, spooling, exactly-once submission across
restarts and crashes, move failures, moves across file systems."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from asynckit import until
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink
from yamori.ingest.wal import WalWriter, iter_records
from yamori.ops.metrics import InputMetrics
from yamori.sources.watch import WatchInput, WatchSettings, spool_dir

T = TypeVar("T")
NAME = "drop"


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))




class Harness:
    def __init__(self, tmp_path: Path, folder: Path | None = None) -> None:
        self.wal = tmp_path / "wal"
        self.state = tmp_path / "state"
        self.folder = folder or tmp_path / "drop"
        self.sink = IngestSink(WalWriter(self.wal), InputMetrics())
        self.spool = spool_dir(self.state, NAME)

    def watch(self, **options: Any) -> WatchInput:
        options.setdefault("settle_seconds", 0.15)
        options.setdefault("poll_interval", 0.03)
        return WatchInput(NAME, WatchSettings((str(self.folder),), **options), self.sink, self.state)

    def records(self) -> list[IngestRecord]:
        return [record for _, record in iter_records(self.wal) if record.input == NAME]

    def counter(self, reason: str) -> float:
        return self.sink.metrics.registry.get_sample_value("yamori_input_dropped_total",
                                                           {"input": NAME, "reason": reason}) or 0.0

    def close(self) -> None:
        self.sink.close()


def test_a_dropped_file_is_spooled_and_submitted_once(tmp_path: Path) -> None:
    async def main() -> None:
        harness = Harness(tmp_path)
        watch = harness.watch()
        await watch.start()
        dropped = harness.folder / "Security.evtx"
        dropped.write_bytes(b"ElfFile\x00 pretend evtx")
        (harness.folder / ".hidden").write_text("dotfiles stay")
        (harness.folder / "upload.json.part").write_text("{}")
        (harness.folder / "sub").mkdir()
        (harness.folder / "sub" / "nested.json").write_text("{}")  # not recursive by default
        await until(lambda: len(harness.records()) == 1, what="the record")
        await asyncio.sleep(0.3)  # several more polls: nothing else is taken
        await watch.stop()
        (record,) = harness.records()
        assert record.kind is RecordKind.FILE
        assert record.source == str(dropped)
        spooled = Path(record.payload.decode())
        assert spooled.parent == harness.spool and spooled.name.endswith("-Security.evtx")
        assert spooled.read_bytes() == b"ElfFile\x00 pretend evtx"
        assert record.meta == {"size": len(b"ElfFile\x00 pretend evtx")}
        assert not dropped.exists()
        assert sorted(path.name for path in harness.folder.iterdir()) == [".hidden", "sub", "upload.json.part"]
        harness.close()

    run(main())


def test_a_file_still_being_written_is_taken_only_once_settled(tmp_path: Path) -> None:
    async def main() -> None:
        harness = Harness(tmp_path)
        watch = harness.watch(settle_seconds=0.3, recursive=True)
        await watch.start()
        target = harness.folder / "incoming" / "big.jsonl"
        target.parent.mkdir()
        finished = threading.Event()

        def writer() -> None:
            with target.open("w") as stream:
                for number in range(10):
                    stream.write(f'{{"n": {number}}}\n')
                    stream.flush()
                    time.sleep(0.1)
            finished.set()

        thread = threading.Thread(target=writer)
        thread.start()
        while not finished.is_set():
            assert harness.records() == [], "taken while still being written"
            await asyncio.sleep(0.02)
        thread.join()
        await until(lambda: len(harness.records()) == 1, what="the record")
        await watch.stop()
        spooled = Path(harness.records()[0].payload.decode())
        assert spooled.read_text().count("\n") == 10
        assert (harness.folder / "incoming").is_dir()
        harness.close()

    run(main())


def test_restart_does_not_resubmit_and_recovers_unsubmitted_spool_files(tmp_path: Path) -> None:
    async def main() -> None:
        harness = Harness(tmp_path)
        watch = harness.watch()
        await watch.start()
        (harness.folder / "one.json").write_text('{"a": 1}')
        await until(lambda: len(harness.records()) == 1, what="the first record")
        await watch.stop()

        # the spooled file is still there (the pipeline has not stored it yet): not submitted again
        watch = harness.watch()
        await watch.start()
        await asyncio.sleep(0.3)
        await watch.stop()
        assert len(harness.records()) == 1

        # the state file lost: the write-ahead log still says it was submitted
        watch.state_file.unlink()
        # a crash between the move into the spool and the submit: found in the spool on start, submitted then
        orphan = harness.spool / "1700000000000000000-7-moved-before-crash.json"
        orphan.write_text('{"b": 2}')
        harness.spool.joinpath("1700000000000000000-8-cut.json.copying").write_text('{"partial')
        watch = harness.watch()
        await watch.start()
        await until(lambda: len(harness.records()) == 2, what="the recovered record")
        await asyncio.sleep(0.2)
        await watch.stop()
        recovered = harness.records()[1]
        assert Path(recovered.payload.decode()) == orphan
        assert recovered.source == "moved-before-crash.json"
        assert not harness.spool.joinpath("1700000000000000000-8-cut.json.copying").exists()

        # the pipeline stored and deleted both: the state forgets them, nothing is submitted again
        for record in harness.records():
            Path(record.payload.decode()).unlink()
        watch = harness.watch()
        await watch.start()
        await asyncio.sleep(0.2)
        await watch.stop()
        assert len(harness.records()) == 2
        assert watch.state.submitted == {}
        harness.close()

    run(main())


def test_a_file_that_cannot_be_moved_is_reported_and_retried(tmp_path: Path) -> None:
    async def main() -> None:
        harness = Harness(tmp_path)
        watch = harness.watch()
        await watch.start()
        harness.spool.rmdir()
        harness.spool.write_text("a file where the spool folder should be")
        dropped = harness.folder / "late.json"
        dropped.write_text("{}")
        await until(lambda: harness.counter("move_failed") == 1, what="the failure")
        await asyncio.sleep(0.3)  # retried at every poll, reported once
        assert harness.counter("move_failed") == 1
        assert dropped.exists() and harness.records() == []
        harness.spool.unlink()
        await until(lambda: len(harness.records()) == 1, what="the record after the retry")
        await watch.stop()
        assert not dropped.exists()
        harness.close()

    run(main())


def test_move_across_file_systems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        import pytest

        pytest.skip("no second file system (/dev/shm) to move from")
    folder = Path(tempfile.mkdtemp(prefix="yamori-watch-", dir=shm))
    try:
        async def main() -> None:
            harness = Harness(tmp_path, folder)
            watch = harness.watch()
            await watch.start()
            (folder / "remote.json").write_bytes(b'{"x": 1}' * 1000)
            await until(lambda: len(harness.records()) == 1, what="the record")
            await watch.stop()
            spooled = Path(harness.records()[0].payload.decode())
            assert spooled.read_bytes() == b'{"x": 1}' * 1000
            assert os.listdir(folder) == [] and os.listdir(harness.spool) == [spooled.name]
            harness.close()

        run(main())
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
