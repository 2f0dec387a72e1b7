"""Search over the store with DuckDB: query-language search, count-by, time histogram, raw SQL, and streaming the
stored events back as Events (``yamori hunt --store``).

Every call opens an in-memory DuckDB connection with two views, ``events`` and ``alerts``, over the live Parquet
files of the partitions the time range touches (the file list is built here: folder names prune hours, and
uncommitted or merged-away files are never read). The connection can read nothing outside the store folder and
its configuration is locked. Results are plain dicts (times as ISO 8601 UTC strings) for the CLI and the HTTP API.

A compaction or retention running meanwhile may delete a file between listing and reading; the call then lists
again and retries.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import orjson
import pyarrow as pa

from yamori.events import Event
from yamori.exceptions import QueryError
from yamori.store import layout
from yamori.store.columns import ALERT_SCHEMA, EVENT_SCHEMA, READ_COLUMNS, events_from_batch, format_us
from yamori.store.query import ALERTS, EVENTS, Compiler, Schema, parse_duration, parse_query, parse_time, resolve

Dataset = Literal["events", "alerts"]
Order = Literal["asc", "desc"]
TimeArg = datetime | str | None

MAX_BUCKETS = 100_000
_WEEK_US = 7 * 86_400_000_000
_MONDAY_US = 4 * 86_400_000_000
"""1970-01-05, the first Monday after the epoch (a Thursday)."""
MEMORY_LIMIT = "1GB"
"""DuckDB's memory per search: `yamori serve` answers searches beside its pipeline."""
SQL_MAX_ROWS = 10_000
STREAM_BATCH = 2_048
RETRIES = 5
_SCHEMAS: dict[str, tuple[Schema, pa.Schema]] = {"events": (EVENTS, EVENT_SCHEMA), "alerts": (ALERTS, ALERT_SCHEMA)}
_T = TypeVar("_T")


# ------------------------------------------------------------------------------------------------ time range


def time_range(start: TimeArg = None, end: TimeArg = None,
               now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """``start``/``end`` as UTC datetimes (ISO 8601, ``now``, ``-1h``... or datetimes); start <= t < end."""
    moment = now or datetime.now(UTC)
    low = _moment(start, moment)
    high = _moment(end, moment)
    if low is not None and high is not None and low >= high:
        raise QueryError(f"the time range is empty: {low.isoformat()} is not before {high.isoformat()}")
    return low, high


def _moment(value: TimeArg, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return parse_time(value, now)


def _hours(low: datetime | None, high: datetime | None) -> tuple[int | None, int | None]:
    first = _epoch_us(low) // layout.HOUR_US if low is not None else None
    last = (_epoch_us(high) - 1) // layout.HOUR_US if high is not None else None
    return first, last


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# ------------------------------------------------------------------------------------------------ connections


def live_files(root: Path, kind: str, low: datetime | None = None, high: datetime | None = None) -> list[str]:
    """The live data files of ``kind`` whose partition overlaps [low, high), in time order."""
    return [file for _, files in live_partitions(root, kind, low, high) for file in files]


def live_partitions(root: Path, kind: str, low: datetime | None = None,
                    high: datetime | None = None) -> list[tuple[int, list[str]]]:
    """(hour, live data files) of each partition of ``kind`` overlapping [low, high) that has any, in time order."""
    committed = layout.read_commits(root)
    first, last = _hours(low, high)
    found: list[tuple[int, list[str]]] = []
    for partition in layout.list_partitions(root, kind, first, last):
        live, _ = layout.split_live(layout.data_files(partition.path), committed)
        if live:
            found.append((partition.hour, [str(file.path) for file in live]))
    return found


def connect(root: Path, low: datetime | None = None, high: datetime | None = None,
            empty: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with views ``events`` and ``alerts`` over the files of [low, high) (over no
    file with ``empty``: the caller replaces them)."""
    root = Path(root).resolve()
    spill = Path(tempfile.gettempdir()).resolve() / f"yamori-duckdb-{os.getpid()}"
    connection = duckdb.connect(config={"threads": _threads()})
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_progress_bar = false")
        # bounded memory: big sorts (iter_events orders an hour by time) spill to a private temporary folder
        connection.execute("SET memory_limit = $1", [MEMORY_LIMIT])
        connection.execute("SET temp_directory = $1", [str(spill)])
        connection.execute("SET parquet_metadata_cache = true")  # a search reads some footers more than once
        for view, (_, schema) in _SCHEMAS.items():
            files = [] if empty else live_files(root, view, low, high)
            relation = connection.read_parquet(files) if files else connection.from_arrow(schema.empty_table())
            relation.create_view(view)
        # raw SQL must not reach anything but the store: no other file, no extension, no setting change
        connection.execute("SET allowed_directories = $1", [[str(root) + "/", str(spill) + "/"]])
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


def _threads() -> int:
    return max(1, os.cpu_count() or 1)


def _with_retry(root: Path, low: datetime | None, high: datetime | None,
                run: Callable[[duckdb.DuckDBPyConnection], _T], empty: bool = False) -> _T:
    for attempt in range(RETRIES):
        try:
            connection = connect(root, low, high, empty)
        except duckdb.IOException:  # a listed file is gone already
            if attempt == RETRIES - 1:
                raise
            continue
        try:
            return run(connection)
        except duckdb.IOException:
            if attempt == RETRIES - 1:
                raise
        finally:
            connection.close()
        time.sleep(0.02 * (attempt + 1))  # a compaction is replacing files: give it a moment
    raise AssertionError("unreachable")


def _time_filter(compiler: Compiler, schema: Schema, low: datetime | None, high: datetime | None) -> str:
    tests = []
    if low is not None:
        tests.append(f'"{schema.time_column}" >= {compiler.param(low)}')
    if high is not None:
        tests.append(f'"{schema.time_column}" < {compiler.param(high)}')
    return " AND ".join(tests) or "TRUE"


def _schema(dataset: str) -> Schema:
    found = _SCHEMAS.get(dataset)
    if found is None:
        raise QueryError(f"the dataset is 'events' or 'alerts', not {dataset!r}")
    return found[0]


def _where(compiler: Compiler, query: str | None, low: datetime | None, high: datetime | None) -> str:
    node = parse_query(query or "")
    return f"{_time_filter(compiler, compiler.schema, low, high)} AND {compiler.node(node)}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo is not None else value
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(cursor: duckdb.DuckDBPyConnection, limit: int | None = None,
          json_columns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description or ()]
    records = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
    rows = []
    for record in records:
        row = {name: _plain(value) for name, value in zip(names, record, strict=True)}
        for name in json_columns:
            text = row.get(name)
            if isinstance(text, str):
                with contextlib.suppress(orjson.JSONDecodeError):
                    row[name] = orjson.loads(text)
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------ the API


def search(root: Path, query: str | None = None, start: TimeArg = None, end: TimeArg = None, limit: int = 100,
           order: Order = "desc", dataset: Dataset = "events", now: datetime | None = None) -> list[dict[str, Any]]:
    """The events (or alerts) matching ``query`` in [start, end), newest first (``order="asc"``: oldest first).

    Each row holds every stored column; the field JSON (``fields``, ``matched``) is parsed into a dict.
    """
    if limit < 0:
        raise QueryError("limit must be at least 0")
    if order not in ("asc", "desc"):
        raise QueryError(f"order is 'asc' or 'desc', not {order!r}")
    schema = _schema(dataset)
    low, high = time_range(start, end, now)
    compiler = Compiler(schema, now)
    where = _where(compiler, query, low, high)
    direction = "DESC" if order == "desc" else "ASC"
    keys = ("seq", "idx", "rule_id") if dataset == "alerts" else ("seq", "idx")
    time_column = schema.time_column
    selected = ", ".join(f'"{name}"' for name in (*keys, time_column))
    hits_sql = (f"SELECT {selected} FROM {schema.view} WHERE {where} ORDER BY \"{time_column}\" {direction}, "
                f"seq {direction}, idx {direction} LIMIT ${len(compiler.params) + 1}")
    if limit == 0:
        return []

    def run(connection: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        # Two steps, so that the wide columns (the field JSON) are read for the hits only: first the keys of the
        # hits, reading just the columns the query tests, from the newest partitions (oldest with order="asc")
        # in growing windows until there are enough - partitions hold disjoint hours, so no older one can
        # hold a newer hit; then the whole rows of those keys, from the partitions that hold them.
        partitions = live_partitions(root, dataset, low, high)
        if order == "desc":
            partitions.reverse()
        by_hour = dict(partitions)
        hits: list[tuple[Any, ...]] = []
        at, window = 0, 1
        while at < len(partitions) and len(hits) < limit:
            chunk = partitions[at:at + window]
            at, window = at + len(chunk), window * 4
            _replace_view(connection, schema.view, [file for _, files in chunk for file in files])
            hits.extend(connection.execute(hits_sql, [*compiler.params, limit - len(hits)]).fetchall())
        if not hits:
            return []
        hours = sorted({_epoch_us(hit[-1]) // layout.HOUR_US for hit in hits})
        _replace_view(connection, schema.view, [file for hour in hours for file in by_hour.get(hour, [])])
        cursor = connection.execute(f"SELECT * FROM {schema.view} WHERE seq = ANY($1)",
                                    [sorted({hit[0] for hit in hits})])
        place = {hit[:-1]: index for index, hit in enumerate(hits)}
        rows = [row for row in _rows(cursor, json_columns=(schema.json_column,))
                if tuple(row[name] for name in keys) in place]
        return sorted(rows, key=lambda row: place[tuple(row[name] for name in keys)])

    return _with_retry(root, low, high, run, empty=True)


def _replace_view(connection: duckdb.DuckDBPyConnection, view: str, files: list[str]) -> None:
    schema = _SCHEMAS[view][1]
    relation = connection.read_parquet(files) if files else connection.from_arrow(schema.empty_table())
    relation.create_view(view, replace=True)


def count_by(root: Path, field: str, query: str | None = None, start: TimeArg = None, end: TimeArg = None,
             limit: int = 10, dataset: Dataset = "events", now: datetime | None = None) -> list[dict[str, Any]]:
    """The most frequent values of ``field`` among the matching events: ``[{"value": v, "count": n}, ...]``.

    Each value of a multi-valued field (logsource facets, JSON lists) counts once; events without the field are
    not counted.
    """
    if not field:
        raise QueryError("count-by needs a field")
    schema = _schema(dataset)
    low, high = time_range(start, end, now)
    compiler = Compiler(schema, now)
    values = compiler.values_sql(resolve(schema, field))
    where = _where(compiler, query, low, high)
    statement = (f"SELECT value, count(*) AS count FROM (SELECT {values} AS value FROM {schema.view} WHERE {where}) "
                 f"WHERE value IS NOT NULL GROUP BY value ORDER BY count DESC, value LIMIT {compiler.param(limit)}")
    return _with_retry(root, low, high, lambda connection: _rows(connection.execute(statement, compiler.params)))


def histogram(root: Path, interval: str | timedelta = "1h", query: str | None = None, start: TimeArg = None,
              end: TimeArg = None, dataset: Dataset = "events",
              now: datetime | None = None) -> list[dict[str, Any]]:
    """Matching events per time bucket: ``[{"time": bucket start, "count": n}, ...]`` in time order.

    Buckets are aligned to UTC (days at midnight, weeks on Monday); empty buckets are left out.
    """
    width = interval if isinstance(interval, timedelta) else parse_duration(interval)
    micros = width // timedelta(microseconds=1)
    if micros <= 0:
        raise QueryError("the histogram interval must be positive")
    schema = _schema(dataset)
    low, high = time_range(start, end, now)
    compiler = Compiler(schema, now)
    # integer arithmetic on epoch microseconds: twice as fast as time_bucket on a time zone-aware timestamp
    offset = _MONDAY_US if micros % _WEEK_US == 0 else 0  # weeks start on Monday; days at midnight UTC
    step, shift = compiler.param(micros), compiler.param(offset)
    since = f'(epoch_us("{schema.time_column}") - {shift})'
    bucket = f"{since} - (({since} % {step}) + {step}) % {step} + {shift}"  # floor, also before 1970
    where = _where(compiler, query, low, high)
    statement = (f"SELECT {bucket} AS time, count(*) AS count FROM {schema.view} WHERE {where} "
                 f"GROUP BY 1 ORDER BY 1 LIMIT {compiler.param(MAX_BUCKETS + 1)}")
    rows = _with_retry(root, low, high, lambda connection: _rows(connection.execute(statement, compiler.params)))
    if len(rows) > MAX_BUCKETS:
        raise QueryError(f"more than {MAX_BUCKETS:,} buckets: use a larger interval or a shorter time range")
    for row in rows:
        row["time"] = format_us(row["time"])
    return rows


def sql(root: Path, statement: str, start: TimeArg = None, end: TimeArg = None,
        max_rows: int = SQL_MAX_ROWS) -> list[dict[str, Any]]:
    """Run one read-only SQL statement (``SELECT`` or ``WITH ... SELECT``) against the views ``events`` and
    ``alerts`` (restricted to the partitions of [start, end) when given); at most ``max_rows`` rows.

    For an administrator role: the statement can read anything in the store, including every stored field. It
    cannot write, read files outside the store, load extensions or change settings.
    """
    check_read_only(statement)
    low, high = time_range(start, end)
    try:
        return _with_retry(root, low, high, lambda connection: _rows(connection.execute(statement), max_rows))
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.IOException):
            raise
        raise QueryError(str(exc).strip()) from None


def check_read_only(statement: str) -> None:
    """Accept a single SELECT (WITH included) statement, as DuckDB's own parser reads it; reject anything else."""
    try:
        statements = duckdb.extract_statements(statement)
    except duckdb.Error as exc:
        raise QueryError(f"SQL syntax error: {str(exc).strip()}") from None
    if len(statements) != 1:
        raise QueryError(f"exactly one SQL statement is allowed, not {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError(f"only SELECT statements are allowed, not {statements[0].type.name}")


def iter_events(root: Path, start: TimeArg = None, end: TimeArg = None, query: str | None = None,
                batch_size: int = STREAM_BATCH, now: datetime | None = None) -> Iterator[Event]:
    """The stored events of [start, end) matching ``query``, rebuilt as Events, in time order (then seq).

    Streams hour by hour in record batches: memory stays flat whatever the range.
    """
    for _, events in iter_partitions(root, start, end, query, batch_size, now):
        yield from events


def iter_partitions(root: Path, start: TimeArg = None, end: TimeArg = None, query: str | None = None,
                    batch_size: int = STREAM_BATCH,
                    now: datetime | None = None) -> Iterator[tuple[layout.Partition, Iterator[Event]]]:
    """:func:`iter_events` hour partition by hour partition (consume each iterator before the next)."""
    yield from _iter_partitions(root, start, end, query, batch_size, now, (), events_from_batch)


def iter_partitions_with_ids(root: Path, start: TimeArg = None, end: TimeArg = None,
                             now: datetime | None = None) -> Iterator[tuple[layout.Partition,
                                                                            Iterator[tuple[str, Event]]]]:
    """:func:`iter_partitions` with each event's stored ``event_id``."""
    def with_ids(batch: pa.RecordBatch) -> Iterable[tuple[str, Event]]:
        return zip(batch.column("event_id").to_pylist(), events_from_batch(batch), strict=True)
    yield from _iter_partitions(root, start, end, None, STREAM_BATCH, now, ("event_id",), with_ids)


def _iter_partitions(root: Path, start: TimeArg, end: TimeArg, query: str | None, batch_size: int,
                     now: datetime | None, extra_columns: tuple[str, ...],
                     convert: Callable[[pa.RecordBatch], Iterable[Any]]) -> Iterator[tuple[layout.Partition, Any]]:
    low, high = time_range(start, end, now)
    first, last = _hours(low, high)
    compiler = Compiler(EVENTS, now)
    where = _where(compiler, query, low, high)
    columns = ", ".join(f'"{name}"' for name in (*READ_COLUMNS, *extra_columns))
    statement = f"SELECT {columns} FROM events WHERE {where} ORDER BY timestamp, seq, idx"
    root = Path(root)
    connection = connect(root, empty=True)
    try:
        for partition in layout.list_partitions(root, layout.EVENTS, first, last):
            yield partition, _partition_events(connection, root, partition, statement, compiler.params, batch_size,
                                               convert)
    finally:
        connection.close()


def _partition_events(connection: duckdb.DuckDBPyConnection, root: Path, partition: layout.Partition,
                      statement: str, params: list[Any], batch_size: int,
                      convert: Callable[[pa.RecordBatch], Iterable[Any]]) -> Iterator[Any]:
    done = 0
    for attempt in range(RETRIES):
        files = live_files(root, layout.EVENTS, partition.start, partition.start + timedelta(hours=1))
        if not files:
            return
        try:
            connection.read_parquet(files).create_view("events", replace=True)
            seen = 0
            reader: pa.RecordBatchReader = connection.sql(statement, params=params).to_arrow_reader(batch_size)
            for batch in reader:
                if seen + batch.num_rows <= done:  # yielded before a retry
                    seen += batch.num_rows
                    continue
                skip = max(0, done - seen)
                seen += batch.num_rows
                for event in convert(batch.slice(skip) if skip else batch):
                    done += 1
                    yield event
            return
        except duckdb.IOException:
            # a compaction replaced files mid-read: the same rows in the same order, so skip what was yielded
            if attempt == RETRIES - 1:
                raise
