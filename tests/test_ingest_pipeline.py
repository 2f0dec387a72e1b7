"""The pipeline process's work, in-process: log → parse → filter → engine → store, exactly once by log position."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import orjson
import pytest

from yamori.engine.matcher import Engine
from yamori.engine.ruleset import load_ruleset
from yamori.hunt import make_engine
from yamori.ingest.pipeline import Pipeline, PipelineSettings
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.wal import WalWriter, iter_records
from yamori.paths import bundled_rules_dir

DEMO = Path(__file__).resolve().parent.parent / "demo" / "events"
SSH_FAILURE = "<38>Nov 28 02:58:01 web01 sshd[4101]: Failed password for root from 203.0.113.77 port 51022 ssh2"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return make_engine(load_ruleset([bundled_rules_dir()]), "informational")


def settings_for(base: Path, **extra: object) -> PipelineSettings:
    settings = PipelineSettings(base / "wal", base / "store", base / "dead-letter", flush_seconds=0.0)
    for key, value in extra.items():
        setattr(settings, key, value)
    return settings


def message(text: str, input_name: str = "syslog-tcp") -> IngestRecord:
    return IngestRecord(input_name, RecordKind.MESSAGE, text.encode(), time.time_ns(), "10.0.0.9:601")


def rows(store: Path, kind: str, columns: str) -> list[tuple[object, ...]]:
    files = list((store / kind).rglob("*.parquet"))
    if not files:
        return []
    query = f"SELECT {columns} FROM read_parquet(?, union_by_name=true) ORDER BY 1"
    return duckdb.connect().execute(query, [[str(file) for file in files]]).fetchall()


def drain(pipeline: Pipeline) -> None:
    while pipeline.step():
        pass
    pipeline.flush()


def test_events_are_stored_and_detections_become_alerts_referencing_them(tmp_path: Path, engine: Engine) -> None:
    wal = WalWriter(tmp_path / "wal")
    wal.append([message(SSH_FAILURE), message("<13>Nov 28 03:00:00 web01 cron[1]: (root) CMD (true)")])
    wal.append([IngestRecord("hec", RecordKind.JSON, DEMO.joinpath("cloudtrail.json").read_bytes(), time.time_ns())])
    pipeline = Pipeline(settings_for(tmp_path), engine)
    drain(pipeline)
    events = rows(tmp_path / "store", "events", "event_id, input, parser")
    assert ("0-0", "syslog-tcp", "linux_sshd") in events
    assert {row[1] for row in events} == {"syslog-tcp", "hec"}
    alerts = rows(tmp_path / "store", "alerts", "event_id, rule_id, latency_ms")
    assert alerts, "the SSH failure and the CloudTrail sample fire Yamori's own rules"
    assert {row[0] for row in alerts} <= {row[0] for row in events}
    assert all(row[2] is not None and row[2] >= 0 for row in alerts)
    assert pipeline.stats.stored == len(events)
    assert pipeline.stats.latency_buckets


def test_a_restart_replays_only_what_the_store_does_not_hold(tmp_path: Path, engine: Engine) -> None:
    wal = WalWriter(tmp_path / "wal")
    for number in range(50):
        wal.append([message(f"<13>Nov 28 03:00:00 host app[1]: sequence={number}")])
    first = Pipeline(settings_for(tmp_path), engine)
    first.reader.poll(max_records=0)
    for seq, record in first.reader.poll(max_records=20):
        first._take(seq, record)
    first.flush()  # 20 stored; then the process "dies" with the rest unread
    for number in range(50, 60):
        wal.append([message(f"<13>Nov 28 03:00:00 host app[1]: sequence={number}")])
    second = Pipeline(settings_for(tmp_path), engine)
    assert second.committed_seq == 19
    drain(second)
    messages = [row[0] for row in rows(tmp_path / "store", "events", "seq")]
    assert messages == list(range(60))


def test_filters_drop_and_sample_before_storage_and_detection(tmp_path: Path, engine: Engine) -> None:
    wal = WalWriter(tmp_path / "wal")
    wal.append([message(SSH_FAILURE) for _ in range(10)])
    wal.append([message("<13>Nov 28 03:00:00 host noisy[1]: debug tick") for _ in range(10)])
    filters = [{"name": "drop-noisy", "action": "drop", "where": {"process.name": "noisy"}},
               {"name": "sample-ssh", "action": "sample", "rate": 5, "where": {"process.name": "sshd"}}]
    pipeline = Pipeline(settings_for(tmp_path, filters=filters), engine)
    drain(pipeline)
    assert len(rows(tmp_path / "store", "events", "seq")) == 2
    assert len({row[0] for row in rows(tmp_path / "store", "alerts", "event_id")}) == 2
    assert pipeline.stats.filtered == {"drop-noisy": 10}
    assert pipeline.stats.sampled_out == {"sample-ssh": 8}


def test_bad_records_are_counted_and_dead_lettered_with_position(tmp_path: Path, engine: Engine) -> None:
    wal = WalWriter(tmp_path / "wal")
    wal.append([IngestRecord("hec", RecordKind.HEC_EVENT, b'{"event": "fine"}\n{"event": nope}', time.time_ns()),
                message(SSH_FAILURE)])
    pipeline = Pipeline(settings_for(tmp_path), engine)
    drain(pipeline)
    assert pipeline.stats.parse_errors == {"hec": 1}
    (letters,) = list((tmp_path / "dead-letter").glob("*.jsonl"))
    entry = orjson.loads(letters.read_bytes().splitlines()[0])
    assert entry["input"] == "hec" and entry["seq"] == 0 and entry["position"] == "0/1"
    assert len(rows(tmp_path / "store", "events", "seq")) == 2


def test_spooled_files_are_deleted_once_stored(tmp_path: Path, engine: Engine) -> None:
    spooled = tmp_path / "spool" / "auth.log"
    spooled.parent.mkdir()
    spooled.write_bytes(DEMO.joinpath("linux-auth.log").read_bytes())
    wal = WalWriter(tmp_path / "wal")
    wal.append([IngestRecord("drop", RecordKind.FILE, str(spooled).encode(), time.time_ns(), "/in/auth.log")])
    pipeline = Pipeline(settings_for(tmp_path), engine)
    drain(pipeline)
    assert not spooled.exists()
    assert len(rows(tmp_path / "store", "events", "seq")) == len(DEMO.joinpath("linux-auth.log").read_text()
                                                                  .splitlines())


def test_maintenance_drops_consumed_log_segments(tmp_path: Path, engine: Engine) -> None:
    wal = WalWriter(tmp_path / "wal", segment_bytes=300)
    for _ in range(20):
        wal.append([message(SSH_FAILURE)])
    pipeline = Pipeline(settings_for(tmp_path), engine)
    drain(pipeline)
    before = len(list((tmp_path / "wal").iterdir()))
    pipeline.maintain(force=True)
    assert len(list((tmp_path / "wal").iterdir())) == 1 < before
    assert pipeline.stats.store_bytes > 0


def test_a_spooled_file_left_by_a_crash_after_its_commit_is_removed_on_start(tmp_path: Path, engine: Engine) -> None:
    spooled = tmp_path / "spool" / "auth.log"
    spooled.parent.mkdir()
    spooled.write_bytes(DEMO.joinpath("linux-auth.log").read_bytes())
    wal = WalWriter(tmp_path / "wal")
    wal.append([IngestRecord("drop", RecordKind.FILE, str(spooled).encode(), time.time_ns(), "/in/auth.log")])
    first = Pipeline(settings_for(tmp_path), engine)
    for seq, record in first.reader.poll():
        first._take(seq, record)
    first.batch.spooled.clear()  # the crash: stored and committed, but the file not yet deleted
    first.flush()
    assert spooled.exists()
    Pipeline(settings_for(tmp_path), engine)
    assert not spooled.exists()


def test_two_stripes_store_every_record_once_and_replay_independently(tmp_path: Path, engine: Engine) -> None:
    from yamori.store.events import prepare_stripes
    from yamori.store.search import count_by

    prepare_stripes(tmp_path / "store", 2)
    wal = WalWriter(tmp_path / "wal", segment_bytes=300)
    for number in range(40):
        wal.append([message(f"<13>Nov 28 03:00:00 host app[1]: sequence={number}")])
    first = Pipeline(settings_for(tmp_path, stripe=0, stripes=2), engine)
    second = Pipeline(settings_for(tmp_path, stripe=1, stripes=2), engine)
    drain(first)
    for seq, record in second.reader.poll(max_records=10):  # stripe 1 "dies" after its first ten records
        if seq % 2 == 1:
            second._take(seq, record)
        else:
            second._pass(seq)
    second.flush()
    first.maintain(force=True)  # stripe 0 is done, but the log stays for stripe 1
    assert [seq for seq, _ in iter_records(tmp_path / "wal", 9)] == list(range(10, 40))
    restarted = Pipeline(settings_for(tmp_path, stripe=1, stripes=2), engine)
    assert restarted.committed_seq == 9
    drain(restarted)
    assert [row[0] for row in rows(tmp_path / "store", "events", "seq")] == list(range(40))
    assert count_by(tmp_path / "store", "input") == [{"value": "syslog-tcp", "count": 40}]


def test_the_number_of_stripes_changes_only_on_a_drained_store(tmp_path: Path, engine: Engine) -> None:
    from yamori.store.events import StripeError, prepare_stripes
    from yamori.store.layout import read_committed

    store = tmp_path / "store"
    prepare_stripes(store, 2)
    wal = WalWriter(tmp_path / "wal")
    for number in range(10):
        wal.append([message(f"<13>Nov 28 03:00:00 host app[1]: n={number}")])
    stripe0 = Pipeline(settings_for(tmp_path, stripe=0, stripes=2), engine)
    drain(stripe0)
    with pytest.raises(StripeError):
        prepare_stripes(store, 1)  # stripe 1 has not read anything yet
    drain(Pipeline(settings_for(tmp_path, stripe=1, stripes=2), engine))
    prepare_stripes(store, 3)
    assert [read_committed(store, stripe) for stripe in range(3)] == [9, 9, 9]
    wal.append([message("<13>Nov 28 03:00:00 host app[1]: n=10")])
    for stripe in range(3):
        drain(Pipeline(settings_for(tmp_path, stripe=stripe, stripes=3), engine))
    assert [row[0] for row in rows(store, "events", "seq")] == list(range(11))
