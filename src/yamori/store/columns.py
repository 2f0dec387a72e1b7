"""The stored columns: events and alerts to Arrow tables (the write hot path) and rows back to Events.

Events keep every field in ``fields`` (JSON text of the flat field dict: original names, Sigma taxonomy, ECS) and
copy what analysts filter and group by most into typed *normalized* columns (host, user, addresses, ports, event
code, action, outcome), taken from the ECS name first and from common native names after it. ``message`` is the
original line of text events (null for structured ones). ``timestamp`` is the event's own time, or the time it
was received when it has none: every stored event can be found by time.

Conversion is one pass over the batch building plain column lists (orjson for the JSON), then one Arrow array per
column: at 20,000 events/s this runs for every event, so it does no per-event work it can leave to Arrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from yamori.events import Event, LogSource
from yamori.store.model import StoredAlert, StoredEvent

TIME = pa.timestamp("us", tz="UTC")

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("seq", pa.int64()), ("idx", pa.int32()), ("timestamp", TIME), ("received", TIME),
    ("input", pa.string()), ("source", pa.string()), ("position", pa.string()), ("parser", pa.string()),
    ("product", pa.string()), ("category", pa.string()), ("service", pa.string()), ("host", pa.string()),
    ("user", pa.string()), ("src_ip", pa.string()), ("dst_ip", pa.string()), ("src_port", pa.int32()),
    ("dst_port", pa.int32()), ("event_code", pa.string()), ("action", pa.string()), ("outcome", pa.string()),
    ("message", pa.string()), ("fields", pa.string()),
])

ALERT_SCHEMA = pa.schema([
    ("alert_id", pa.string()), ("event_id", pa.string()), ("seq", pa.int64()), ("idx", pa.int32()),
    ("timestamp", TIME), ("detected", TIME), ("received", TIME), ("latency_ms", pa.float64()),
    ("rule_id", pa.string()), ("title", pa.string()), ("level", pa.string()), ("status", pa.string()),
    ("tactics", pa.list_(pa.string())), ("techniques", pa.list_(pa.string())), ("computer", pa.string()),
    ("input", pa.string()), ("source", pa.string()), ("position", pa.string()), ("matched", pa.string()),
])

DICTIONARY_COLUMNS = ("input", "source", "parser", "product", "category", "service", "host", "user", "src_ip",
                      "dst_ip", "event_code", "action", "outcome", "rule_id", "title", "level", "status",
                      "computer")
"""Low-cardinality columns worth Parquet dictionary encoding (the others are unique per row)."""

FACETS = ("product", "category", "service")
FACET_SEPARATOR = "|"

# Where each normalized column is taken from: the ECS name first, then the native names parsers keep.
HOST_NAMES = ("host.name", "host.hostname", "observer.name", "observer.hostname", "Computer", "Hostname",
              "hostname", "host", "host.ip", "cloud.account.id", "cloud.project.id")
USER_NAMES = ("user.name", "TargetUserName", "SubjectUserName", "User", "UserName", "user", "username",
              "userIdentity.userName", "remote_user")
SRC_IP_NAMES = ("source.ip", "src_ip", "IpAddress", "SourceIp", "SourceAddress", "source_ip", "src",
                "sourceIPAddress", "callerIpAddress", "c-ip", "remote_addr", "id.orig_h")
DST_IP_NAMES = ("destination.ip", "dst_ip", "DestinationIp", "DestAddress", "DestinationAddress", "dest_ip", "dst",
                "s-ip", "id.resp_h")
SRC_PORT_NAMES = ("source.port", "src_port", "SourcePort", "IpPort", "source_port", "id.orig_p")
DST_PORT_NAMES = ("destination.port", "dst_port", "DestinationPort", "DestPort", "dest_port", "s-port",
                  "id.resp_p")
CODE_NAMES = ("event.code", "EventID", "EventCode")
ACTION_NAMES = ("event.action",)
OUTCOME_NAMES = ("event.outcome",)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EMPTY = ("", "-")
_EVENT = attrgetter("event")
_SEQ = attrgetter("seq")
_INDEX = attrgetter("index")
_RECEIVED = attrgetter("received_ns")
_INPUT = attrgetter("input")
_SOURCE = attrgetter("source")
_POSITION = attrgetter("position")
_PARSER = attrgetter("parser")
_INT32_MAX = 2**31 - 1


def epoch_us(timestamp: str | None) -> int | None:
    """Microseconds since the epoch of an ISO 8601 time (UTC when it names no zone); None when not one."""
    if not timestamp or not isinstance(timestamp, str):
        return None
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND


_seconds_cache: dict[str, int] = {}


def _fast_epoch_us(timestamp: str) -> int | None:
    """:func:`epoch_us` for the form parsers give (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``), the second cached: events
    of one batch share a few seconds, so only the fraction is parsed per event."""
    size = len(timestamp)
    if size < 20 or timestamp[-1] != "Z" or timestamp[10] != "T":
        return epoch_us(timestamp)
    second = _seconds_cache.get(timestamp[:19])
    if second is None:
        micros = epoch_us(timestamp[:19] + "Z")
        if micros is None:
            return None
        if len(_seconds_cache) >= 100_000:
            _seconds_cache.clear()
        second = _seconds_cache[timestamp[:19]] = micros
    if size == 20:
        return second
    fraction = timestamp[20:-1]
    if timestamp[19] != "." or not fraction.isdigit() or not fraction.isascii() or len(fraction) > 9:
        return epoch_us(timestamp)
    return second + int(fraction[:6].ljust(6, "0"))


def format_us(micros: int) -> str:
    """ISO 8601 UTC with 'Z', microseconds only when there are some (the form parsers give ``Event.timestamp``)."""
    moment = _EPOCH + timedelta(microseconds=micros)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(fields: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = fields[name]
        if value is None:
            continue
        if isinstance(value, list):
            if not value:
                continue
            value = value[0]
            if value is None:
                continue
        if isinstance(value, str):
            if value in _EMPTY:
                continue
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return None


def _port(fields: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        value = fields[name]
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.isdigit():
            number = int(value)
        else:
            continue
        if 0 <= number <= _INT32_MAX:
            return number
    return None


_GROUPS = (HOST_NAMES, USER_NAMES, SRC_IP_NAMES, DST_IP_NAMES, SRC_PORT_NAMES, DST_PORT_NAMES, CODE_NAMES,
           ACTION_NAMES, OUTCOME_NAMES)
Plan = tuple[tuple[str, ...], ...]
_plans: dict[tuple[str, ...], Plan] = {}
_MAX_PLANS = 20_000


def _plan(keys: tuple[str, ...]) -> Plan:
    """For each normalized column, the names of its sources that a field dict with these keys holds, in order.

    Events of one kind share their keys, so the plan is found once per kind instead of trying ~60 names per event.
    """
    plan = _plans.get(keys)
    if plan is None:
        present = set(keys)
        plan = tuple(tuple(name for name in names if name in present) for names in _GROUPS)
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        _plans[keys] = plan
    return plan


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dump_json(value: Any) -> str:
    """JSON text of a field dict; never fails: odd values become strings, and what JSON readers reject (lone
    surrogates, integers beyond 64 bits) is written as text (``\\udc80``, ``"1180591620717411303424"``)."""
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, ValueError):
        return orjson.dumps(_sanitize(value), default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _sanitize(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {_sanitize(str(key)): _sanitize(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_sanitize(item) for item in value]
    return _sanitize(_default(value))


_facet_cache: dict[LogSource, tuple[str | None, str | None, str | None]] = {}


def _facets(logsource: LogSource) -> tuple[str | None, str | None, str | None]:
    found = _facet_cache.get(logsource)
    if found is None:
        found = tuple(FACET_SEPARATOR.join(values) or None  # type: ignore[assignment]
                      for values in (logsource.product, logsource.category, logsource.service))
        if len(_facet_cache) < 10_000:  # a handful in practice; bounded all the same
            _facet_cache[logsource] = found  # type: ignore[assignment]
    return found  # type: ignore[return-value]


def event_rows(events: Sequence[StoredEvent]) -> tuple[dict[str, list[Any]], list[int]]:
    """Column lists of the events, and the time (epoch microseconds) each is partitioned by."""
    n = len(events)
    # plain attributes: one C-level pass each (map + attrgetter) beats storing them from the Python loop
    inner: list[Event] = list(map(_EVENT, events))
    seq: list[int] = list(map(_SEQ, events))
    idx: list[int] = list(map(_INDEX, events))
    received: list[int] = [value // 1000 for value in map(_RECEIVED, events)]
    input_: list[str] = list(map(_INPUT, events))
    source: list[str] = list(map(_SOURCE, inner))
    position: list[str] = list(map(_POSITION, inner))
    parser: list[str] = list(map(_PARSER, inner))
    stamp: list[int] = [0] * n
    product: list[str | None] = [None] * n
    category: list[str | None] = [None] * n
    service: list[str | None] = [None] * n
    host: list[str | None] = [None] * n
    user: list[str | None] = [None] * n
    src_ip: list[str | None] = [None] * n
    dst_ip: list[str | None] = [None] * n
    src_port: list[int | None] = [None] * n
    dst_port: list[int | None] = [None] * n
    code: list[str | None] = [None] * n
    action: list[str | None] = [None] * n
    outcome: list[str | None] = [None] * n
    message: list[str | None] = [None] * n
    fields_json: list[bytes] = [b""] * n
    dumps = orjson.dumps
    option = orjson.OPT_NON_STR_KEYS
    text = _text
    port = _port
    fast_time = _fast_epoch_us
    plan_of = _plans.get
    last_logsource: LogSource | None = None
    facets: tuple[str | None, str | None, str | None] = (None, None, None)
    for i, event in enumerate(inner):
        fields = event.fields
        moment = event.timestamp
        micros = fast_time(moment) if moment.__class__ is str else None
        stamp[i] = received[i] if micros is None else micros
        logsource = event.logsource
        if logsource is not last_logsource:
            facets = _facets(logsource)
            last_logsource = logsource
        product[i], category[i], service[i] = facets
        keys = tuple(fields)
        h, u, si, di, sp, dp, c, a, o = plan_of(keys) or _plan(keys)
        # the first source name usually holds a plain string (or int port): test that inline, call out otherwise
        if h:
            v = fields[h[0]]
            host[i] = v if v.__class__ is str and v not in _EMPTY else text(fields, h)
        if u:
            v = fields[u[0]]
            user[i] = v if v.__class__ is str and v not in _EMPTY else text(fields, u)
        if si:
            v = fields[si[0]]
            src_ip[i] = v if v.__class__ is str and v not in _EMPTY else text(fields, si)
        if di:
            v = fields[di[0]]
            dst_ip[i] = v if v.__class__ is str and v not in _EMPTY else text(fields, di)
        if sp:
            v = fields[sp[0]]
            src_port[i] = v if v.__class__ is int and 0 <= v <= _INT32_MAX else port(fields, sp)
        if dp:
            v = fields[dp[0]]
            dst_port[i] = v if v.__class__ is int and 0 <= v <= _INT32_MAX else port(fields, dp)
        if c:
            code[i] = text(fields, c)
        if a:
            v = fields[a[0]]
            action[i] = v if v.__class__ is str and v not in _EMPTY else text(fields, a)
        if o:
            v = fields[o[0]]
            outcome[i] = v if v.__class__ is str and v not in _EMPTY else text(fields, o)
        raw = event.raw
        if isinstance(raw, str):
            message[i] = raw
        try:
            fields_json[i] = dumps(fields, default=_default, option=option)
        except (TypeError, ValueError):
            fields_json[i] = dump_json(fields).encode()
    columns: dict[str, list[Any]] = {
        "event_id": EVENT_ID, "seq": seq, "idx": idx, "timestamp": stamp, "received": received, "input": input_,
        "source": source, "position": position, "parser": parser, "product": product, "category": category,
        "service": service, "host": host, "user": user, "src_ip": src_ip, "dst_ip": dst_ip, "src_port": src_port,
        "dst_port": dst_port, "event_code": code, "action": action, "outcome": outcome, "message": message,
        "fields": fields_json,
    }
    return columns, stamp


def alert_rows(alerts: Sequence[StoredAlert], detected_ns: int) -> tuple[dict[str, list[Any]], list[int]]:
    """Column lists of the alerts (``detected_ns``: when they are stored), and each one's partition time."""
    n = len(alerts)
    columns: dict[str, list[Any]] = {name: [None] * n for name in ALERT_SCHEMA.names}
    stamps: list[int] = [0] * n
    detected = detected_ns // 1000
    for i, stored in enumerate(alerts):
        detection = stored.detection
        rule = detection.rule
        received = stored.received_ns // 1000
        micros = epoch_us(detection.timestamp)
        stamps[i] = received if micros is None else micros
        columns["alert_id"][i] = stored.alert_id
        columns["event_id"][i] = f"{stored.seq}-{stored.index}"
        columns["seq"][i] = stored.seq
        columns["idx"][i] = stored.index
        columns["detected"][i] = detected
        columns["received"][i] = received
        columns["latency_ms"][i] = max(0.0, (detected_ns - stored.received_ns) / 1e6)
        columns["rule_id"][i] = rule.id
        columns["title"][i] = rule.title
        columns["level"][i] = rule.level
        columns["status"][i] = rule.status
        columns["tactics"][i] = list(detection.tactics)
        columns["techniques"][i] = list(detection.techniques)
        columns["computer"][i] = detection.computer
        columns["input"][i] = stored.input
        columns["source"][i] = detection.source
        columns["position"][i] = detection.position
        columns["matched"][i] = dump_json(detection.matched)
    columns["timestamp"] = stamps
    return columns, stamps


EVENT_ID: list[Any] = []
"""Placeholder of the ``event_id`` column: :func:`to_table` joins ``seq`` and ``idx`` in Arrow, not per event."""


def to_table(columns: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
    """One Arrow table; a value Arrow refuses (a lone surrogate in a string) is escaped instead of failing."""
    arrays: list[pa.Array | None] = []
    for column in schema:
        values = columns[column.name]
        if values is EVENT_ID:
            arrays.append(None)
            continue
        try:
            arrays.append(_array(values, column.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError, OverflowError):
            arrays.append(_array([_clean(value) for value in values], column.type))
    if columns.get("event_id") is EVENT_ID:
        names = schema.names
        seq = arrays[names.index("seq")].cast(pa.string())
        idx = arrays[names.index("idx")].cast(pa.string())
        arrays[names.index("event_id")] = pc.binary_join_element_wise(seq, idx, "-")
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(kind):
        return pa.array(values, type=pa.int64()).cast(kind)
    if kind == pa.string() and values and isinstance(values[0], bytes):
        # bytes -> string checks UTF-8 per value in Python; binary then one vectorized cast is ~10x faster
        return pa.array(values, type=pa.binary()).cast(kind)
    return pa.array(values, type=kind)


def _clean(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def split_logsource(product: str | None, category: str | None, service: str | None) -> LogSource:
    def parts(text: str | None) -> tuple[str, ...]:
        return tuple(text.split(FACET_SEPARATOR)) if text else ()
    return LogSource(parts(product), parts(category), parts(service))


READ_COLUMNS = ("timestamp", "source", "position", "parser", "product", "category", "service", "message", "fields")
"""What :func:`events_from_batch` needs to rebuild an Event."""


def events_from_batch(batch: pa.RecordBatch) -> Iterable[Event]:
    """Rebuild the Events of a record batch holding :data:`READ_COLUMNS`.

    The time is the event's own ``@timestamp`` when it has one (exactly what the parser gave), else the stored
    time (which is the received time for an event without one).
    """
    data = batch.to_pydict()
    loads = orjson.loads
    logsources: dict[tuple[str | None, str | None, str | None], LogSource] = {}
    for stamp, source, position, parser, product, category, service, message, fields_text in zip(
            data["timestamp"], data["source"], data["position"], data["parser"], data["product"],
            data["category"], data["service"], data["message"], data["fields"], strict=True):
        fields = loads(fields_text) if fields_text else {}
        key = (product, category, service)
        logsource = logsources.get(key)
        if logsource is None:
            logsource = logsources[key] = split_logsource(product, category, service)
        timestamp = fields.get("@timestamp")
        if not isinstance(timestamp, str):
            timestamp = _format_time(stamp)
        yield Event(fields, logsource, source or "", position or "", timestamp, message, parser or "")


def _format_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    return format_us(int(value))
