"""Timestamps of every format to one form: ISO 8601 in UTC with a ``Z`` (``2026-11-28T03:00:00.250000Z``).

Times written without a zone are taken as UTC (logs that write local time without saying so cannot be placed
better without configuration). Times written without a year (RFC 3164 syslog, ``Nov 28 03:00:00``) get the
year that puts them closest before the reference time (the file's modification time, or now for live input):
the reference year, or the year before when that would put the event more than a day after the reference.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = [
    "MONTHS",
    "from_epoch",
    "parse_iso",
    "parse_month_day",
    "utc_iso",
]

MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_FUTURE_TOLERANCE = timedelta(days=1)
_ISO_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_ISO_ZONE = re.compile(r"([+-]\d{2})(\d{2})$")


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def from_epoch(seconds: float | int | str) -> str | None:
    """Seconds since 1970 (also in a string, also with a fraction) as ISO UTC; None if out of range."""
    try:
        return utc_iso(datetime.fromtimestamp(float(seconds), UTC))
    except (OverflowError, OSError, ValueError):
        return None


def parse_iso(text: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 time (``T`` or space; any fraction length; ``Z``, ``+01:00`` or ``+0100``)."""
    text = text.strip()
    if not text or not text[0].isdigit():
        return None
    try:  # the common forms (``...T05:00:00Z``, ``.123456+01:00``) need none of the repairs below
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    text = text.replace(",", ".", 1) if "," in text[17:21] else text
    text = _ISO_FRACTION.sub(r"\1", text.replace("Z", "+00:00").replace("z", "+00:00"), count=1)
    text = _ISO_ZONE.sub(r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_month_day(month: str, day: int, clock: str, reference: datetime, year: int | None = None,
                    zone: timezone | None = None) -> datetime | None:
    """``Nov``, 28, ``03:00:00[.ffffff]`` to a datetime; the year resolved against ``reference`` when not given.

    None when the parts are not a valid time."""
    number = MONTHS.get(month[:3].lower())
    if number is None:
        return None
    try:
        hour, minute, rest = clock.split(":")
        second, _, fraction = rest.partition(".")
        micro = int((fraction + "000000")[:6]) if fraction else 0
        tz = zone or UTC
        if year is not None:
            return datetime(year, number, day, int(hour), int(minute), int(second), micro, tzinfo=tz)
        ref = reference.astimezone(tz) if reference.tzinfo else reference.replace(tzinfo=tz)
        for candidate_year in (ref.year, ref.year - 1):
            try:
                moment = datetime(candidate_year, number, day, int(hour), int(minute), int(second), micro,
                                  tzinfo=tz)
            except ValueError:  # 29 February of a year that has none: try the year before
                continue
            if moment - ref <= _FUTURE_TOLERANCE:
                return moment
        return None
    except ValueError:
        return None
