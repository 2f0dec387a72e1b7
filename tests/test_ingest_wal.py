"""The write-ahead log: order, durability framing, torn-tail recovery, segment rotation and deletion."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.wal import WalReader, WalWriter, drop_segments_through, iter_records, segments


def record(payload: bytes, **meta: object) -> IngestRecord:
    return IngestRecord("test", RecordKind.MESSAGE, payload, time.time_ns(), "127.0.0.1:9", dict(meta))


def test_records_come_back_in_order_with_every_attribute(tmp_path: Path) -> None:
    wal = WalWriter(tmp_path)
    first = record(b"one", path="/var/log/x", offset=3)
    assert wal.append([first, record(b"two")]) == 1
    assert wal.append([record(b"\x00\xffbinary")]) == 2
    got = list(iter_records(tmp_path))
    assert [seq for seq, _ in got] == [0, 1, 2]
    assert got[0][1] == first
    assert got[2][1].payload == b"\x00\xffbinary"


def test_concurrent_appenders_share_fsyncs_and_lose_nothing(tmp_path: Path) -> None:
    wal = WalWriter(tmp_path, segment_bytes=4096)
    results: list[int] = []

    def append_many(tag: int) -> None:
        for number in range(100):
            results.append(wal.append([record(f"{tag}-{number}".encode())]))

    threads = [threading.Thread(target=append_many, args=(tag,)) for tag in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wal.durable_seq == wal.last_seq == 399
    payloads = [item.payload for _, item in iter_records(tmp_path)]
    assert sorted(payloads) == sorted(f"{tag}-{number}".encode() for tag in range(4) for number in range(100))
    assert len(segments(tmp_path)) > 1


def test_a_torn_frame_at_the_end_is_cut_on_open(tmp_path: Path) -> None:
    wal = WalWriter(tmp_path)
    wal.append([record(b"kept")])
    wal.close()
    last = segments(tmp_path)[-1].path
    with last.open("ab") as stream:
        stream.write(b"\x40\x00\x00\x00\x01\x02\x03\x04torn")
    reopened = WalWriter(tmp_path)
    assert reopened.last_seq == 0
    reopened.append([record(b"after")])
    assert [item.payload for _, item in iter_records(tmp_path)] == [b"kept", b"after"]


def test_numbering_continues_after_the_store_when_the_log_is_empty(tmp_path: Path) -> None:
    wal = WalWriter(tmp_path, start_after=41)
    assert wal.append([record(b"x")]) == 42


def test_reader_follows_growth_and_moves_to_new_segments(tmp_path: Path) -> None:
    wal = WalWriter(tmp_path, segment_bytes=200)
    reader = WalReader(tmp_path, -1)
    assert reader.poll() == []
    wal.append([record(b"a" * 100)])
    assert [seq for seq, _ in reader.poll()] == [0]
    for _ in range(5):
        wal.append([record(b"b" * 100)])
    assert [seq for seq, _ in reader.poll()] == [1, 2, 3, 4, 5]
    assert reader.poll() == []


def test_consumed_segments_are_dropped_but_never_the_newest(tmp_path: Path) -> None:
    wal = WalWriter(tmp_path, segment_bytes=100)
    for _ in range(6):
        wal.append([record(b"c" * 80)])
    before = len(segments(tmp_path))
    assert drop_segments_through(tmp_path, 2) == 3
    assert len(segments(tmp_path)) == before - 3
    assert [seq for seq, _ in iter_records(tmp_path, 2)] == [3, 4, 5]
    drop_segments_through(tmp_path, 10_000)
    assert len(segments(tmp_path)) == 1
    reader = WalReader(tmp_path, 2)  # a reader behind deleted segments resumes at the first one left
    assert [seq for seq, _ in reader.poll()] == [5]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20), st.integers(min_value=1, max_value=400))
def test_any_payloads_survive_a_cut_anywhere_in_the_last_frame(payloads: list[bytes], cut: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        wal = WalWriter(directory, sync=False)
        for payload in payloads:
            wal.append([record(payload)])
        wal.close()
        last = segments(directory)[-1].path
        size = last.stat().st_size
        with last.open("r+b") as stream:
            stream.truncate(max(0, size - min(cut, size)))
        reopened = WalWriter(directory, sync=False)
        got = [item.payload for _, item in iter_records(directory)]
        assert got == payloads[:len(got)]
        assert reopened.last_seq == len(got) - 1
