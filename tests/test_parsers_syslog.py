"""Syslog envelopes (RFC 5424, RFC 3164, rsyslog RFC 3339) and timestamps, through the registry's readers."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from yamori.events import BadRecord, Event
from yamori.parsers.base import Envelope, ParseContext
from yamori.parsers.syslog import SyslogParser, parse_envelope
from yamori.parsers.timestamps import from_epoch, parse_iso, parse_month_day, utc_iso
from yamori.sources.content import read_bytes

REFERENCE = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _envelope(line: str) -> tuple[Envelope, str]:
    split = parse_envelope(line, REFERENCE)
    assert split is not None, line
    return split


def test_rfc5424_with_structured_data() -> None:
    envelope, message = _envelope(
        '<165>1 2026-11-27T22:14:15.003-05:00 mymachine.example.com evntslog 8710 ID47 '
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][origin ip="192.0.2.1" '
        'note="a \\"quoted\\" ]bracket"] An application event log entry')
    assert envelope.timestamp == "2026-11-28T03:14:15.003000Z"
    assert envelope.original_time == "2026-11-27T22:14:15.003-05:00"
    assert (envelope.host, envelope.program, envelope.pid, envelope.msgid) == (
        "mymachine.example.com", "evntslog", "8710", "ID47")
    assert (envelope.facility, envelope.severity) == (20, 5)
    assert envelope.structured_data["exampleSDID@32473"] == {"iut": "3", "eventSource": "Application",
                                                             "eventID": "1011"}
    assert envelope.structured_data["origin"]["note"] == 'a "quoted" ]bracket'
    assert message == "An application event log entry"


def test_rfc5424_nil_values() -> None:
    envelope, message = _envelope("<34>1 - - - - - -")
    assert envelope.timestamp is None and envelope.host is None and envelope.program is None
    assert message == ""


def test_rfc3164_forms() -> None:
    envelope, message = _envelope("<38>Nov  3 22:14:15 web01 sshd[4242]: Accepted publickey for bob")
    assert envelope.timestamp == "2026-11-03T22:14:15Z"
    assert (envelope.host, envelope.program, envelope.pid, envelope.facility) == ("web01", "sshd", "4242", 4)
    assert message == "Accepted publickey for bob"
    envelope, message = _envelope("Feb 11 15:23:17 dropbear[1252]: login attempt")
    assert envelope.host is None and envelope.program == "dropbear" and message == "login attempt"
    envelope, message = _envelope("Nov 28 2025 03:00:01 fw01 : %ASA-6-302013: Built")
    assert envelope.timestamp == "2025-11-28T03:00:01Z" and "%ASA-6-302013" in message
    envelope, message = _envelope("2026-11-28T04:00:00.123456+01:00 host1 CRON[77]: (root) CMD (run-parts)")
    assert envelope.timestamp == "2026-11-28T03:00:00.123456Z" and envelope.program == "CRON"


def test_year_less_time_is_never_more_than_a_day_after_the_reference() -> None:
    # a December line read in early January belongs to the year before
    january = datetime(2027, 1, 2, tzinfo=UTC)
    moment = parse_month_day("Dec", 31, "23:59:59", january)
    assert moment == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_month_day("Jan", 2, "10:00:00", january) == datetime(2027, 1, 2, 10, 0, tzinfo=UTC)
    # 29 February: neither the reference year nor the one before has it
    assert parse_month_day("Feb", 29, "00:00:00", datetime(2026, 3, 1, tzinfo=UTC)) is None
    assert parse_month_day("Feb", 29, "00:00:00", datetime(2025, 3, 1, tzinfo=UTC)) == datetime(
        2024, 2, 29, tzinfo=UTC)
    assert parse_month_day("Foo", 1, "00:00:00", january) is None
    assert parse_month_day("Jan", 1, "25:00:00", january) is None


def test_timestamp_helpers() -> None:
    assert utc_iso(datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"
    assert from_epoch("1700000000.5") == "2023-11-14T22:13:20.500000Z"
    assert from_epoch(1e20) is None
    moment = parse_iso("2026-11-28 03:00:00,5+0100")
    assert moment is not None and utc_iso(moment) == "2026-11-28T02:00:00.500000Z"
    moment = parse_iso("2026-11-28T03:00:00.123456789Z")
    assert moment is not None and utc_iso(moment) == "2026-11-28T03:00:00.123456Z"
    assert parse_iso("yesterday") is None


def test_unclaimed_lines_are_linux_syslog_events_with_ecs() -> None:
    [event] = read_bytes(b"<13>Nov 28 03:00:00 host1 myapp[12]: something happened\n", "messages")
    assert isinstance(event, Event)
    assert event.logsource.product == ("linux",) and event.logsource.service == ("syslog",)
    assert event.fields["message"] == "something happened"
    assert event.fields["host.hostname"] == "host1"
    assert event.fields["process.name"] == "myapp" and event.fields["process.pid"] == 12
    assert event.fields["log.syslog.severity.code"] == 5
    assert event.position == "1"


def test_a_line_without_header_in_a_syslog_file_is_a_bad_record_and_the_rest_goes_on() -> None:
    data = (b"Nov 28 03:00:00 host1 app: one\n"
            b"Nov 28 03:00:01 host1 app: two\n"
            b"this line has no header at all\n"
            b"Nov 28 03:00:02 host1 app: three\n")
    items = read_bytes(data, "messages")
    bad = [item for item in items if isinstance(item, BadRecord)]
    assert [item.fields["message"] for item in items if isinstance(item, Event)] == ["one", "two", "three"]
    assert len(bad) == 1 and bad[0].position == "3" and bad[0].source == "<messages>"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_syslog_lines_never_raise(line: str) -> None:
    parser = SyslogParser()
    context = ParseContext("fuzz", "fuzz", REFERENCE)
    for item in parser.parse([(1, line), (2, "<13>" + line), (3, "Nov 28 03:00:00 h p: " + line)], context):
        assert isinstance(item, Event | BadRecord) or item.fields is not None
