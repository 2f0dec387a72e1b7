"""Incidents: related alerts grouped by entity and time, with a timeline in kill-chain order, status, assignee,
verdict, notes and a history of every change.

Grouping (:class:`IncidentManager`): an alert of at least ``min_severity``, or one that made an entity's risk cross
the threshold, joins the open incident (status ``open`` or ``in_progress``) of one of its entities whose last
alert is at most ``group_window`` older than it, trying host, then user, then ip; else it opens a new incident on
the first of its entities in that order. An incident opened by a risk crossing (reason ``risk``) holds every
alert that contributed to the crossing; a crossing that joins an open incident adds them to it. Suppressed alerts
never open or join an incident. An alert with no entity opens an incident of its own (nothing to group on).

Closing requires a verdict: ``true_positive``, ``false_positive`` or ``benign`` (set before or in the same
change). A closed incident is never joined; a later alert about the same entity opens a new one. Reopening keeps
the verdict until someone changes it.

Each incident alert keeps a snapshot of what the timeline shows (time, rule, severity, tags, entities), so the
timeline never depends on other tables. Times: ``opened``/``updated``/``closed`` and note and history times are
wall-clock times; ``first_alert``/``last_alert`` and timeline times are event times (``records.iso`` form).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from yamori import attack
from yamori.alerts.detection import LEVELS
from yamori.exceptions import QueryError, YamoriError
from yamori.store.query import parse_duration
from yamori.triage.db import Base
from yamori.triage.model import TriageAlert
from yamori.triage.records import AlertRecord, iso
from yamori.triage.risk import RiskCrossing, RiskEvent

STATUSES = ("open", "in_progress", "closed")
VERDICTS = ("none", "true_positive", "false_positive", "benign")
OPEN_STATUSES = ("open", "in_progress")
ENTITY_PREFERENCE = ("host", "user", "ip")
SYSTEM_ACTOR = "yamori"
"""The actor of changes the grouping makes (opening, adding alerts, risk crossings)."""
MAX_NOTE_CHARS = 20_000
MAX_NAME_CHARS = 200
DEFAULT_GROUP_WINDOW = timedelta(hours=4)
DEFAULT_MIN_SEVERITY = "medium"
_SEVERITY_RANK = {name: rank for rank, name in enumerate(LEVELS)}
_TACTIC_RANK = {name: attack.TACTIC_ORDER[slug] for slug, name in attack.TACTICS.items()}


class IncidentError(YamoriError):
    """A change to an incident is not allowed (the message says why), or ``[incidents]`` is invalid."""


class IncidentNotFound(IncidentError):
    """No incident has the id asked for."""


def severity_rank(severity: str) -> int:
    """Rank of a level (informational 0 ... critical 4); -1 for anything else."""
    return _SEVERITY_RANK.get(severity.lower(), -1)


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------------- tables

class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20), index=True, default="open")
    assignee: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    verdict: Mapped[str] = mapped_column(String(20), default="none")
    severity: Mapped[str] = mapped_column(String(20))
    """The highest severity of its alerts."""
    reason: Mapped[str] = mapped_column(String(10))
    """``alert`` (opened by an alert of at least ``min_severity``) or ``risk`` (by a risk crossing)."""
    entity_kind: Mapped[str | None] = mapped_column(String(10))
    entity_value: Mapped[str | None] = mapped_column(String(300))
    opened: Mapped[str] = mapped_column(String(40))
    updated: Mapped[str] = mapped_column(String(40))
    closed: Mapped[str | None] = mapped_column(String(40))
    first_alert: Mapped[str] = mapped_column(String(40))
    last_alert: Mapped[str] = mapped_column(String(40))
    """Event time of its newest alert: grouping joins an alert within ``group_window`` of it."""
    alert_count: Mapped[int] = mapped_column(Integer, default=0)

    # never reuse an id: saved alerts and notifications name their incident by it
    __table_args__ = (Index("ix_incident_entity", "entity_kind", "entity_value", "status", "last_alert"),
                      {"sqlite_autoincrement": True})

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status, "assignee": self.assignee,
                "verdict": self.verdict, "severity": self.severity, "reason": self.reason,
                "entity_kind": self.entity_kind, "entity_value": self.entity_value, "opened": self.opened,
                "updated": self.updated, "closed": self.closed, "first_alert": self.first_alert,
                "last_alert": self.last_alert, "alert_count": self.alert_count}


class IncidentAlert(Base):
    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    time: Mapped[str | None] = mapped_column(String(40))
    rule_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(20))
    tags: Mapped[str] = mapped_column(Text, default="[]")
    """The rule's tags as a JSON list (tactics and techniques come from them)."""
    user: Mapped[str | None] = mapped_column(String(300))
    host: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(100))


class IncidentNote(Base):
    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    time: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "author": self.author, "time": self.time, "text": self.text}


class IncidentEvent(Base):
    """One change to an incident: who, when, what (``action``), from what to what."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    time: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    action: Mapped[str] = mapped_column(String(20))
    """``opened``, ``alert`` (an alert joined), ``risk`` (a risk crossing), ``status``, ``assignee``,
    ``verdict`` or ``note``."""
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "actor": self.actor, "action": self.action, "old": self.old_value,
                "new": self.new_value}


# ---------------------------------------------------------------------------------------------------- views

@dataclass(frozen=True, slots=True)
class TimelineEntry:
    time: str | None
    alert_id: str
    rule_id: str
    title: str
    severity: str
    tactic: str | None
    """The alert's earliest tactic in the kill chain (what the timeline is ordered by); None if it has none."""
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    entities: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "alert_id": self.alert_id, "rule_id": self.rule_id, "title": self.title,
                "severity": self.severity, "tactic": self.tactic, "tactics": list(self.tactics),
                "techniques": list(self.techniques), "entities": self.entities}


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    incident: Incident
    timeline: list[TimelineEntry]
    notes: list[IncidentNote]
    history: list[IncidentEvent]

    def to_dict(self) -> dict[str, Any]:
        return {"incident": self.incident.to_dict(), "timeline": [entry.to_dict() for entry in self.timeline],
                "notes": [note.to_dict() for note in self.notes],
                "history": [event.to_dict() for event in self.history]}


# ---------------------------------------------------------------------------------------------------- grouping

@dataclass
class IncidentManager:
    group_window: timedelta = DEFAULT_GROUP_WINDOW
    min_severity: str = DEFAULT_MIN_SEVERITY
    now: Callable[[], datetime] = _now
    """The wall clock of ``opened``/``updated`` and history times (tests pass a fixed one)."""

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None, now: Callable[[], datetime] | None = None
                    ) -> IncidentManager:
        """The manager of an ``[incidents]`` section: ``group_window`` (a duration, default ``4h``) and
        ``min_severity`` (default ``medium``). Raises :class:`IncidentError` naming the bad entry."""
        table = mapping or {}
        if not isinstance(table, Mapping):
            raise IncidentError(f"incidents: expected a table, got {table!r}")
        unknown = sorted(set(table) - {"group_window", "min_severity"})
        if unknown:
            raise IncidentError(f"incidents: unknown key(s): {', '.join(unknown)}")
        window = DEFAULT_GROUP_WINDOW
        if "group_window" in table:
            if not isinstance(table["group_window"], str):
                raise IncidentError(f"incidents.group_window: expected a duration such as \"4h\", "
                                    f"got {table['group_window']!r}")
            try:
                window = parse_duration(table["group_window"])
            except QueryError as error:
                raise IncidentError(f"incidents.group_window: {error}") from None
        min_severity = table.get("min_severity", DEFAULT_MIN_SEVERITY)
        if not isinstance(min_severity, str) or min_severity not in LEVELS:
            raise IncidentError(f"incidents.min_severity: one of {', '.join(LEVELS)}, got {min_severity!r}")
        return cls(group_window=window, min_severity=min_severity, now=now or _now)

    def apply(self, session: Session, alert: TriageAlert, crossings: Sequence[RiskCrossing] = ()
              ) -> Incident | None:
        """Put the alert into an incident when it qualifies (sets ``alert.incident_id``); the caller commits."""
        if alert.suppressed_by is not None:
            return None
        if not crossings and severity_rank(alert.severity or alert.level) < severity_rank(self.min_severity):
            return None
        moment = alert.moment() or self.now()
        wall = iso(self.now())
        incident = self._joinable(session, alert, moment)
        if incident is None:
            incident = self._open(session, alert, crossings, moment, wall)
        _add_alert(session, incident, _snapshot_of(alert), wall)
        for crossing in crossings:
            _record(session, incident.id, wall, SYSTEM_ACTOR, "risk", None, orjson.dumps(crossing.to_dict()).decode())
            for alert_id in crossing.alert_ids:
                if alert_id != alert.alert_id:
                    snapshot = _stored_snapshot(session, alert_id)
                    if snapshot is not None:
                        _add_alert(session, incident, snapshot, wall)
        alert.incident_id = incident.id
        session.flush()
        return incident

    def _joinable(self, session: Session, alert: TriageAlert, moment: datetime) -> Incident | None:
        entities: dict[str, str] = dict(alert.entities())
        since = iso(moment - self.group_window)
        for kind in ENTITY_PREFERENCE:
            value = entities.get(kind)
            if value is None:
                continue
            found = session.scalars(
                select(Incident).where(Incident.entity_kind == kind, Incident.entity_value == value,
                                       Incident.status.in_(OPEN_STATUSES), Incident.last_alert >= since)
                .order_by(Incident.last_alert.desc(), Incident.id.desc()).limit(1)).first()
            if found is not None:
                return found
        return None

    def _open(self, session: Session, alert: TriageAlert, crossings: Sequence[RiskCrossing], moment: datetime,
              wall: str) -> Incident:
        at = iso(moment)
        severity = alert.severity or alert.level
        kind: str | None = None
        value: str | None = None
        if crossings:
            crossing = min(crossings, key=lambda c: _preference(c.entity_kind))
            kind, value = crossing.entity_kind, crossing.entity_value
            title = f"Risk {crossing.total:g} over threshold {crossing.threshold:g} for {kind} {value}"
            reason = "risk"
        else:
            entities = sorted(alert.entities(), key=lambda entity: _preference(entity[0]))
            if entities:
                kind, value = entities[0]
            title = f"{alert.title} ({kind} {value})" if kind else alert.title
            reason = "alert"
        incident = Incident(title=title[:400], status="open", assignee=None, verdict="none", severity=severity,
                            reason=reason, entity_kind=kind, entity_value=value, opened=wall, updated=wall,
                            closed=None, first_alert=at, last_alert=at, alert_count=0)
        session.add(incident)
        session.flush()
        _record(session, incident.id, wall, SYSTEM_ACTOR, "opened", None, reason)
        return incident


def _preference(kind: str) -> int:
    return ENTITY_PREFERENCE.index(kind) if kind in ENTITY_PREFERENCE else len(ENTITY_PREFERENCE)


def _snapshot_of(alert: TriageAlert) -> IncidentAlert:
    moment = alert.moment()
    return IncidentAlert(alert_id=alert.alert_id, time=iso(moment) if moment else None, rule_id=alert.rule_id,
                         title=alert.title[:300], severity=alert.severity or alert.level,
                         tags=orjson.dumps(list(alert.tags)).decode(), user=alert.user, host=alert.host, ip=alert.ip)


def _stored_snapshot(session: Session, alert_id: str) -> IncidentAlert | None:
    """A contributing alert handled earlier: from the saved alerts, else from its risk events (rule and time
    only, if the alert manager did not save it)."""
    record = session.get(AlertRecord, alert_id)
    if record is not None:
        return _snapshot_of(record.alert())
    events = list(session.scalars(select(RiskEvent).where(RiskEvent.alert_id == alert_id)))
    if not events:
        return None
    entities = {event.entity_kind: event.entity_value for event in events}
    return IncidentAlert(alert_id=alert_id, time=events[0].time, rule_id=events[0].rule_id,
                         title=events[0].rule_id, severity="", tags="[]", user=entities.get("user"),
                         host=entities.get("host"), ip=entities.get("ip"))


def _add_alert(session: Session, incident: Incident, snapshot: IncidentAlert, wall: str) -> None:
    if session.get(IncidentAlert, (incident.id, snapshot.alert_id)) is not None:
        return
    snapshot.incident_id = incident.id
    session.add(snapshot)
    session.flush()  # two crossings of one alert share contributing alerts: the next get must see this one
    incident.alert_count += 1
    if severity_rank(snapshot.severity) > severity_rank(incident.severity):
        incident.severity = snapshot.severity
    if snapshot.time is not None:
        incident.first_alert = min(incident.first_alert, snapshot.time)
        incident.last_alert = max(incident.last_alert, snapshot.time)
    incident.updated = wall
    _record(session, incident.id, wall, SYSTEM_ACTOR, "alert", None, snapshot.alert_id)


def _record(session: Session, incident_id: int, wall: str, actor: str, action: str, old: str | None,
            new: str | None) -> None:
    session.add(IncidentEvent(incident_id=incident_id, time=wall, actor=actor, action=action, old_value=old,
                              new_value=new))


# ---------------------------------------------------------------------------------------------------- reading

def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    return incident


def timeline(session: Session, incident_id: int) -> list[TimelineEntry]:
    """The incident's alerts by ATT&CK tactic in kill-chain order (each alert at its earliest tactic; alerts
    without a tactic last), then by event time (untimed last), then by alert id."""
    _incident(session, incident_id)
    rows = session.scalars(select(IncidentAlert).where(IncidentAlert.incident_id == incident_id))
    entries = []
    for row in rows:
        tags = tuple(str(tag) for tag in orjson.loads(row.tags))
        tactics = attack.tactics(tags)
        entities = {kind: value for kind, value in (("user", row.user), ("host", row.host), ("ip", row.ip))
                    if value is not None}
        entries.append(TimelineEntry(row.time, row.alert_id, row.rule_id, row.title, row.severity,
                                     tactics[0] if tactics else None, tactics, attack.techniques(tags), entities))
    entries.sort(key=lambda entry: (_TACTIC_RANK[entry.tactic] if entry.tactic else len(_TACTIC_RANK),
                                    entry.time is None, entry.time or "", entry.alert_id))
    return entries


def get_incident(session: Session, incident_id: int) -> IncidentDetail:
    """The incident with its timeline, notes (oldest first) and history (oldest first)."""
    incident = _incident(session, incident_id)
    notes = list(session.scalars(select(IncidentNote).where(IncidentNote.incident_id == incident_id)
                                 .order_by(IncidentNote.id)))
    history = list(session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                                   .order_by(IncidentEvent.id)))
    return IncidentDetail(incident, timeline(session, incident_id), notes, history)


def list_incidents(session: Session, status: str | Iterable[str] | None = None, limit: int = 100,
                   offset: int = 0) -> list[Incident]:
    """Incidents, most recently updated first; ``status`` one status or several."""
    statement = select(Incident)
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        bad = [value for value in wanted if value not in STATUSES]
        if bad:
            raise IncidentError(f"status: one of {', '.join(STATUSES)}, got {', '.join(bad)}")
        statement = statement.where(Incident.status.in_(wanted))
    statement = statement.order_by(Incident.updated.desc(), Incident.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(statement))


# ---------------------------------------------------------------------------------------------------- changing

def _name(value: str, what: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_NAME_CHARS:
        raise IncidentError(f"{what}: 1 to {MAX_NAME_CHARS} characters")
    return text


def update_incident(session: Session, incident_id: int, actor: str, *, status: str | None = None,
                    assignee: str | None = None, verdict: str | None = None, at: datetime | None = None
                    ) -> Incident:
    """Change status, assignee (``""`` unassigns) and/or verdict, recording each change with ``actor``. Closing
    needs a verdict other than ``none``, set before or in this call; the caller commits."""
    actor = _name(actor, "actor")
    incident = _incident(session, incident_id)
    if status is not None and status not in STATUSES:
        raise IncidentError(f"status: one of {', '.join(STATUSES)}, got {status!r}")
    if verdict is not None and verdict not in VERDICTS:
        raise IncidentError(f"verdict: one of {', '.join(VERDICTS)}, got {verdict!r}")
    new_status = status if status is not None else incident.status
    new_verdict = verdict if verdict is not None else incident.verdict
    if new_status == "closed" and new_verdict == "none":
        raise IncidentError("closing an incident requires a verdict: true_positive, false_positive or benign")
    new_assignee = incident.assignee
    if assignee is not None:
        new_assignee = _name(assignee, "assignee") if assignee.strip() else None
    wall = iso(at or _now())
    changed = False
    for action, old, new in (("verdict", incident.verdict, new_verdict), ("assignee", incident.assignee,
                                                                          new_assignee),
                             ("status", incident.status, new_status)):
        if old != new:
            _record(session, incident.id, wall, actor, action, old, new)
            changed = True
    if incident.status != new_status:
        incident.closed = wall if new_status == "closed" else None
    incident.status, incident.verdict, incident.assignee = new_status, new_verdict, new_assignee
    if changed:
        incident.updated = wall
    session.flush()
    return incident


def add_note(session: Session, incident_id: int, author: str, text: str, at: datetime | None = None
             ) -> IncidentNote:
    """Add a note (recorded in the history too); the caller commits."""
    author = _name(author, "author")
    incident = _incident(session, incident_id)
    body = text.strip()
    if not body or len(body) > MAX_NOTE_CHARS:
        raise IncidentError(f"note: 1 to {MAX_NOTE_CHARS} characters")
    wall = iso(at or _now())
    note = IncidentNote(incident_id=incident.id, author=author, time=wall, text=body)
    session.add(note)
    session.flush()
    _record(session, incident.id, wall, author, "note", None, str(note.id))
    incident.updated = wall
    session.flush()
    return note
