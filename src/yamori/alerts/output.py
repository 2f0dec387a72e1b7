"""Writers for detections: JSON lines (one detection per line) and a CSV timeline.

The CSV has Timesketch's required columns (``datetime``, ``timestamp_desc``, ``message``) first, so it imports
into Timesketch as is and into Timeline Explorer like any CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import orjson

from yamori.alerts.detection import Detection

CSV_COLUMNS = ("datetime", "timestamp_desc", "message", "level", "rule_title", "rule_id", "tactics",
               "techniques", "computer", "source", "record_id", "matched")


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def render_jsonl(detection: Detection) -> bytes:
    """One detection as one JSON line."""
    return orjson.dumps(detection.to_dict(), default=_default,
                        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=_default).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _csv_line(row: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue().encode("utf-8")


CSV_HEADER = _csv_line(CSV_COLUMNS)


def render_csv(detection: Detection) -> bytes:
    """One detection as one row of the CSV timeline (``CSV_HEADER`` first)."""
    matched = "; ".join(f"{k}={_short(v)}" for k, v in detection.matched.items())
    rule = detection.rule
    return _csv_line((
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


Renderer = Callable[[Detection], bytes]
FORMATS: dict[str, tuple[bytes, Renderer]] = {"jsonl": (b"", render_jsonl), "csv": (CSV_HEADER, render_csv)}
"""Output format name → (header, renderer)."""
