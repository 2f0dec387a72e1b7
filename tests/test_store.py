"""The event store's writer: every column written and read back, the layout, exactly-once recovery after an
interrupted batch, compaction (also interrupted), retention by age and size, and statistics."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yamori.alerts.detection import Detection
from yamori.events import Event, LogSource
from yamori.rules.model import RuleInfo
from yamori.store import layout
from yamori.store.compact import CompactionState, compact, plan_merges
from yamori.store.events import EventStore
from yamori.store.model import StoredAlert, StoredEvent
from yamori.store.retention import apply_retention
from yamori.store.search import count_by, iter_events, search, sql
from yamori.store.stats import store_stats

RECEIVED_NS = 1_795_000_000_123_456_789  # 2026-11-18T...
SSHD = LogSource(("linux",), (), ("auth", "sshd"))
RULE = RuleInfo("r-1", "Suspicious logon", "high", "test", "rules/r1.yml",
                tags=("attack.credential-access", "attack.t1110.001"), fields=("user.name",))


def sshd_event(n: int, when: str | None = "2026-11-28T02:10:01Z", user: str = "alice") -> Event:
    line = f"Nov 28 02:10:01 web01 sshd[{n}]: Failed password for {user} from 203.0.113.10 port 52814 ssh2"
    fields = {"host": "web01", "host.hostname": "web01", "user": user, "user.name": user,
              "source.ip": "203.0.113.10", "source.port": 52814, "event.action": "ssh_login",
              "event.outcome": "failure", "event.category": ["authentication"], "n": n}
    if when is not None:
        fields["@timestamp"] = when
    return Event(fields, SSHD, "/var/log/auth.log", str(n), when, line, "linux_sshd")


def stored(seq: int, event: Event, index: int = 0, received_ns: int = RECEIVED_NS) -> StoredEvent:
    return StoredEvent(seq, index, "syslog-tcp", received_ns, event)


def alert(seq: int, event: Event, index: int = 0) -> StoredAlert:
    return StoredAlert(seq, index, "syslog-tcp", RECEIVED_NS, Detection.of(RULE, event))


def files(root: Path, kind: str = layout.EVENTS) -> list[str]:
    return sorted(str(path.relative_to(root / kind)) for path in (root / kind).rglob("*") if path.is_file())


# ------------------------------------------------------------------------------------------------ round trip


def test_every_event_column_is_written_and_read_back(tmp_path: Path) -> None:
    windows = Event(
        {"EventID": 4625, "Computer": "dc01.corp", "TargetUserName": "bob", "IpAddress": "198.51.100.7",
         "IpPort": "50123", "host.name": "dc01.corp", "user.name": "bob", "source.ip": "198.51.100.7",
         "event.code": 4625, "event.action": "logon-failed", "event.outcome": "failure",
         "destination.port": 445, "destination.ip": "10.0.0.1", "ratio": 0.5, "flag": True, "none": None,
         "list": ["a", 1], "@timestamp": "2026-11-28T03:04:05.123456Z"},
        LogSource(("windows",), ("authentication",), ("security",)), "dc01.evtx", "77",
        "2026-11-28T03:04:05.123456Z", {"Event": {}}, "windows")
    root = tmp_path / "store"
    store = EventStore(root)
    store.write_batch([stored(10, windows, 0), stored(10, sshd_event(1), 1)], [], 10, 12)
    rows = sorted((row for path in (root / "events").rglob("*.parquet") for row in pq.read_table(path).to_pylist()),
                  key=lambda row: row["idx"])
    first = rows[0]
    assert first["event_id"] == "10-0" and first["seq"] == 10 and first["idx"] == 0
    assert first["timestamp"] == datetime(2026, 11, 28, 3, 4, 5, 123456, tzinfo=UTC)
    assert first["received"] == datetime.fromtimestamp(RECEIVED_NS // 1000 / 1e6, UTC)
    assert (first["input"], first["source"], first["position"], first["parser"]) == \
        ("syslog-tcp", "dc01.evtx", "77", "windows")
    assert (first["product"], first["category"], first["service"]) == ("windows", "authentication", "security")
    assert (first["host"], first["user"], first["src_ip"], first["dst_ip"]) == \
        ("dc01.corp", "bob", "198.51.100.7", "10.0.0.1")
    assert (first["src_port"], first["dst_port"]) == (50123, 445)  # native IpPort when no ECS source.port
    assert (first["event_code"], first["action"], first["outcome"]) == ("4625", "logon-failed", "failure")
    assert first["message"] is None  # a structured event has no line
    assert orjson.loads(first["fields"]) == windows.fields
    second = rows[1]
    assert second["event_id"] == "10-1" and second["message"].startswith("Nov 28 02:10:01 web01 sshd[1]")
    assert (second["host"], second["user"], second["src_port"], second["dst_port"]) == \
        ("web01", "alice", 52814, None)
    assert (second["product"], second["category"], second["service"]) == ("linux", None, "auth|sshd")

    back = list(iter_events(root))
    assert [event.fields for event in back] == [sshd_event(1).fields, windows.fields]  # in time order
    rebuilt = back[1]
    assert rebuilt.logsource == windows.logsource and rebuilt.timestamp == windows.timestamp
    assert (rebuilt.source, rebuilt.position, rebuilt.parser) == ("dc01.evtx", "77", "windows")
    assert back[0].raw == sshd_event(1).raw and back[0].logsource == SSHD


def test_every_alert_column_is_written(tmp_path: Path) -> None:
    root = tmp_path / "store"
    event = sshd_event(5)
    EventStore(root).write_batch([stored(3, event)], [alert(3, event)], 3, 3)
    row = pq.read_table(next((root / "alerts").rglob("*.parquet"))).to_pylist()[0]
    assert row["alert_id"] == "3-0-r-1" and row["event_id"] == "3-0" and (row["seq"], row["idx"]) == (3, 0)
    assert row["timestamp"] == datetime(2026, 11, 28, 2, 10, 1, tzinfo=UTC)
    assert row["detected"] >= row["received"] and row["latency_ms"] > 0
    assert (row["rule_id"], row["title"], row["level"], row["status"]) == ("r-1", "Suspicious logon", "high", "test")
    assert row["tactics"] == ["Credential Access"] and row["techniques"] == ["T1110.001"]
    assert (row["computer"], row["input"], row["source"], row["position"]) == \
        ("web01", "syslog-tcp", "/var/log/auth.log", "5")
    assert orjson.loads(row["matched"]) == {"user.name": "alice"}
    hits = search(root, 'rule_id:r-1 AND tactics:"credential access" AND techniques:t1110*', dataset="alerts")
    assert [hit["alert_id"] for hit in hits] == ["3-0-r-1"] and hits[0]["matched"] == {"user.name": "alice"}


def test_layout_partitions_by_event_hour_and_received_time_when_there_is_none(tmp_path: Path) -> None:
    root = tmp_path / "store"
    received = int(datetime(2026, 11, 1, 7, 30, tzinfo=UTC).timestamp() * 1e9)
    events = [stored(0, sshd_event(0, "2026-11-28T02:10:01Z")), stored(0, sshd_event(1, "2026-11-28T23:59:59Z"), 1),
              stored(1, sshd_event(2, None), 0, received), stored(1, sshd_event(3, "garbage"), 1, received)]
    EventStore(root).write_batch(events, [], 0, 1)
    name = layout.file_name(0, 1)
    assert files(root) == [f"day=2026-11-01/hour=07/{name}", f"day=2026-11-28/hour=02/{name}",
                           f"day=2026-11-28/hour=23/{name}"]
    assert name == "00000000000000000000-00000000000000000001.parquet"
    assert orjson.loads((root / "committed.json").read_bytes()) == {"seq": 1}
    untimed = [event for event in iter_events(root) if event.fields["n"] in (2, 3)]
    # no time: the received one; an unreadable time is kept as the parser gave it (its hour is the received one)
    assert [event.timestamp for event in untimed] == ["2026-11-01T07:30:00Z", "garbage"]


def test_bad_values_never_fail_a_batch(tmp_path: Path) -> None:
    odd = Event({"big": 2**70, "bytes": b"\xff\x00", "surrogate": "a\udc80b", "port": "99999999999",
                 "source.port": -1, "tuple": (1, 2), "user.name": "\udc80x"}, SSHD, "s", "1",
                "2026-11-28T02:10:01Z", "line \udc81", "p")
    root = tmp_path / "store"
    EventStore(root).write_batch([stored(0, odd)], [], 0, 0)
    [back] = list(iter_events(root))
    assert back.fields["big"] == str(2**70) and back.fields["tuple"] == [1, 2]
    assert back.fields["surrogate"] == "a\\udc80b" and back.raw == "line \\udc81"
    assert search(root, "surrogate:a*")[0]["user"] == "\\udc80x"  # and DuckDB reads the JSON


# ------------------------------------------------------------------------------------------------ exactly once


def test_committed_seq_and_zero_event_batches(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = EventStore(root)
    assert store.committed_seq() == -1
    store.write_batch([], [], 0, 41)
    assert store.committed_seq() == 41 and EventStore(root).committed_seq() == 41
    assert not (root / "events").exists()


def test_interrupted_batch_is_removed_on_open_and_the_replay_is_stored_once(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = EventStore(root)
    store.write_batch([stored(0, sshd_event(0))], [], 0, 0)
    # kill -9 in the middle of batch 1..2: its alert and event files are there, committed.json is not updated,
    # and one file was still a temporary file
    batch = [stored(1, sshd_event(1)), stored(2, sshd_event(2))]
    EventStore(root)._write_partitions(layout.EVENTS, _table(batch), _stamps(batch), 1, 2, [])  # type: ignore[arg-type]
    partition = next((root / "events").rglob("hour=*"))
    temp = partition / f".{layout.file_name(3, 3)}{layout.TMP_SUFFIX}"
    temp.write_bytes(b"half a parquet file")
    assert count_by(root, "user")[0]["count"] == 1  # readers never see an uncommitted batch

    reopened = EventStore(root)
    assert reopened.committed_seq() == 0
    assert [path.name for path in reopened.recovery.uncommitted] == [layout.file_name(1, 2)]
    assert reopened.recovery.temp_files == [temp] and not temp.exists()
    reopened.write_batch(batch, [], 1, 2)  # the pipeline replays the records after the committed seq
    reopened.write_batch(batch, [], 1, 2)  # and a second replay of the same records changes nothing
    reopened.write_batch([stored(2, sshd_event(2)), stored(3, sshd_event(3))], [], 2, 3)  # overlapping replay
    assert sorted(event.fields["n"] for event in iter_events(root)) == [0, 1, 2, 3]
    assert EventStore(root).committed_seq() == 3


def test_a_failed_write_leaves_nothing_that_could_count_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yamori.store import events as events_module

    root = tmp_path / "store"
    store = EventStore(root)
    real = events_module.write_durably
    calls = {"n": 0}

    def failing(path: Path, data: bytes, *, sync: bool = True) -> None:
        calls["n"] += 1
        if path.name == layout.COMMITTED:
            raise OSError(28, "No space left on device")
        real(path, data, sync=sync)

    monkeypatch.setattr(events_module, "write_durably", failing)
    event = sshd_event(1)
    with pytest.raises(OSError):
        store.write_batch([stored(1, event)], [alert(1, event)], 1, 5)
    monkeypatch.setattr(events_module, "write_durably", real)
    assert files(root) == [] and files(root, layout.ALERTS) == []
    store.write_batch([stored(1, event)], [], 1, 1)  # the retry covers a different range
    assert store_stats(root).events == 1


def _table(batch: list[StoredEvent]) -> object:
    from yamori.store.columns import EVENT_SCHEMA, event_rows, to_table

    return to_table(event_rows(batch)[0], EVENT_SCHEMA)


def _stamps(batch: list[StoredEvent]) -> list[int]:
    from yamori.store.columns import event_rows

    return event_rows(batch)[1]


# ------------------------------------------------------------------------------------------------ compaction


def _many_small_files(root: Path, count: int) -> EventStore:
    store = EventStore(root)
    for seq in range(count):
        event = sshd_event(seq, user=f"user{seq % 3}")
        store.write_batch([stored(seq, event)], [alert(seq, event)] if seq % 2 else [], seq, seq)
    return store


def test_compaction_merges_a_settled_partition_into_one_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = _many_small_files(root, 12)
    before = count_by(root, "user"), sql(root, "select count(*) as n from alerts")
    assert len(files(root)) == 12
    busy = store.compact()  # the files are fresh: the partition is still being written
    assert busy.merges == 1 and busy.files_merged == 10  # one run of MIN_FILES of the smallest tier
    assert len(files(root)) == 3
    result = store.compact(idle_seconds=0)
    assert files(root) == ["day=2026-11-28/hour=02/00000000000000000000-00000000000000000011.parquet"]
    assert files(root, layout.ALERTS) == \
        ["day=2026-11-28/hour=02/00000000000000000001-00000000000000000011.parquet"]
    assert result.merges == 2 and result.rows == 12 + 6  # events: the merged ten and two more; six alerts
    assert (count_by(root, "user"), sql(root, "select count(*) as n from alerts")) == before
    assert [event.fields["n"] for event in iter_events(root)] == list(range(12))  # time, then seq order


def test_compaction_is_cheap_when_nothing_changed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = _many_small_files(root, 3)
    state = CompactionState()
    assert store.compact(state, idle_seconds=0).merges == 1  # the events; one alert file needs no merge
    again = store.compact(state, idle_seconds=0)
    assert again.merges == 0 and again.partitions_checked == 0  # settled partitions are not even listed
    store.write_batch([stored(3, sshd_event(3))], [], 3, 3)
    assert store.compact(state, idle_seconds=0).partitions_checked == 1


def test_compaction_interrupted_between_merge_and_delete(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _many_small_files(root, 4)
    partition = next((root / "events").rglob("hour=*"))
    originals = {path.name: path.read_bytes() for path in partition.iterdir()}
    compact(root, idle_seconds=0)
    for name, data in originals.items():  # the crash: merged file renamed, inputs not yet deleted
        (partition / name).write_bytes(data)
    assert len(list(partition.iterdir())) == 5
    assert store_stats(root).events == 4 and len(search(root, "*")) == 4  # covered files are not read
    reopened = EventStore(root)
    assert sorted(path.name for path in reopened.recovery.merged) == sorted(originals)
    assert [path.name for path in partition.iterdir()] == [layout.file_name(0, 3)]
    assert sorted(event.fields["n"] for event in iter_events(root)) == [0, 1, 2, 3]


def test_merge_plan_keeps_seq_ranges_adjacent() -> None:
    def file(first: int, size: int) -> layout.DataFile:
        return layout.DataFile(Path(f"{first}"), first, first, size, 0)

    small, big = 1_000, 300 * 1024 * 1024
    files_ = [file(0, small), file(1, small), file(2, big), file(3, small), file(4, small), file(5, small)]
    groups = plan_merges(files_, idle=True)
    assert [[f.first for f in group] for group in groups] == [[0, 1], [3, 4, 5]]  # never across the big file
    assert plan_merges(files_, idle=False) == []  # busy: fewer than MIN_FILES of a tier
    tiers = [file(n, small if n % 2 else 5 * 1024 * 1024) for n in range(20)]
    assert plan_merges(tiers, idle=False) == []  # no run of MIN_FILES adjacent files of one tier


# ------------------------------------------------------------------------------------------------ retention, stats


def _spread(root: Path, hours: int) -> EventStore:
    store = EventStore(root)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for hour in range(hours):
        when = (start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
        events = [stored(hour, sshd_event(hour * 10 + n, when), n) for n in range(10)]
        store.write_batch(events, [alert(hour, events[0].event)], hour, hour)
    return store


def test_retention_by_age_drops_whole_old_hours(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = _spread(root, 6)
    now = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    result = store.apply_retention(max_age_seconds=3 * 3600, now=now)
    assert [part.start.hour for part in result.dropped] == [0, 1, 2] and {p.reason for p in result.dropped} == {"age"}
    assert all(part.files == 2 for part in result.dropped)  # events and alerts of the hour
    assert sorted({path.split("/")[1] for path in files(root)}) == ["hour=03", "hour=04", "hour=05"]
    assert files(root, layout.ALERTS) and len(files(root, layout.ALERTS)) == 3
    assert store_stats(root).events == 30 and result.bytes_after < result.bytes_before


def test_retention_by_size_drops_oldest_hours_until_under_the_limit(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _spread(root, 5)
    total = store_stats(root).bytes
    result = apply_retention(root, max_bytes=total // 2)
    assert result.dropped and all(part.reason == "size" for part in result.dropped)
    assert [part.start.hour for part in result.dropped] == list(range(len(result.dropped)))  # oldest first
    assert result.bytes_after <= total // 2 < result.bytes_after + result.dropped[-1].bytes
    assert store_stats(root).bytes == result.bytes_after
    assert apply_retention(root, max_bytes=total).dropped == []
    leftover = root / "events" / ".drop-day=2026-11-01-hour=09-1"
    leftover.mkdir()
    apply_retention(root, max_bytes=total)
    assert not leftover.exists()  # a drop interrupted by a crash is finished


def test_stats(tmp_path: Path) -> None:
    root = tmp_path / "store"
    _spread(root, 3)
    stats = store_stats(root)
    assert (stats.events, stats.alerts, stats.event_files, stats.alert_files, stats.partitions) == (30, 3, 3, 3, 3)
    assert stats.bytes == sum(os.path.getsize(p) for p in root.rglob("*.parquet"))
    assert 0 < stats.bytes_per_event < stats.event_bytes
    assert stats.oldest == datetime(2026, 11, 1, tzinfo=UTC) and stats.newest == datetime(2026, 11, 1, 2, tzinfo=UTC)
    data = stats.to_dict()
    assert data["oldest"] == "2026-11-01T00:00:00.000000Z" and data["committed_seq"] == 2
    from yamori.store.stats import store_size

    assert store_size(root) == stats.bytes
    empty = store_stats(tmp_path / "none")
    assert (empty.events, empty.committed_seq, empty.oldest) == (0, -1, None)


def test_compaction_state_survives_retention(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = _spread(root, 3)
    state = CompactionState()
    store.compact(state, idle_seconds=0)
    store.apply_retention(max_age_seconds=0, now=datetime(2026, 11, 1, 2, 0, 1, tzinfo=UTC))
    assert store.compact(state, idle_seconds=0, now=time.time()).errors == []
    assert len(state.settled) == 2  # the hour still there, events and alerts


@given(moment=st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)),
       form=st.sampled_from(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S.%f+00:00",
                             "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"]),
       cut=st.integers(0, 3))
def test_the_fast_time_parser_agrees_with_fromisoformat(moment: datetime, form: str, cut: int) -> None:
    from yamori.store.columns import _fast_epoch_us, epoch_us

    text = moment.strftime(form)
    if ".%fZ" in form and cut:  # milliseconds and other shorter fractions
        text = text[: -1 - cut] + "Z"
    assert _fast_epoch_us(text) == epoch_us(text)
    assert _fast_epoch_us(text) is not None


@pytest.mark.parametrize("text", ["garbage", "2026-11-28T02:10:0xZ", "2026-11-28T02:10:01.12a4Z", "", "Z" * 25])
def test_the_fast_time_parser_rejects_what_fromisoformat_rejects(text: str) -> None:
    from yamori.store.columns import _fast_epoch_us, epoch_us

    assert _fast_epoch_us(text) == epoch_us(text) is None


def test_compaction_and_retention_from_the_command_line_wait_for_no_running_pipeline(tmp_path: Path) -> None:
    import fcntl
    import subprocess
    import sys

    root = tmp_path / "store"
    EventStore(root).write_batch([stored(1, sshd_event(1))], [], 1, 1)
    command = [sys.executable, "-m", "yamori.cli.main", "store", "compact", "--store", str(root)]
    with (root / layout.pipeline_lock_name(0)).open("a") as running:  # what a running pipeline holds
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert busy.returncode == 1 and "yamori serve is writing" in busy.stderr
        retention = subprocess.run([*command[:-3], "retention", "--max-age", "1d", "--store", str(root)],
                                   capture_output=True, text=True, timeout=60)
        assert retention.returncode == 1
    assert subprocess.run(command, capture_output=True, text=True, timeout=60).returncode == 0
