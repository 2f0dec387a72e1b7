"""Content recognition: archives read as streams (gzip, zip, tar, tar.gz, nested), EVTX inside archives, the
rewindable stream, and the reports for what cannot be read."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamori.events import BadRecord, Event
from yamori.parsers.base import ParseContext
from yamori.sources.content import MAX_ARCHIVE_DEPTH, read_bytes, read_stream
from yamori.sources.files import read_file
from yamori.sources.replay import ReplayStream, rewindable

FIXTURES = Path(__file__).parent / "fixtures"
SYSLOG = b"Nov 28 03:00:00 host1 app[1]: first\nNov 28 03:00:01 host1 app[1]: second\n"
WINDOWS_JSON = (FIXTURES / "windows" / "sysmon_1_process_creation.json").read_bytes()


def _events(items: list[Event | BadRecord]) -> list[Event]:
    return [item for item in items if isinstance(item, Event)]


def _bad(items: list[Event | BadRecord]) -> list[BadRecord]:
    return [item for item in items if isinstance(item, BadRecord)]


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_gzip_text_and_json() -> None:
    items = read_bytes(gzip.compress(SYSLOG), "messages.gz")
    assert [e.fields["message"] for e in _events(items)] == ["first", "second"]
    [event] = _events(read_bytes(gzip.compress(WINDOWS_JSON), "sysmon.json.gz"))
    assert event.fields["EventID"] == 1 and event.fields["event.code"] == 1


def test_zip_members_are_read_with_their_names_in_the_source(tmp_path: Path) -> None:
    path = tmp_path / "evidence.zip"
    path.write_bytes(_zip({"logs/messages": SYSLOG, "logs/sysmon.json": WINDOWS_JSON, "empty/": b""}))
    items = list(read_file(path))
    assert not _bad(items)
    sources = [event.source for event in _events(items)]
    assert sources == [f"{path}!logs/messages"] * 2 + [f"{path}!logs/sysmon.json"]


def test_tar_gz_streams_members_in_order(tmp_path: Path) -> None:
    path = tmp_path / "logs.tar.gz"
    path.write_bytes(_tar({"a/messages": SYSLOG, "b/sysmon.json": WINDOWS_JSON}, "w:gz"))
    items = list(read_file(path))
    assert not _bad(items)
    assert [event.source.rsplit("!", 1)[1] for event in _events(items)] == ["a/messages", "a/messages",
                                                                            "b/sysmon.json"]


def test_nested_archives_and_gzip_members(tmp_path: Path) -> None:
    inner = _tar({"var/log/messages.gz": gzip.compress(SYSLOG)})
    path = tmp_path / "outer.zip"
    path.write_bytes(_zip({"inner.tar": inner}))
    events = _events(list(read_file(path)))
    assert [event.fields["message"] for event in events] == ["first", "second"]
    assert events[0].source == f"{path}!inner.tar!var/log/messages.gz"


def test_evtx_inside_an_archive(shared: Path, tmp_path: Path) -> None:
    evtx = next((shared / "datasets" / "SigmaHQ_sigma").rglob("*.evtx"))
    direct = _events(list(read_file(evtx)))
    path = tmp_path / "evtx.zip"
    path.write_bytes(_zip({evtx.name: evtx.read_bytes()}))
    inside = _events(list(read_file(path)))
    assert [e.fields for e in inside] == [e.fields for e in direct] and inside


def test_archives_nested_too_deep_are_refused() -> None:
    data = SYSLOG
    for _ in range(MAX_ARCHIVE_DEPTH + 1):
        data = gzip.compress(data)
    [bad] = read_bytes(data, "deep.gz")
    assert isinstance(bad, BadRecord) and "nested" in bad.reason


def test_damaged_archives_are_reported_not_raised() -> None:
    zipped = _zip({"messages": SYSLOG * 200})
    items = read_bytes(zipped[: len(zipped) // 2], "cut.zip")
    assert _bad(items)
    tarred = gzip.compress(_tar({"messages": SYSLOG * 2000}))
    items = read_bytes(tarred[: len(tarred) // 2], "cut.tar.gz")
    assert _bad(items)
    assert all(isinstance(item, Event | BadRecord) for item in items)


def test_unknown_text_and_xml_are_one_bad_record_each() -> None:
    [bad] = read_bytes(b"<?xml version='1.0'?><catalog><book/></catalog>", "books.xml")
    assert isinstance(bad, BadRecord) and "XML document of an unknown kind" in bad.reason


def test_comment_lines_are_skipped_in_json_lines() -> None:
    data = b"# written by a tool\n" + WINDOWS_JSON.replace(b"\n", b" ") + b"\n# another comment\n"
    items = read_bytes(data, "events.jsonl")
    assert len(_events(items)) == 1 and not _bad(items)


def test_replay_stream_rewinds_within_its_prefix_only() -> None:
    raw = io.BytesIO(b"0123456789" * 10)
    stream = ReplayStream(raw, limit=20)
    assert stream.read(5) == b"01234"
    stream.seek(0)
    assert stream.read(12) == b"012345678901"
    stream.seek(3)
    assert stream.read(30) == (b"0123456789" * 4)[3:33]
    with pytest.raises(io.UnsupportedOperation):
        stream.seek(0)  # read beyond the kept 20 bytes
    assert rewindable(raw) is raw


class _ForwardOnly(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_forward_only_streams_are_recognised() -> None:
    context = ParseContext("pipe", "pipe")
    items = list(read_stream(io.BufferedReader(_ForwardOnly(SYSLOG * 3)), context))
    assert len(_events(items)) == 6 and not _bad(items)
    items = list(read_stream(io.BufferedReader(_ForwardOnly(WINDOWS_JSON)), context))
    assert len(_events(items)) == 1


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["x.gz", "x.zip", "x.tar", "x.log", "x.json", "x.xml"]))
def test_fuzz_any_bytes_never_raise(data: bytes, name: str) -> None:
    for prefix in (b"", b"\x1f\x8b", b"PK\x03\x04", b"<?xml ", b"[", b"{"):
        for item in read_bytes(prefix + data, name):
            assert isinstance(item, Event | BadRecord)
