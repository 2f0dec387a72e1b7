"""Search over the store: search, count-by and histogram with time pruning, raw SQL kept read-only, `hunt --store`
finding what hunting the original files finds, and the `search`, `store` and `hunt --store` commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from conftest import REPO_ROOT
from yamori.events import Event, LogSource
from yamori.exceptions import QueryError
from yamori.hunt import HuntOptions, hunt_file, make_engine
from yamori.sources.files import expand_paths, read_file
from yamori.store.events import EventStore
from yamori.store.hunt import iter_store_results
from yamori.store.model import StoredEvent
from yamori.store.search import count_by, histogram, iter_events, search, sql
from yamori.store.stats import store_stats

FIXTURES = REPO_ROOT / "tests" / "fixtures"
RULES = REPO_ROOT / "rules"
START = datetime(2026, 11, 27, 22, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _event(n: int, when: datetime, user: str, code: int, outcome: str) -> Event:
    fields = {"EventID": code, "event.code": code, "user.name": user, "host.name": f"ws{n % 3}",
              "event.outcome": outcome, "LogonType": n % 4, "event.category": ["authentication", "session"],
              "@timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return Event(fields, LogSource(("windows",), (), ("security",)), "sec.evtx", str(n), fields["@timestamp"],
                 None, "windows")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 events, one every 5 minutes from 22:00 on Nov 27 (five hours over two days), in 6 batches."""
    root = tmp_path_factory.mktemp("search") / "store"
    writer = EventStore(root)
    for batch in range(6):
        events = []
        for n in range(batch * 10, batch * 10 + 10):
            when = START + timedelta(minutes=5 * n)
            user = ("alice", "bob", "carol")[n % 3]
            events.append(StoredEvent(n, 0, "test", 0, _event(n, when, user, 4625 if n % 2 else 4624,
                                                              "failure" if n % 2 else "success")))
        writer.write_batch(events, [], batch * 10, batch * 10 + 9)
    return root


def test_search_returns_plain_rows_newest_first_with_limit(store: Path) -> None:
    rows = search(store, "user:alice AND event_code:4625", limit=3)
    assert [row["position"] for row in rows] == ["57", "51", "45"]
    row = rows[0]
    assert row["timestamp"] == "2026-11-28T02:45:00Z" and row["fields"]["user.name"] == "alice"
    assert isinstance(row["fields"], dict) and row["service"] == "security"
    oldest = search(store, "user:alice AND event_code:4625", limit=2, order="asc")
    assert [row["position"] for row in oldest] == ["3", "9"]
    assert search(store, "user:nobody") == []
    with pytest.raises(QueryError):
        search(store, "*", order="sideways")  # type: ignore[arg-type]


def test_time_range_prunes_partitions(store: Path) -> None:
    # a damaged file in the first hour: only a search that includes that hour reads it
    (store / "events" / "day=2026-11-27" / "hour=22" / "00000000000000000059-00000000000000000059.parquet") \
        .write_bytes(b"not parquet")
    try:
        rows = search(store, "*", start="2026-11-28T00:00:00Z", end="2026-11-28T01:00:00Z", limit=100)
        assert len(rows) == 12 and {row["timestamp"][:13] for row in rows} == {"2026-11-28T00"}
        assert count_by(store, "user", start="2026-11-27T23:00:00Z", limit=5) == \
            [{"value": "alice", "count": 16}, {"value": "bob", "count": 16}, {"value": "carol", "count": 16}]
        with pytest.raises(Exception, match=r"not parquet|[Mm]agic|Invalid|corrupt|too small"):
            search(store, "*", start="2026-11-27T22:30:00Z", end="2026-11-28T00:00:00Z")
    finally:
        (store / "events" / "day=2026-11-27" / "hour=22" / "00000000000000000059-00000000000000000059.parquet").unlink()


def test_relative_times(store: Path) -> None:
    rows = search(store, "*", start="-11h", end="now", now=NOW, limit=100)  # from 01:00 on Nov 28
    assert len(rows) == 24 and min(row["timestamp"] for row in rows) == "2026-11-28T01:00:00Z"
    with pytest.raises(QueryError, match="empty"):
        search(store, "*", start="now", end="-1h", now=NOW)


def test_count_by_normalized_json_and_multi_valued_fields(store: Path) -> None:
    assert count_by(store, "outcome") == [{"value": "failure", "count": 30}, {"value": "success", "count": 30}]
    assert count_by(store, "host.name", "event_code:4624", limit=1) == [{"value": "ws0", "count": 10}]
    assert count_by(store, "LogonType", "user:bob") == [{"value": str(n), "count": 5} for n in range(4)]
    assert count_by(store, "event.category") == [{"value": "authentication", "count": 60},
                                                 {"value": "session", "count": 60}]
    assert count_by(store, "nothing") == []
    assert count_by(store, "src_port") == []


def test_histogram_buckets(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hours = histogram(store, "1h", "event_code:4625")
    assert hours == [{"time": f"2026-11-{day}T{hour:02d}:00:00Z", "count": 6}
                     for day, hour in (("27", 22), ("27", 23), ("28", 0), ("28", 1), ("28", 2))]
    days = histogram(store, "1d", start="2026-11-28")
    assert days == [{"time": "2026-11-28T00:00:00Z", "count": 36}]
    assert sum(row["count"] for row in histogram(store, "15m")) == 60
    monkeypatch.setattr("yamori.store.search.MAX_BUCKETS", 59)
    with pytest.raises(QueryError, match="more than 59 buckets"):
        histogram(store, "1ms")
    with pytest.raises(QueryError):
        histogram(store, "often")


def test_raw_sql_reads_and_only_reads(store: Path) -> None:
    rows = sql(store, "WITH f AS (SELECT user, count(*) AS n FROM events WHERE outcome = 'failure' GROUP BY 1) "
                      "SELECT * FROM f ORDER BY user")
    assert rows == [{"user": "alice", "n": 10}, {"user": "bob", "n": 10}, {"user": "carol", "n": 10}]
    assert sql(store, "SELECT count(*) AS n FROM alerts") == [{"n": 0}]
    assert len(sql(store, "SELECT * FROM events", max_rows=7)) == 7
    for statement, message in [
        ("DROP VIEW events", "only SELECT"),
        ("SELECT 1; DROP VIEW events", "exactly one"),
        ("COPY (SELECT * FROM events) TO '/tmp/yamori-leak.csv'", "only SELECT"),
        ("ATTACH '/tmp/x.db'", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("SET enable_external_access = true", "only SELECT"),
        ("PRAGMA version", "only SELECT"),
        ("SELEC 1", "syntax"),
        ("SELECT * FROM read_text('/etc/passwd')", "disabled|Permission"),
        ("SELECT * FROM read_csv('/etc/hostname')", "disabled|Permission"),
        ("SELECT * FROM glob('/etc/*')", "disabled|Permission"),
        ("SELECT * FROM query('COPY (SELECT 1) TO ''/tmp/yamori-leak.csv''')", "SELECT"),
    ]:
        with pytest.raises(QueryError, match=message):
            sql(store, statement)
    assert not os.path.exists("/tmp/yamori-leak.csv")
    assert store_stats(store).events == 60


def test_iter_events_streams_in_time_order(store: Path) -> None:
    events = list(iter_events(store, "2026-11-27T23:30:00Z", "2026-11-28T00:30:00Z", "user:alice"))
    assert [event.position for event in events] == ["18", "21", "24", "27"]  # 00:30 is the excluded end
    assert all(event.logsource.service == ("security",) for event in events)
    everything = list(iter_events(store, batch_size=7))
    assert [event.position for event in everything] == [str(n) for n in range(60)]


# ------------------------------------------------------------------------------------------------ hunt --store


def _fixture_events() -> Iterator[tuple[Path, list[Event]]]:
    for path in expand_paths([FIXTURES]):
        events = [item for item in read_file(path) if isinstance(item, Event)]
        if events:
            yield path, events


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixtures") / "store"
    writer = EventStore(root)
    for seq, (_, events) in enumerate(_fixture_events()):
        writer.write_batch([StoredEvent(seq, index, "files", 1_795_000_000_000_000_000, event)
                            for index, event in enumerate(events)], [], seq, seq)
    writer.compact(idle_seconds=0)
    return root


@pytest.fixture(scope="module")
def engine_factory(tmp_path_factory: pytest.TempPathFactory) -> object:
    os.environ["YAMORI_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    from yamori.engine.ruleset import load_ruleset

    ruleset = load_ruleset([RULES])
    return lambda: make_engine(ruleset, "informational")


def test_hunt_store_finds_what_hunting_the_files_finds(fixture_store: Path, engine_factory: object) -> None:
    engine = engine_factory()  # type: ignore[operator]
    from_files = {(d.rule.id, d.source, d.position) for path in expand_paths([FIXTURES])
                  for d in hunt_file(engine, path, HuntOptions()).detections}
    engine = engine_factory()  # type: ignore[operator]
    results = list(iter_store_results(fixture_store, engine, HuntOptions()))
    from_store = {(d.rule.id, d.source, d.position) for result in results for d in result.detections}
    assert len(from_files) >= 20
    assert from_store == from_files
    assert sum(result.events for result in results) == store_stats(fixture_store).events
    narrowed = list(iter_store_results(fixture_store, engine_factory(), HuntOptions(),  # type: ignore[operator]
                                       start="2026-11-28T03:00:00Z", end="2026-11-28T04:00:00Z",
                                       query="parser:suricata"))
    assert narrowed and {d.rule.id for result in narrowed for d in result.detections} <= {r for r, _, _ in from_files}
    assert all(result.path.endswith("day=2026-11-28/hour=03") for result in narrowed)


# ------------------------------------------------------------------------------------------------ commands


def cli_app() -> typer.Typer:
    """The yamori app once `search` and `store` are registered in it; until then the same commands, registered
    here the way main.py registers them."""
    from yamori.cli import hunt
    from yamori.cli import search as search_cli
    from yamori.cli import store as store_cli
    from yamori.cli.main import app

    names = {command.name for command in app.registered_commands} | {group.name for group in app.registered_groups}
    if {"search", "store"} <= names:
        return app
    local = typer.Typer()
    local.command(name="hunt")(hunt.hunt_command)
    local.command(name="search")(search_cli.search_command)
    local.add_typer(store_cli.app, name="store")
    return local


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app(), list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout


def test_search_command(store: Path) -> None:
    code, out = run("search", "user:alice AND outcome:failure", "--store", str(store), "-n", "2")
    assert code == 0 and "alice" in out and "4625" in out and "2 shown" in out
    code, out = run("search", "user:bob", "--store", str(store), "--format", "json", "--from", "2026-11-28")
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 12 and all(row["user"] == "bob" for row in rows)
    code, out = run("search", "*", "--count-by", "user", "--store", str(store), "-f", "json")
    assert orjson.loads(out.splitlines()[0]) == {"value": "alice", "count": 20}
    code, out = run("search", "--histogram", "1h", "--store", str(store))
    assert code == 0 and "2026-11-27T22:00:00Z" in out and "█" in out
    code, out = run("search", "--sql", "SELECT max(seq) AS top FROM events", "--store", str(store), "-f", "json")
    assert code == 0 and orjson.loads(out) == {"top": 59}
    code, out = run("search", "--sql", "DELETE FROM events", "--store", str(store))
    assert code == 2 and "only SELECT" in out
    code, out = run("search", "user:(alice OR", "--store", str(store))
    assert code == 2 and "expected a value" in out and "^" in out
    code, out = run("search", "*", "--count-by", "user", "--histogram", "1h", "--store", str(store))
    assert code == 2
    code, _ = run("search", "*", "--store", str(store.parent / "missing"))
    assert code == 2


def test_store_commands(tmp_path: Path, store: Path) -> None:
    code, out = run("store", "stats", "--store", str(store))
    assert code == 0 and "60" in out and "bytes per event" in out and "2026-11-27T22:00:00" in out
    code, out = run("store", "stats", "--store", str(store), "--format", "json")
    stats = orjson.loads(out)
    assert code == 0 and stats["events"] == 60 and stats["partitions"] == 5 and stats["bytes_per_event"] > 0
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(store, copy)
    code, out = run("store", "compact", "--store", str(copy), "-f", "json")
    assert code == 0 and orjson.loads(out)["merges"] == 5
    code, out = run("store", "retention", "--max-age", "1h", "--store", str(copy), "-f", "json")
    assert code == 0 and len(orjson.loads(out)["dropped"]) == 5  # everything is older than an hour
    _spread = run("store", "retention", "--max-size", "10GB", "--store", str(copy))
    assert _spread[0] == 0 and "Dropped 0 partitions" in _spread[1]
    assert run("store", "retention", "--store", str(copy))[0] == 2
    assert run("store", "retention", "--max-size", "lots", "--store", str(copy))[0] == 2


def test_hunt_command_over_the_store(fixture_store: Path, engine_factory: object) -> None:
    code, out = run("hunt", "--store", "--store-dir", str(fixture_store), "--rules", str(RULES), "--format",
                    "jsonl", "--from", "2020-01-01", "--to", "2030-01-01")
    assert code == 0
    # single-event detections only: events without a time of their own are stored with the time they were
    # stored, so the store places them in correlation windows a file hunt leaves them out of (test_cli compares
    # correlation alerts on events that all have a time)
    from_store = {(d["rule_id"], d["source"], d["record_id"]) for d in map(orjson.loads, out.splitlines())
                  if d.get("rule_id") and d["source"] != "correlation"}
    code, out = run("hunt", str(FIXTURES), "--rules", str(RULES), "--format", "jsonl", "--workers", "1")
    from_files = {(d["rule_id"], d["source"], d["record_id"]) for d in map(orjson.loads, out.splitlines())
                  if d.get("rule_id") and d["source"] != "correlation"}
    assert code == 3  # the fixtures hold broken records on purpose
    assert from_store == from_files and from_store
    code, out = run("hunt", "--store", "--store-dir", str(fixture_store), "--rules", str(RULES),
                    "--query", "service:sshd")
    assert code == 0 and "Detections by rule" in out
    assert run("hunt", "--rules", str(RULES))[0] == 2
    assert run("hunt", str(FIXTURES), "--from", "-1d")[0] == 2
    assert run("hunt", "--store", "--store-dir", str(fixture_store), "--query", "a:(")[0] == 2
    assert run("hunt", "--store", "--store-dir", str(fixture_store.parent / "none"))[0] == 2


def test_a_file_deleted_between_listing_and_reading_is_retried(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compaction or retention may delete a file a search has just listed: the search lists again."""
    from yamori.store import search as search_module

    real = search_module.live_partitions
    calls = {"n": 0}

    def stale(*args: object, **kwargs: object) -> list[tuple[int, list[str]]]:
        calls["n"] += 1
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        if calls["n"] == 1 and found:
            hour, files = found[-1]
            gone = str(Path(files[0]).with_name("00000000000000000058-00000000000000000058.parquet"))
            found[-1] = (hour, [*files, gone])
        return found

    monkeypatch.setattr(search_module, "live_partitions", stale)
    assert len(search(store, "*", limit=100)) == 60
    assert calls["n"] == 2  # listed again after the failure
    calls["n"] = 0
    assert len(list(iter_events(store, "2026-11-28T02:00:00Z", "2026-11-28T03:00:00Z"))) == 12
    assert calls["n"] >= 2
    calls["n"] = 0
    assert count_by(store, "user") == [{"value": v, "count": 20} for v in ("alice", "bob", "carol")]


def test_time_fields_in_queries(store: Path) -> None:
    assert len(search(store, "timestamp:2026-11-27", limit=100)) == 24  # a day is the whole day
    assert len(search(store, "@timestamp:[2026-11-28T00:00:00Z TO 2026-11-28T01:00:00Z}", limit=100)) == 12
    assert [row["position"] for row in search(store, "timestamp:2026-11-27T22:05:00Z")] == ["1"]
    assert len(search(store, "timestamp:>=-11h", limit=100, now=NOW)) == 24
    assert len(search(store, "timestamp:2026-11-27T23*", limit=100)) == 12


def test_histogram_weeks_start_on_monday_and_old_times_floor(tmp_path: Path) -> None:
    root = tmp_path / "store"
    times = [datetime(2026, 11, 29, 23, tzinfo=UTC), datetime(2026, 11, 30, 1, tzinfo=UTC),  # Sunday, Monday
             datetime(1601, 1, 1, 0, 30, tzinfo=UTC)]
    EventStore(root).write_batch([StoredEvent(n, 0, "t", 0, _event(n, when, "x", 1, "success"))
                                  for n, when in enumerate(times)], [], 0, 2)
    assert histogram(root, "1w") == [{"time": "1601-01-01T00:00:00Z", "count": 1},  # a Monday
                                     {"time": "2026-11-23T00:00:00Z", "count": 1},
                                     {"time": "2026-11-30T00:00:00Z", "count": 1}]
    assert histogram(root, "1h", start="1601-01-01", end="1602-01-01") == [{"time": "1601-01-01T00:00:00Z",
                                                                            "count": 1}]
