"""yamori.sources.evtx on real EVTX files from the shared datasets, intact and damaged in a temporary copy."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from yamori.events import BadRecord, Event
from yamori.sources.evtx import read_evtx
from yamori.sources.files import read_file

HEADER = 4096
CHUNK = 65536


def evtx_files(shared: Path) -> list[Path]:
    files = sorted((shared / "datasets").rglob("*.evtx"))
    if not files:
        pytest.fail(f"no .evtx file under {shared / 'datasets'}")
    return files


def split(items: list[Event | BadRecord]) -> tuple[list[Event], list[BadRecord]]:
    return ([item for item in items if isinstance(item, Event)],
            [item for item in items if isinstance(item, BadRecord)])


def multi_chunk_file(sources: list[Path], target: Path) -> Path:
    """One EVTX file made of the chunks of several real files (header patched: chunk count, checksum)."""
    header = bytearray(sources[0].read_bytes()[:HEADER])
    chunks: list[bytes] = []
    for source in sources:
        data = source.read_bytes()
        chunks.extend(data[offset:offset + CHUNK] for offset in range(HEADER, len(data) - CHUNK + 1, CHUNK))
    struct.pack_into("<QQQ", header, 8, 0, len(chunks) - 1, 1 << 40)  # first, last chunk, next record id
    struct.pack_into("<H", header, 42, len(chunks))
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    target.write_bytes(bytes(header) + b"".join(chunks))
    return target


@pytest.fixture(scope="module")
def sample(shared: Path) -> list[Path]:
    """Six real files with at least two records each."""
    chosen = []
    for path in evtx_files(shared):
        if sum(1 for item in read_evtx(path) if isinstance(item, Event)) >= 2:
            chosen.append(path)
        if len(chosen) == 6:
            return chosen
    pytest.fail("not enough EVTX files with records in the shared datasets")


def test_real_files_read_cleanly(shared: Path) -> None:
    total = 0
    for path in evtx_files(shared)[:40]:
        events, bad = split(list(read_evtx(path)))
        assert not bad, bad[:3]
        for event in events:
            assert event.source == str(path)
            assert event.position == str(event.fields["EventRecordID"])
            assert isinstance(event.fields["EventID"], int)
            assert event.timestamp is not None and event.timestamp.endswith("Z")
            assert "Event" in event.raw and "System" in event.raw["Event"]
            assert "windows" in event.logsource.product
        total += len(events)
    assert total > 0


def test_multi_chunk_file_reads_every_record(sample: list[Path], tmp_path: Path) -> None:
    expected = sum(1 for path in sample for item in read_evtx(path) if isinstance(item, Event))
    events, bad = split(list(read_evtx(multi_chunk_file(sample, tmp_path / "all.evtx"))))
    assert not bad
    assert len(events) == expected


def chunk_record_counts(sample: list[Path]) -> list[int]:
    return [sum(1 for item in read_evtx(path) if isinstance(item, Event)) for path in sample]


@pytest.mark.parametrize("damage", ["chunk_signature", "record_signature", "record_body", "string_table"])
def test_damaged_chunk_costs_at_most_that_chunk(sample: list[Path], tmp_path: Path, damage: str) -> None:
    counts = chunk_record_counts(sample)
    path = multi_chunk_file(sample, tmp_path / "damaged.evtx")
    data = bytearray(path.read_bytes())
    chunk = HEADER + CHUNK  # the second chunk
    if damage == "chunk_signature":
        data[chunk:chunk + 8] = b"XXXXXXXX"
    elif damage == "record_signature":
        data[chunk + 512:chunk + 516] = b"XXXX"  # the first record's header
    elif damage == "record_body":
        data[chunk + 512 + 40:chunk + 512 + 120] = b"\xff" * 80
    else:
        data[chunk + 128:chunk + 512] = b"\xff" * 384
    path.write_bytes(bytes(data))
    events, bad = split(list(read_evtx(path)))
    assert bad, "the damage must be reported"
    assert all(item.source == str(path) and item.position and item.reason for item in bad)
    # every other chunk is read in full; the damaged one loses at most its own records
    assert len(events) >= sum(counts) - counts[1]
    assert len(events) < sum(counts) or damage == "record_body"


def test_truncated_file_reports_the_lost_tail(sample: list[Path], tmp_path: Path) -> None:
    counts = chunk_record_counts(sample)
    path = multi_chunk_file(sample, tmp_path / "cut.evtx")
    data = path.read_bytes()
    path.write_bytes(data[:HEADER + 2 * CHUNK + 1000])  # two whole chunks and a bit of the third
    events, bad = split(list(read_evtx(path)))
    assert len(events) == counts[0] + counts[1]
    assert len(bad) == 1 and "truncated" in bad[0].reason and "chunk 2" in bad[0].reason


def test_random_damage_never_raises(sample: list[Path], tmp_path: Path) -> None:
    import random

    rng = random.Random(20240305)
    original = multi_chunk_file(sample, tmp_path / "base.evtx").read_bytes()
    path = tmp_path / "noise.evtx"
    for _ in range(30):
        data = bytearray(original)
        for _ in range(rng.choice([1, 10, 100, 1000])):
            data[rng.randrange(HEADER, len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        items = list(read_file(path))
        assert all(isinstance(item, Event | BadRecord) for item in items)


def test_damaged_file_signature_is_read_anyway(sample: list[Path], tmp_path: Path) -> None:
    data = bytearray(sample[0].read_bytes())
    data[:8] = b"\x00" * 8
    path = tmp_path / "nosig.evtx"
    path.write_bytes(bytes(data))
    events, bad = split(list(read_file(path)))
    assert len(events) == chunk_record_counts(sample[:1])[0]
    assert len(bad) == 1 and "signature" in bad[0].reason


def test_unreadable_evtx_is_one_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "tiny.evtx"
    path.write_bytes(b"ElfFile\x00" + b"\x00" * 50)
    items = list(read_file(path))
    assert items and all(isinstance(item, BadRecord) for item in items)
    missing = list(read_evtx(tmp_path / "missing.evtx"))
    assert len(missing) == 1 and isinstance(missing[0], BadRecord) and missing[0].position == "file"
