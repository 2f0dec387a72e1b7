"""Writers for detections: JSON lines (one detection per line) and a CSV timeline.

The CSV has Timesketch's required columns (``datetime``, ``timestamp_desc``, ``message``) first, so it imports
into Timesketch as is and into Timeline Explorer like any CSV.
"""

from __future__ import annotations

import csv
from typing import IO, Any, Protocol

import orjson

from yamori.alerts.detection import Detection

CSV_COLUMNS = ("datetime", "timestamp_desc", "message", "level", "rule_title", "rule_id", "tactics",
               "techniques", "computer", "source", "record_id", "matched")


class DetectionWriter(Protocol):
    def write(self, detection: Detection) -> None: ...

    def close(self) -> None: ...


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


class JsonLinesWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def write(self, detection: Detection) -> None:
        self.stream.write(orjson.dumps(detection.to_dict(), default=_default,
                                       option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        self.stream.flush()


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=_default).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CsvTimelineWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.writer = csv.writer(stream)
        self.writer.writerow(CSV_COLUMNS)

    def write(self, detection: Detection) -> None:
        matched = "; ".join(f"{k}={_short(v)}" for k, v in detection.matched.items())
        rule = detection.rule
        self.writer.writerow((
            detection.timestamp or "",
            "Event Time",
            f"[{rule.level}] {rule.title}" + (f" | {matched}" if matched else ""),
            rule.level,
            rule.title,
            rule.id,
            ", ".join(detection.tactics),
            ", ".join(detection.techniques),
            detection.computer or "",
            detection.source,
            detection.position,
            matched,
        ))

    def close(self) -> None:
        self.stream.flush()
