"""The normalized schema holds across every parser: checked on every event of every fixture.

ECS types and allowed values (https://www.elastic.co/guide/en/ecs/current/): ``@timestamp`` in UTC, ports and
status codes as integers, addresses that are addresses, ``event.category``/``event.type`` lists of ECS allowed
values, ``event.outcome`` one of three words; every event names its module and dataset.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from pathlib import Path

import pytest

from yamori.events import Event
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures"
UTC_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
CATEGORIES = {"api", "authentication", "configuration", "database", "driver", "email", "file", "host", "iam",
              "intrusion_detection", "library", "malware", "network", "package", "process", "registry",
              "session", "threat", "vulnerability", "web"}
TYPES = {"access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied", "device", "end",
         "error", "group", "indicator", "info", "installation", "protocol", "start", "user"}
OUTCOMES = {"success", "failure", "unknown"}
KINDS = {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
INTEGER_FIELDS = ("source.port", "destination.port", "http.response.status_code", "process.pid")
ADDRESS_FIELDS = ("source.ip", "destination.ip", "host.ip")


@cache
def _events() -> list[Event]:
    events: list[Event] = []
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        events.extend(item for item in read_file(path) if isinstance(item, Event))
    return events


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def test_there_are_fixture_events_of_every_family() -> None:
    assert len(_events()) > 500


@pytest.mark.parametrize("check", ["timestamp", "module", "categories", "outcome", "integers", "addresses"])
def test_ecs_fields_have_ecs_types_and_values(check: str) -> None:
    problems: list[str] = []
    for event in _events():
        fields = event.fields
        where = f"{event.source}@{event.position} ({event.parser})"
        if check == "timestamp" and event.timestamp is not None:
            if not UTC_ISO.match(event.timestamp) or fields.get("@timestamp") != event.timestamp:
                problems.append(f"{where}: timestamp {event.timestamp!r}, @timestamp {fields.get('@timestamp')!r}")
        elif check == "module":
            if not fields.get("event.module") or not fields.get("event.dataset") or not event.parser:
                problems.append(f"{where}: no event.module/event.dataset/parser")
        elif check == "categories":
            for value in _as_list(fields.get("event.category", [])):
                if value not in CATEGORIES:
                    problems.append(f"{where}: event.category {value!r}")
            for value in _as_list(fields.get("event.type", [])):
                if value not in TYPES:
                    problems.append(f"{where}: event.type {value!r}")
            if "event.kind" in fields and fields["event.kind"] not in KINDS:
                problems.append(f"{where}: event.kind {fields['event.kind']!r}")
        elif check == "outcome":
            if "event.outcome" in fields and fields["event.outcome"] not in OUTCOMES:
                problems.append(f"{where}: event.outcome {fields['event.outcome']!r}")
        elif check == "integers":
            for name in INTEGER_FIELDS:
                if name in fields and not isinstance(fields[name], int):
                    problems.append(f"{where}: {name} {fields[name]!r} is not an integer")
        elif check == "addresses":
            for name in ADDRESS_FIELDS:
                for value in _as_list(fields.get(name, [])):
                    try:
                        ipaddress.ip_address(str(value))
                    except ValueError:
                        problems.append(f"{where}: {name} {value!r} is not an address")
    assert not problems, "\n".join(problems[:30])
