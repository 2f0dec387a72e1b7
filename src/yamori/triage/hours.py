"""Business hours of a site: its time zone, opening hours and working days, and whether a moment falls outside.

``hours = "08:00-18:00"`` opens at 08:00:00 and closes at 18:00:00 local time (18:00 itself is off hours);
``"22:00-06:00"`` spans midnight (the working day is the day the span starts); ``"00:00-24:00"`` is all day.
``days`` is ``"mon-fri"``, ``"sun-thu"``, ``"mon,wed,fri"``, ``"daily"`` or a list of such items. Optional
``holidays`` (local dates, ``YYYY-MM-DD``) are off hours all day. Local time follows the IANA zone (``zoneinfo``),
so daylight-saving changes are respected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yamori.triage.inventory import ContextConfigError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DAY = 86400
SITE_KEYS = {"timezone", "hours", "days", "holidays"}


@dataclass(frozen=True, slots=True)
class BusinessHours:
    name: str
    timezone: str
    zone: ZoneInfo
    start: int
    """Opening, in seconds after local midnight."""
    end: int
    """Closing (exclusive), in seconds after local midnight; up to 86400; below ``start`` when spanning midnight."""
    days: frozenset[int]
    """Working days as ``datetime.weekday()`` numbers (Monday 0)."""
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, name: str, table: Any) -> BusinessHours:
        where = f"context.sites.{name}"
        if not isinstance(table, dict):
            raise ContextConfigError(f"{where} must be a table (timezone, hours, days)")
        unknown = set(table) - SITE_KEYS
        if unknown:
            raise ContextConfigError(f"unknown key(s): {', '.join(f'{where}.{key}' for key in sorted(unknown))}")
        timezone = str(table.get("timezone", "UTC"))
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ContextConfigError(f"{where}.timezone: unknown time zone {timezone!r}") from error
        start, end = parse_hours(str(table.get("hours", "08:00-18:00")), where)
        days = parse_days(table.get("days", "mon-fri"), where)
        listed = table.get("holidays", [])
        if not isinstance(listed, list):
            raise ContextConfigError(f"{where}.holidays must be a list of dates")
        holidays: set[date] = set()
        for value in listed:
            if isinstance(value, date) and not isinstance(value, datetime):
                holidays.add(value)  # TOML dates arrive parsed
                continue
            try:
                holidays.add(date.fromisoformat(str(value)))
            except ValueError as error:
                raise ContextConfigError(f"{where}.holidays: {value!r} is not a date (YYYY-MM-DD)") from error
        return cls(name, timezone, zone, start, end, days, frozenset(holidays))

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def is_open(self, moment: datetime) -> bool:
        """True when ``moment`` (timezone-aware) is within business hours."""
        local = self.local(moment)
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        if self.start < self.end:
            working_day = local.date() if self.start <= seconds < self.end else None
        elif seconds >= self.start:
            working_day = local.date()
        elif seconds < self.end:
            working_day = local.date() - timedelta(days=1)  # the span began yesterday evening
        else:
            working_day = None
        return working_day is not None and working_day.weekday() in self.days and working_day not in self.holidays


DEFAULT_HOURS = BusinessHours("default", "UTC", ZoneInfo("UTC"), 8 * 3600, 18 * 3600, frozenset(range(5)))
"""Without ``[context.sites.default]``: Monday to Friday, 08:00-18:00 UTC."""


def parse_hours(text: str, where: str) -> tuple[int, int]:
    match = _HOURS.fullmatch(text.strip())
    if match is None:
        raise ContextConfigError(f"{where}.hours must look like \"08:00-18:00\", not {text!r}")
    start_hour, start_minute, end_hour, end_minute = (int(group) for group in match.groups())
    start = start_hour * 3600 + start_minute * 60
    end = end_hour * 3600 + end_minute * 60
    if start_minute > 59 or end_minute > 59 or start >= _DAY or end > _DAY or start == end:
        raise ContextConfigError(f"{where}.hours: {text!r} is not a span of the day (00:00 to 24:00)")
    return start, end


def parse_days(value: Any, where: str) -> frozenset[int]:
    items = value if isinstance(value, list) else str(value).split(",")
    days: set[int] = set()
    for item in items:
        word = str(item).strip().lower()
        if word in ("daily", "all", "every day"):
            days.update(range(7))
            continue
        first, _, last = word.partition("-")
        try:
            begin = DAY_NAMES.index(first.strip()[:3])
            finish = DAY_NAMES.index(last.strip()[:3]) if last else begin
        except ValueError as error:
            raise ContextConfigError(f"{where}.days: {item!r} is not a day or a range like mon-fri") from error
        days.update((begin + offset) % 7 for offset in range((finish - begin) % 7 + 1))
    if not days:
        raise ContextConfigError(f"{where}.days names no day")
    return frozenset(days)


def parse_time(timestamp: str | None) -> datetime | None:
    """An alert's ISO 8601 time as an aware datetime (no zone means UTC); None when absent or unreadable."""
    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
