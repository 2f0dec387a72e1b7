"""Global alert exceptions and suppressions: which alerts are hidden, by whose decision, why, until when, how often.

Both rest on one matching mechanism, :class:`AlertMatch`, used alike by live application
(:class:`yamori.triage.noise.NoiseControl`) and by the impact preview (:func:`preview_exception`), so a preview
lists exactly what the exception would hide.

An ``AlertMatch`` has two parts, both case-insensitive shell globs (``*``, ``?``, ``[abc]``; a backslash is a
literal character, so Windows paths need no escaping):

- ``rules``: rule selectors, any of which selects the alert; empty selects every rule. A selector matches the
  rule id, the rule title or any tag of the alert (``attack.t1059*``); prefix it with ``id:``, ``title:`` or
  ``tag:`` to look at that one only.
- ``match``: attribute -> glob or list of globs. Every attribute must match (any glob of its list, any value of
  a multi-valued field). Attributes: ``user``, ``host``, ``ip``, ``severity``, ``level``, ``input`` and
  ``fields.<name>`` for any event field (a dotted name is looked up as written, then through nested objects).
  An absent attribute matches no glob, not even ``*`` (so ``fields.X: "*"`` means "X is present").

An ``AlertException`` (table ``noise_exceptions``) matches across many rules and has an owner, a reason and an
expiry (UTC, required); a ``Suppression`` (table ``noise_suppressions``) silences one rule selector for an
entity pattern, until a date or for good. Both count their hits. Times are stored in the fixed-width ISO form of
:func:`yamori.triage.records.iso`, so SQL compares them as times; "expired" is judged by the wall clock.
The CRUD functions flush but do not commit: the caller owns the transaction.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import CursorResult, Delete, Integer, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from yamori.exceptions import YamoriError
from yamori.triage.db import Base
from yamori.triage.model import TriageAlert
from yamori.triage.records import AlertRecord, iso, query_alerts

ATTRIBUTES = ("user", "host", "ip", "severity", "level", "input")
"""The alert attributes a match may name, besides ``fields.<name>``."""
FIELD_PREFIX = "fields."
SELECTOR_KINDS = ("id", "title", "tag")
MAX_GLOB_LENGTH = 1000
Clock = Callable[[], datetime]


class NoiseError(YamoriError, ValueError):
    """An exception, suppression or noise configuration is invalid (the message says which part and why)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------------ times

_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)$", re.IGNORECASE)
_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1),
          "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(text: str, where: str) -> timedelta:
    """``30s``, ``10m``, ``1h``, ``7d``, ``2w`` (positive)."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise NoiseError(f"{where}: not a duration: {text!r} (use e.g. 30s, 10m, 1h, 7d, 2w)")
    duration = int(found.group(1)) * _UNITS[found.group(2).lower()]
    if duration <= timedelta(0):
        raise NoiseError(f"{where}: a duration must be positive, not {text!r}")
    return duration


def parse_moment(value: Any, where: str, now: datetime) -> datetime:
    """A UTC time: a ``datetime`` (naive = UTC), ISO 8601 text (naive = UTC), ``now``, or relative to now:
    ``+30d``/``30d`` ahead, ``-7d`` back."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.lower() == "now":
            return now
        sign = -1 if text.startswith("-") else 1
        relative = text.lstrip("+-").strip()
        if _DURATION.match(relative):
            return now + sign * parse_duration(relative, where)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise NoiseError(f"{where}: not a time: {value!r} (use ISO 8601 such as 2026-12-31T00:00:00Z, "
                             "or +30d, -7d, now)") from None
    else:
        raise NoiseError(f"{where}: a time is required (ISO 8601 text or +30d), not {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ------------------------------------------------------------------------------------------------ matching

def check_glob(pattern: Any, where: str) -> str:
    """``pattern`` if it is a usable glob; else a NoiseError saying why."""
    if not isinstance(pattern, str):
        raise NoiseError(f"{where}: a glob must be text, not {type(pattern).__name__} {pattern!r}")
    if not pattern.strip():
        raise NoiseError(f"{where}: empty glob")
    if len(pattern) > MAX_GLOB_LENGTH:
        raise NoiseError(f"{where}: glob longer than {MAX_GLOB_LENGTH} characters")
    # fnmatch reads an unclosed "[" as a literal, which hides a typo: refuse it (a literal "[" is written "[[]")
    index, length = 0, len(pattern)
    while index < length:
        if pattern[index] == "[":
            end = index + 1
            if end < length and pattern[end] == "!":
                end += 1
            if end < length and pattern[end] == "]":
                end += 1
            while end < length and pattern[end] != "]":
                end += 1
            if end >= length:
                raise NoiseError(f"{where}: unclosed '[' in glob {pattern!r} (a literal '[' is written '[[]')")
            index = end
        index += 1
    try:
        compiled(pattern)
    except re.error as error:
        raise NoiseError(f"{where}: bad glob {pattern!r}: {error}") from None
    return pattern


@functools.lru_cache(maxsize=16384)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def _scalars(value: Any) -> Iterator[str]:
    if value is None or isinstance(value, dict):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    else:
        text = str(value)
        if text:
            yield text


def field_value(fields: Mapping[str, Any], name: str) -> Any:
    """An event field by name: the flat key as written (``user.name``), else the path through nested objects."""
    if name in fields:
        return fields[name]
    current: Any = fields
    for part in name.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def attribute_values(alert: TriageAlert, attribute: str) -> list[str]:
    """The text values of ``attribute`` on ``alert`` (none when absent; several for a list field)."""
    if attribute.startswith(FIELD_PREFIX):
        return list(_scalars(field_value(alert.fields, attribute[len(FIELD_PREFIX):])))
    value = getattr(alert, attribute)
    return list(_scalars(value))


def check_attribute(attribute: Any, where: str) -> str:
    if isinstance(attribute, str):
        if attribute in ATTRIBUTES:
            return attribute
        if attribute.startswith(FIELD_PREFIX) and attribute[len(FIELD_PREFIX):].strip():
            return attribute
    raise NoiseError(f"{where}: unknown attribute {attribute!r} (use {', '.join(ATTRIBUTES)} or fields.<name>)")


def rule_selected(selector: str, alert: TriageAlert) -> bool:
    kind, colon, rest = selector.partition(":")
    if colon and kind.lower() in SELECTOR_KINDS:
        pattern = compiled(rest)
        kind = kind.lower()
        if kind == "id":
            return bool(pattern.match(alert.rule_id))
        if kind == "title":
            return bool(pattern.match(alert.title))
        return any(pattern.match(tag) for tag in alert.tags)
    pattern = compiled(selector)
    return bool(pattern.match(alert.rule_id) or pattern.match(alert.title)
                or any(pattern.match(tag) for tag in alert.tags))


@dataclass(frozen=True, slots=True)
class AlertMatch:
    """Which alerts an exception or a suppression hides (see the module docstring). Build it with
    :meth:`parse`, which validates."""

    rules: tuple[str, ...] = ()
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, rules: Any = None, match: Any = None) -> AlertMatch:
        if rules is None:
            rules = []
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, (list, tuple)):
            raise NoiseError(f"rules: a list of rule ids, title globs or tags, not {rules!r}")
        selectors = []
        for index, selector in enumerate(rules):
            check_glob(selector, f"rules[{index}]")
            kind, colon, rest = selector.partition(":")
            if colon and kind.lower() in SELECTOR_KINDS:
                check_glob(rest, f"rules[{index}]")
            selectors.append(selector)
        if match is None:
            match = {}
        if not isinstance(match, Mapping):
            raise NoiseError(f"match: a mapping of attribute to glob or list of globs, not {match!r}")
        pairs = []
        for attribute, globs in match.items():
            name = check_attribute(attribute, f"match.{attribute}")
            listed = [globs] if isinstance(globs, str) else globs
            if not isinstance(listed, (list, tuple)) or not listed:
                raise NoiseError(f"match.{name}: a glob or a non-empty list of globs, not {globs!r}")
            pairs.append((name, tuple(check_glob(glob, f"match.{name}") for glob in listed)))
        return cls(tuple(selectors), tuple(sorted(pairs)))

    def matches(self, alert: TriageAlert) -> bool:
        """True when the alert's rule is selected and every attribute matches."""
        if self.rules and not any(rule_selected(selector, alert) for selector in self.rules):
            return False
        for attribute, globs in self.match:
            values = attribute_values(alert, attribute)
            if not any(compiled(glob).match(value) for glob in globs for value in values):
                return False
        return True

    def match_dict(self) -> dict[str, list[str]]:
        return {attribute: list(globs) for attribute, globs in self.match}


@functools.lru_cache(maxsize=4096)
def _stored_match(rules_json: str, match_json: str) -> AlertMatch:
    return AlertMatch.parse(orjson.loads(rules_json), orjson.loads(match_json))


# ------------------------------------------------------------------------------------------------ tables

class AlertException(Base):
    """One exception across many rules: owner, reason, expiry (UTC) and a match over alert attributes."""

    __tablename__ = "noise_exceptions"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id: old alerts say "exception:<id>"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rules: Mapped[str] = mapped_column(Text)
    """JSON list of rule selectors (empty: every rule)."""
    match: Mapped[str] = mapped_column(Text)
    """JSON object: attribute -> list of globs."""
    owner: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    expires: Mapped[str] = mapped_column(String(40), index=True)
    created: Mapped[str] = mapped_column(String(40))
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit: Mapped[str | None] = mapped_column(String(40), default=None)

    def matcher(self) -> AlertMatch:
        return _stored_match(self.rules, self.match)

    def expired(self, now: datetime) -> bool:
        return self.expires <= iso(now)

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {"id": self.id, "rules": orjson.loads(self.rules), "match": orjson.loads(self.match),
                "owner": self.owner, "reason": self.reason, "expires": self.expires, "created": self.created,
                "hits": self.hits or 0, "last_hit": self.last_hit, "expired": self.expired(now or utc_now())}


class Suppression(Base):
    """One rule selector silenced for an entity pattern, until a date (``until``) or for good (``until`` null)."""

    __tablename__ = "noise_suppressions"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(300))
    """One rule selector: rule id, title glob or tag glob (as in ``AlertMatch.rules``)."""
    match: Mapped[str] = mapped_column(Text)
    until: Mapped[str | None] = mapped_column(String(40), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created: Mapped[str] = mapped_column(String(40))
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit: Mapped[str | None] = mapped_column(String(40), default=None)

    def matcher(self) -> AlertMatch:
        return _stored_match(orjson.dumps([self.rule]).decode(), self.match)

    def expired(self, now: datetime) -> bool:
        return self.until is not None and self.until <= iso(now)

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "match": orjson.loads(self.match), "until": self.until,
                "owner": self.owner, "reason": self.reason, "created": self.created, "hits": self.hits or 0,
                "last_hit": self.last_hit, "expired": self.expired(now or utc_now())}


# ------------------------------------------------------------------------------------------------ CRUD

def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NoiseError(f"{where} is required (non-empty text)")
    if len(value) > limit:
        raise NoiseError(f"{where}: at most {limit} characters")
    return value.strip()


def add_exception(session: Session, *, rules: Any = None, match: Any = None, owner: Any = None,
                  reason: Any = None, expires: Any = None, now: datetime | None = None) -> AlertException:
    """Validate and store a global exception (the caller commits). ``expires`` (required, in the future):
    datetime, ISO 8601 text (naive = UTC) or ``+30d``. An exception that restricts nothing (no rules and no
    match) is refused: it would hide every alert."""
    moment = now or utc_now()
    matcher = AlertMatch.parse(rules, match)
    if not matcher.rules and not matcher.match:
        raise NoiseError("an exception needs rules or match (or both): without either it would hide every alert")
    owner_text = _text(owner, "owner", 200)
    reason_text = _text(reason, "reason", 2000)
    if expires is None:
        raise NoiseError("expires is required (ISO 8601 UTC time or +30d)")
    expiry = parse_moment(expires, "expires", moment)
    if expiry <= moment:
        raise NoiseError(f"expires: {iso(expiry)} is not in the future")
    record = AlertException(rules=orjson.dumps(list(matcher.rules)).decode(),
                            match=orjson.dumps(matcher.match_dict()).decode(), owner=owner_text,
                            reason=reason_text, expires=iso(expiry), created=iso(moment), hits=0)
    session.add(record)
    session.flush()
    return record


def list_exceptions(session: Session, include_expired: bool = False,
                    now: datetime | None = None) -> list[AlertException]:
    """Exceptions by id; expired ones only with ``include_expired`` (``to_dict`` says ``expired``)."""
    statement = select(AlertException).order_by(AlertException.id)
    if not include_expired:
        statement = statement.where(AlertException.expires > iso(now or utc_now()))
    return list(session.scalars(statement))


def get_exception(session: Session, exception_id: int) -> AlertException | None:
    return session.get(AlertException, exception_id)


def deleted_rows(session: Session, table: type[Base], statement: Delete) -> int:
    """Run a DELETE on ``table`` and say how many rows it removed. The session forgets the objects of that
    table it holds, so that none of them stands for a row that is gone."""
    session.flush()
    result = cast(CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False)))
    for instance in [item for item in session.identity_map.values() if isinstance(item, table)]:
        session.expunge(instance)
    return int(result.rowcount or 0)


def delete_exception(session: Session, exception_id: int) -> bool:
    """Remove an exception; False when there is none with that id."""
    return deleted_rows(session, AlertException, delete(AlertException).where(AlertException.id == exception_id)) > 0


def add_suppression(session: Session, *, rule: Any = None, match: Any = None, until: Any = None,
                    owner: Any = None, reason: Any = None, now: datetime | None = None) -> Suppression:
    """Validate and store a suppression of ``rule`` (one selector) for alerts matching ``match``, until
    ``until`` (in the future) or, without it, for good (the caller commits)."""
    moment = now or utc_now()
    if not isinstance(rule, str):
        raise NoiseError("rule is required: a rule id, title glob or tag glob")
    matcher = AlertMatch.parse([rule], match)
    owner_text = _text(owner, "owner", 200)
    reason_text = _text(reason, "reason", 2000)
    end = None
    if until is not None:
        end = parse_moment(until, "until", moment)
        if end <= moment:
            raise NoiseError(f"until: {iso(end)} is not in the future")
    record = Suppression(rule=rule, match=orjson.dumps(matcher.match_dict()).decode(), owner=owner_text,
                         reason=reason_text, until=iso(end) if end else None, created=iso(moment), hits=0)
    session.add(record)
    session.flush()
    return record


def list_suppressions(session: Session, include_expired: bool = False,
                      now: datetime | None = None) -> list[Suppression]:
    statement = select(Suppression).order_by(Suppression.id)
    if not include_expired:
        statement = statement.where((Suppression.until.is_(None)) | (Suppression.until > iso(now or utc_now())))
    return list(session.scalars(statement))


def delete_suppression(session: Session, suppression_id: int) -> bool:
    return deleted_rows(session, Suppression, delete(Suppression).where(Suppression.id == suppression_id)) > 0


def count_hit(session: Session, record: AlertException | Suppression, now: datetime) -> None:
    """One more alert hidden by ``record``: counted in SQL, so concurrent writers do not lose hits."""
    table = type(record)
    session.execute(update(table).where(table.id == record.id)
                    .values(hits=table.hits + 1, last_hit=iso(now)).execution_options(synchronize_session=False))
    session.expire(record, ["hits", "last_hit"])


# ------------------------------------------------------------------------------------------------ preview

@dataclass(slots=True)
class Preview:
    """What a candidate exception would have hidden among the saved alerts of a time range."""

    total: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    """The most recent hidden alerts (``TriageAlert.to_dict``), newest first."""
    already_suppressed: int = 0
    """Of ``total``, alerts that were already hidden by something else when they were handled."""
    scanned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_rule": self.by_rule, "sample": self.sample,
                "already_suppressed": self.already_suppressed, "scanned": self.scanned}


def _saved_alerts(session: Session, since: str | None, until: str | None, page: int) -> Iterator[AlertRecord]:
    """Every saved alert of [since, until) oldest first, ``page`` rows at a time through ``query_alerts``.

    The cursor is an event time; the query orders by (time, alert id), so the rows already yielded at the
    cursor's time are a prefix of the next answer and are skipped by count. A page that does not get past the
    cursor's time (many alerts at one instant) is asked again with a larger limit."""
    cursor, skip, size = since, 0, page
    while True:
        rows = query_alerts(session, since=cursor, until=until, include_suppressed=True, limit=size)
        yield from rows[skip:]
        if len(rows) < size:
            return
        last = rows[-1].timestamp
        if last == cursor:
            skip, size = len(rows), size * 2
            continue
        skip = sum(1 for row in rows if row.timestamp == last)
        cursor, size = last, page + skip


def preview_exception(session: Session, candidate: AlertMatch | Mapping[str, Any], since: Any = None,
                      until: Any = None, limit: int = 20, now: datetime | None = None,
                      page: int = 1000) -> Preview:
    """The saved alerts of [since, until) (event time; ISO, ``-7d`` or datetime; open when None) that
    ``candidate`` would have hidden, suppressed or not when handled: counted per rule, ``limit`` most recent as
    a sample. Uses :meth:`AlertMatch.matches`, the same test as live application."""
    moment = now or utc_now()
    matcher = candidate if isinstance(candidate, AlertMatch) else AlertMatch.parse(candidate.get("rules"),
                                                                                    candidate.get("match"))
    start = iso(parse_moment(since, "since", moment)) if since is not None else None
    end = iso(parse_moment(until, "until", moment)) if until is not None else None
    if limit < 0:
        raise NoiseError("limit must be 0 or more")
    preview = Preview()
    by_rule: Counter[str] = Counter()
    sample: deque[dict[str, Any]] = deque(maxlen=limit)
    for record in _saved_alerts(session, start, end, page):
        preview.scanned += 1
        alert = record.alert()
        if not matcher.matches(alert):
            continue
        preview.total += 1
        by_rule[alert.rule_id] += 1
        if record.suppressed_by is not None:
            preview.already_suppressed += 1
        if limit:
            sample.append(alert.to_dict())
    preview.by_rule = dict(by_rule.most_common())
    preview.sample = list(reversed(sample))
    return preview


Entry = AlertException | Suppression


def first_matching(records: Iterable[Entry], alert: TriageAlert,
                   on_bad: Callable[[Entry, NoiseError], None]) -> Entry | None:
    """The first of ``records`` whose matcher matches; a stored entry that no longer parses is reported to
    ``on_bad`` and skipped, never fatal."""
    for record in records:
        try:
            matcher = record.matcher()
        except NoiseError as error:
            on_bad(record, error)
            continue
        if matcher.matches(alert):
            return record
    return None
