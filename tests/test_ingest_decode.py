"""Records of every kind become the same events the file readers make; bad input becomes positioned BadRecords."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import orjson

from yamori.events import BadRecord, Event
from yamori.ingest.decode import INPUT_FIELD, RecordDecoder, split_json_objects
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.sources.files import read_file

DEMO = Path(__file__).resolve().parent.parent / "demo" / "events"


def decode(kind: RecordKind, payload: bytes, input_name: str = "in", **meta: object) -> list[Event | BadRecord]:
    record = IngestRecord(input_name, kind, payload, time.time_ns(), "198.51.100.1:514", dict(meta))
    return list(RecordDecoder().events(7, record))


def only_events(items: list[Event | BadRecord]) -> list[Event]:
    assert all(isinstance(item, Event) for item in items), [item for item in items if isinstance(item, BadRecord)]
    return [item for item in items if isinstance(item, Event)]


def test_a_syslog_message_is_read_by_its_message_parser_and_tagged_with_its_input() -> None:
    line = b"<38>Nov 28 02:58:01 web01 sshd[4101]: Failed password for root from 203.0.113.77 port 51022 ssh2\n"
    (event,) = only_events(decode(RecordKind.MESSAGE, line, "syslog-tcp"))
    assert event.parser == "linux_sshd"
    assert event.fields["source.ip"] == "203.0.113.77"
    assert event.fields["event.outcome"] == "failure"
    assert event.fields[INPUT_FIELD] == "syslog-tcp"
    assert event.position == "7"
    assert event.source == "198.51.100.1:514"


def test_a_json_message_goes_to_the_json_record_parsers() -> None:
    record = orjson.loads(DEMO.joinpath("workstation-sysmon.jsonl").read_bytes().splitlines()[0])
    (event,) = only_events(decode(RecordKind.MESSAGE, orjson.dumps(record)))
    assert event.fields["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert "process_creation" in event.logsource.category


def test_a_line_without_syslog_header_is_read_by_the_text_parser_that_sniffs_it() -> None:
    line = DEMO.joinpath("web-access.log").read_bytes().splitlines()[0]
    decoder = RecordDecoder()
    record = IngestRecord("web", RecordKind.MESSAGE, line, time.time_ns(), "host-a")
    (event,) = only_events(list(decoder.events(1, record)))
    assert event.fields.get("http.response.status_code") == 200
    assert "webserver" in event.logsource.category


def test_lines_and_json_bodies_read_like_files() -> None:
    for name in ("linux-auth.log", "dc-security.jsonl", "cloudtrail.json", "suricata-eve.json"):
        path = DEMO / name
        expected = [item for item in read_file(path) if isinstance(item, Event)]
        kind = RecordKind.JSON if name.endswith(".json") or name.endswith(".jsonl") else RecordKind.LINES
        got = only_events(decode(kind, path.read_bytes()))
        assert [event.fields for event in got] == [
            {**event.fields, INPUT_FIELD: "in"} for event in expected], name


def test_hec_envelopes_concatenated_or_per_line_with_their_metadata() -> None:
    windows = orjson.loads(DEMO.joinpath("dc-security.jsonl").read_bytes().splitlines()[0])
    body = (orjson.dumps({"event": windows, "host": "dc01", "sourcetype": "WinEventLog", "time": 1764300000})
            + orjson.dumps({"event": "<38>Nov 28 02:58:01 web01 sshd[4101]: Accepted password for bob from "
                                     "10.0.0.5 port 5 ssh2", "fields": {"site": "paris"}})
            + b"\n" + orjson.dumps({"event": "a plain line without any header", "time": "1764300000.5"}))
    events = only_events(decode(RecordKind.HEC_EVENT, body, "hec"))
    assert len(events) == 3
    assert events[0].fields["splunk.sourcetype"] == "WinEventLog"
    assert events[0].fields.get("EventID") is not None
    assert events[1].parser == "linux_sshd" and events[1].fields["site"] == "paris"
    assert events[2].timestamp == "2025-11-28T03:20:00.500000Z" or events[2].timestamp.startswith("2025-11-28")
    assert [event.position for event in events] == ["7/0", "7/1", "7/2"]


def test_broken_hec_envelopes_are_bad_records_and_the_rest_goes_on() -> None:
    body = b'{"event": "ok one"}{"no_event": 1}\n{"event": broken}\n{"event": "ok two"}'
    items = decode(RecordKind.HEC_EVENT, body)
    good = [item for item in items if isinstance(item, Event)]
    bad = [item for item in items if isinstance(item, BadRecord)]
    assert len(good) == 2
    assert len(bad) == 2
    assert all(item.position.startswith("7/") for item in bad)


def test_hec_raw_lines_take_the_query_metadata() -> None:
    body = DEMO.joinpath("linux-auth.log").read_bytes()
    events = only_events(decode(RecordKind.HEC_RAW, body, "hec", host="web01", sourcetype="linux_secure"))
    assert events and all(event.fields["splunk.sourcetype"] == "linux_secure" for event in events)


def test_a_spooled_file_is_read_whole(tmp_path: Path) -> None:
    spooled = tmp_path / "x.log.gz"
    spooled.write_bytes(gzip.compress(DEMO.joinpath("linux-auth.log").read_bytes()))
    record = IngestRecord("drop", RecordKind.FILE, str(spooled).encode(), time.time_ns(), "/srv/drop/x.log.gz")
    events = only_events(list(RecordDecoder().events(3, record)))
    assert {event.source for event in events} == {"/srv/drop/x.log.gz"}  # where it was dropped, not the spool
    assert len(events) == len([item for item in read_file(DEMO / "linux-auth.log") if isinstance(item, Event)])


def test_garbage_never_raises() -> None:
    for kind in RecordKind:
        for payload in (b"", b"\xff\xfe\x00garbage\n{", b"{" * 1000, b"\x1f\x8b\x08broken gzip"):
            items = decode(kind, payload)
            assert all(isinstance(item, (Event, BadRecord)) for item in items)


def test_split_json_objects_handles_both_layouts() -> None:
    assert list(split_json_objects(b'{"a":1}{"b":2}\n\n{"c":3}')) == [{"a": 1}, {"b": 2}, {"c": 3}]
