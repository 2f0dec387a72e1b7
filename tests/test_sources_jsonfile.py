"""yamori.sources.jsonfile: JSON lines, arrays and pretty objects, streamed, with every bad part reported."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from yamori.events import BadRecord
from yamori.sources.jsonfile import MAX_RECORD_BYTES, iter_json_records, sniff_json_layout


def records(data: bytes, max_record: int = MAX_RECORD_BYTES) -> list[tuple[str, dict[str, object]] | BadRecord]:
    return list(iter_json_records(io.BytesIO(data), "src", max_record))


def good(items: list[tuple[str, dict[str, object]] | BadRecord]) -> list[tuple[str, dict[str, object]]]:
    return [item for item in items if not isinstance(item, BadRecord)]


def bad(items: list[tuple[str, dict[str, object]] | BadRecord]) -> list[tuple[str, str]]:
    return [(item.position, item.reason) for item in items if isinstance(item, BadRecord)]


@pytest.mark.parametrize(("data", "layout"), [
    (b"", "empty"),
    (b"\n  \n", "empty"),
    (b'[{"a": 1}]', "array"),
    (b'  \n [', "array"),
    (b'{"a": 1}\n{"b": 2}\n', "lines"),
    (b'{"a": 1', "objects"),
    (b'{"a": broken\n{"b": 2}\n', "lines"),
    (b'{\n  "a": 1\n}\n', "objects"),
    (b"Record 1\n{\n}\n", "objects"),
    (b"\xef\xbb\xbf{\"a\": 1}\n", "lines"),
    ('{"a": 1}'.encode("utf-16"), "utf16"),
    (b"Jan  1 00:00:00 host sshd[1]: hello\n", "unknown"),
])
def test_sniff(data: bytes, layout: str) -> None:
    stream = io.BytesIO(data)
    assert sniff_json_layout(stream) == layout
    assert stream.tell() == 0


def test_json_lines_positions_and_bad_lines() -> None:
    data = b'{"a": 1}\n\n{"b": 2}\nnot json\n[1, 2]\n"text"\n{"c": "\xff\xfe"}\n{"d": 4\n{"e": 5}\n'
    items = records(data)
    assert good(items) == [("1", {"a": 1}), ("3", {"b": 2}), ("9", {"e": 5})]
    positions = [position for position, _ in bad(items)]
    assert positions == ["4", "5", "6", "7", "8"]
    reasons = dict(bad(items))
    assert "not a JSON object" in reasons["5"] and "not a JSON object" in reasons["6"]
    assert "UTF-8" in reasons["7"]
    assert all(item.source == "src" and item.data for item in items if isinstance(item, BadRecord))


def test_array_elements_and_bad_elements() -> None:
    data = b'[{"a": "x,]}\\"["}, 3, "s", null, [1], {"b": {"c": [1, {"d": 2}]}}, {"bad": }, {"e": 1}]'
    items = records(data)
    assert good(items) == [("0", {"a": 'x,]}"['}), ("5", {"b": {"c": [1, {"d": 2}]}}), ("7", {"e": 1})]
    assert [position for position, _ in bad(items)] == ["1", "2", "3", "4", "6"]


@pytest.mark.parametrize(("data", "expected_bad"), [
    (b"[]", []),
    (b'[{"a": 1},]', [("1", "empty array element")]),
    (b'[{"a": 1},,{"b": 2}]', [("1", "empty array element")]),
    (b'[{"a": 1}, {"b": 2}', [("2", "JSON array not closed (file cut short?)")]),
    (b'[{"a": 1}, 3', [("1", "not a JSON object but a number"), ("2", "JSON array not closed (file cut short?)")]),
    (b'[{"a": 1}, {"b": 2', [("1", "JSON cut short at the end of the file")]),
    (b'[{"a": "unterminated', [("0", "JSON cut short at the end of the file")]),
])
def test_array_edges(data: bytes, expected_bad: list[tuple[str, str]]) -> None:
    assert bad(records(data)) == expected_bad


def test_several_arrays_and_stray_text() -> None:
    items = records(b'[{"a": 1}]\n[{"b": 2}]\ntrailing words\n')
    assert good(items) == [("0", {"a": 1}), ("1", {"b": 2})]
    assert bad(items) == [("3", "text outside any JSON object")]


def test_pretty_objects_evtx_dump_style() -> None:
    data = b'Record 1\n{\n  "a": "}{",\n  "n": {"x": [1]}\n}\nRecord 2\n{\n  "b": 2\n}\n'
    assert good(records(data)) == [("2", {"a": "}{", "n": {"x": [1]}}), ("7", {"b": 2})]
    assert bad(records(data)) == []


def test_pretty_objects_with_garbage_and_truncation() -> None:
    data = b'{\n "a": 1\n}\nnoise\n{\n "b": 2\n}\n{\n "c": '
    items = records(data)
    assert good(items) == [("1", {"a": 1}), ("5", {"b": 2})]
    assert bad(items) == [("4", "text outside any JSON object"), ("8", "JSON cut short at the end of the file")]


@pytest.mark.parametrize("layout", ["lines", "array", "objects"])
def test_oversized_record_is_skipped_and_reading_goes_on(layout: str) -> None:
    big = b'{"a": "' + b"x" * 5000 + b'"}'
    small = b'{"b": 1}'
    data = {"lines": small + b"\n" + big + b"\n" + small + b"\n",
            "array": b"[" + small + b"," + big + b"," + small + b"]",
            "objects": b"{\n}\n" + big + b"\n" + small + b"\n"}[layout]
    items = records(data, max_record=1000)
    assert len(good(items)) == 2
    assert len(bad(items)) == 1 and "longer than 1000 bytes" in bad(items)[0][1]


def test_records_across_read_blocks() -> None:
    """Strings and escapes split at the 1 MiB read boundary are handled."""
    value = "a\\\"b" * 200_000 + "\\\\"
    element = json.dumps({"v": value, "w": "}]"})
    data = ("[" + ",".join([element] * 5) + "]").encode()
    items = records(data)
    assert len(good(items)) == 5 and not bad(items)
    assert good(items)[4][1]["v"] == value


def test_fifty_megabyte_line_memory_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"first": 1}\n{"huge": "')
        chunk = b"y" * (1 << 20)
        for _ in range(50):
            handle.write(chunk)
        handle.write(b'"}\n{"last": 2}\n')
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            items = list(iter_json_records(handle, str(path)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert good(items) == [("1", {"first": 1}), ("3", {"last": 2})]
    assert bad(items) == [("2", f"line longer than {MAX_RECORD_BYTES} bytes, skipped")]
    assert peak < 3 * MAX_RECORD_BYTES  # a capped line and read buffers, never the 50 MiB


def test_fifty_megabyte_array_element_memory_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as handle:
        handle.write(b'[{"first": 1}, {"huge": "')
        chunk = b"z" * (1 << 20)
        for _ in range(50):
            handle.write(chunk)
        handle.write(b'"}, {"last": 2}]')
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            items = list(iter_json_records(handle, str(path)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert good(items) == [("0", {"first": 1}), ("2", {"last": 2})]
    assert bad(items) == [("1", f"record longer than {MAX_RECORD_BYTES} bytes, skipped")]
    assert peak < 3 * MAX_RECORD_BYTES


def test_unknown_and_utf16_are_one_bad_record() -> None:
    assert bad(records(b"plain text\nmore\n")) == [("file", "not a recognised format (neither EVTX nor JSON)")]
    assert [position for position, _ in bad(records('[{"a": 1}]'.encode("utf-16")))] == ["file"]
