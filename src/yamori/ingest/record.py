"""The IngestRecord: what an input appends to the write-ahead log, before any parsing.

Inputs do as little as possible before the record is durable (the sender waits for that); parsing happens in the
pipeline. ``kind`` says how the pipeline reads ``payload``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RecordKind(enum.StrEnum):
    MESSAGE = "message"
    """One syslog message or one text line (UDP datagram, TCP/TLS frame)."""
    LINES = "lines"
    """Newline-separated lines of one text source (a file tail, a raw HTTP body); one parser for all of them."""
    JSON = "json"
    """JSON documents: one object, an array of objects, or objects one per line (NDJSON)."""
    HEC_EVENT = "hec_event"
    """A Splunk HEC ``/services/collector/event`` body: concatenated envelopes ``{"event": ..., "time": ...}``."""
    HEC_RAW = "hec_raw"
    """A Splunk HEC ``/services/collector/raw`` body: lines; ``meta`` holds the query's host/source/sourcetype."""
    FILE = "file"
    """A file spooled under the data folder (a watched folder's EVTX or JSON): ``payload`` is its path, UTF-8."""
    CLOCK = "clock"
    """No events: the server appends one a second while the log is quiet and the pipeline has correlation windows
    only the clock can close, so that the alerts they make are stored with a log position (exactly once)."""


@dataclass(frozen=True, slots=True)
class IngestRecord:
    input: str
    """The configured input it came through (``syslog-tcp``, ``hec``, ``tail-auth``...): every event is tagged."""
    kind: RecordKind
    payload: bytes
    received_ns: int
    """``time.time_ns()`` when the input received it: detection latency is measured from here."""
    source: str = ""
    """The sender's address, or the file it was read from."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Input-specific facts kept with the record (a tail's file identity and end offset, HEC metadata)."""
