"""yamori.sources.files: finding input files, recognising them by content, and never raising on bad input."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yamori.events import UNKNOWN_LOGSOURCE, BadRecord, Event
from yamori.parsers.base import ParseContext
from yamori.sources.content import record_events
from yamori.sources.files import expand_paths, read_file, read_paths

FIXTURES = Path(__file__).parent / "fixtures" / "windows"


def events_of(path: Path) -> list[Event]:
    return [item for item in read_file(path) if isinstance(item, Event)]


def bad_of(path: Path) -> list[BadRecord]:
    return [item for item in read_file(path) if isinstance(item, BadRecord)]


def test_expand_paths_sorted_recursive_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.json").write_text("{}")
    (tmp_path / "b" / "a.json").write_text("{}")
    (tmp_path / "a.evtx").write_bytes(b"")
    (tmp_path / "c").mkdir()
    missing = tmp_path / "nope.json"
    found = list(expand_paths([tmp_path, missing, tmp_path / "a.evtx"]))
    assert found == [tmp_path / "a.evtx", tmp_path / "b" / "a.json", tmp_path / "b" / "z.json", missing]
    [item] = list(read_file(missing))
    assert isinstance(item, BadRecord) and item.position == "file" and item.source == str(missing)


def test_expand_paths_follows_symlinks_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.json").write_text("{}")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    assert list(expand_paths([tmp_path])) == [tmp_path / "d" / "x.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_folder_and_file_are_reported(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    secret = tmp_path / "secret.json"
    secret.write_text('{"a": 1}')
    locked.chmod(0)
    secret.chmod(0)
    try:
        found = list(expand_paths([tmp_path]))
        assert locked in found and secret in found
        assert all(isinstance(item, BadRecord) for path in (locked, secret) for item in read_file(path))
    finally:
        locked.chmod(0o755)
        secret.chmod(0o644)


def test_folder_and_special_files_are_bad_records(tmp_path: Path) -> None:
    [item] = list(read_file(tmp_path))
    assert isinstance(item, BadRecord) and "folder" in item.reason
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    [item] = list(read_file(fifo))
    assert isinstance(item, BadRecord) and "regular" in item.reason


def test_fixture_shapes_through_read_file() -> None:
    expectations = {
        "sysmon_1_process_creation.json": ("process_creation", "sysmon"),
        "security_4688_process_creation.json": ("process_creation", "security"),
        "winlogbeat_4688.json": ("process_creation", "security"),
        "nxlog_sysmon_13.json": ("registry_set", "sysmon"),
        "powershell_4104_script_block.json": ("ps_script", "powershell"),
    }
    for name, (category, service) in expectations.items():
        [event] = events_of(FIXTURES / name)
        assert event.logsource.covers("windows", category, service), name
        assert event.raw == json.loads((FIXTURES / name).read_text())
        assert event.position == "1"
    assert not any(bad_of(path) for path in FIXTURES.iterdir())


def test_content_not_extension_decides(tmp_path: Path) -> None:
    record = (FIXTURES / "sysmon_1_process_creation.json").read_text()
    lines = tmp_path / "events.evtx"  # JSON lines under a misleading name
    lines.write_text(json.dumps(json.loads(record)) + "\n" + json.dumps(json.loads(record)) + "\n")
    assert [event.position for event in events_of(lines)] == ["1", "2"]
    array = tmp_path / "events.txt"
    array.write_text("[" + record + "," + record + "]")
    assert [event.position for event in events_of(array)] == ["0", "1"]
    compressed = tmp_path / "events.log"
    compressed.write_bytes(gzip.compress(lines.read_bytes()))
    assert [event.fields["EventID"] for event in events_of(compressed)] == [1, 1]


def test_broken_gzip_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n' * 10000)[:200])
    items = list(read_file(path))
    assert items and isinstance(items[-1], BadRecord)


def test_non_windows_json_is_flattened_generically(tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"widget": "sprocket", "owner": {"kind": "Root"},
                                "parts": [{"ARN": "a"}, {"ARN": "b"}]}))
    [event] = events_of(path)
    assert event.logsource is UNKNOWN_LOGSOURCE
    assert event.fields == {"widget": "sprocket", "owner.kind": "Root", "parts.ARN": ["a", "b"],
                            "event.module": "json", "event.dataset": "json"}
    assert event.parser == "json"


def test_a_record_that_cannot_be_flattened_is_a_bad_record() -> None:
    context = ParseContext("src")
    [item] = record_events({"Event": {"System": {"EventID": 1}, "EventData": {1: 2}}}, context, "7")
    assert isinstance(item, (Event, BadRecord))
    [item] = record_events({"Event": {"System": "not a dict"}}, context, "7")
    assert isinstance(item, Event)  # no Event.System object: not a Windows shape, kept as generic JSON


def test_read_paths_over_a_folder(tmp_path: Path) -> None:
    for name in ("sysmon_1_process_creation.json", "winlogbeat_4688.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "notes.txt").write_text("hello\n")
    items = list(read_paths([tmp_path]))
    assert sum(isinstance(item, Event) for item in items) == 2
    [problem] = [item for item in items if isinstance(item, BadRecord)]
    assert problem.source.endswith("notes.txt")


def test_shared_regression_json_files(shared: Path) -> None:
    files = sorted((shared / "datasets" / "SigmaHQ_sigma" / "regression_data").rglob("*.json"))
    assert files, "no regression JSON files in the shared datasets"
    for path in files[:50]:
        items = list(read_file(path))
        assert items and all(isinstance(item, Event) for item in items), path
        assert all("windows" in item.logsource.product for item in items if isinstance(item, Event))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_fuzz_random_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(data)
    for item in read_file(path):
        assert isinstance(item, Event | BadRecord)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(json_values, max_size=5), layout=st.sampled_from(["lines", "array", "pretty"]),
       cut=st.integers(min_value=0, max_value=400))
def test_fuzz_random_json_never_raise(tmp_path: Path, values: list[object], layout: str, cut: int) -> None:
    if layout == "lines":
        text = "\n".join(json.dumps(value) for value in values)
    elif layout == "array":
        text = json.dumps(values)
    else:
        text = "\n".join(json.dumps(value, indent=2) for value in values)
    data = text.encode()
    if cut and cut < len(data):
        data = data[:-cut]
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    items = list(read_file(path))
    for item in items:
        assert isinstance(item, Event | BadRecord)
    if layout == "array" and not cut and values:
        # an intact array: one item per element, objects become events
        assert len(items) == len(values)
        assert sum(isinstance(item, Event) for item in items) == sum(isinstance(v, dict) for v in values)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(windows_like=st.fixed_dictionaries({
    "Event": st.fixed_dictionaries({
        "System": st.dictionaries(st.sampled_from(["EventID", "Channel", "Provider", "TimeCreated", "Execution",
                                                   "Security", "Level", "X"]), json_values, max_size=6),
        "EventData": json_values,
    }, optional={"UserData": json_values}),
}))
def test_fuzz_windows_shaped_json_never_raise(windows_like: dict[str, object]) -> None:
    [item] = record_events(windows_like, ParseContext("src"), "1")
    assert isinstance(item, Event | BadRecord)
