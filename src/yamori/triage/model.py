"""The TriageAlert: one alert as the alert-handling stages see it, with the entities it is about.

A detection (single event) or a correlated alert becomes a TriageAlert; context, noise control, risk and
incident grouping fill in the mutable part (severity, context, suppression, risk, incident).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from yamori import attack
from yamori.parsers.timestamps import parse_iso

EntityKind = Literal["user", "host", "ip"]

USER_FIELDS = ("TargetUserName", "user.name", "SubjectUserName", "User", "UserName", "user", "userIdentity.userName",
               "userIdentity.arn", "client.user.name", "source.user.name", "actor.alternateId", "AccountName")
HOST_FIELDS = ("Computer", "host.name", "host.hostname", "Hostname", "observer.name", "destination.domain",
               "cloud.account.id", "cloud.project.id")
IP_FIELDS = ("IpAddress", "source.ip", "client.ip", "src_ip", "SourceIp", "sourceIPAddress", "callerIpAddress",
             "destination.ip", "DestinationIp")
_EMPTY = {"", "-", "::1", "127.0.0.1", "localhost", None}


def first_value(fields: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The first present, meaningful value among ``names`` (``-`` and loopback are no value)."""
    for name in names:
        value = fields.get(name)
        if value not in _EMPTY and not isinstance(value, (dict, list)):
            text = str(value)
            if text.strip() and text not in _EMPTY:
                return text
    return None


@dataclass(slots=True)
class TriageAlert:
    """One alert on its way through the alert-handling stages.

    ``alert_id`` is stable (the store's alert id, or the correlation alert id); ``event_ids`` lists every event
    the alert rests on (one for a detection, all contributing events for a correlation).
    """

    alert_id: str
    rule_id: str
    title: str
    level: str
    """The rule's level, as written."""
    timestamp: str | None
    """Event time (ISO 8601 UTC, ``Z``) of the event, or of the last contributing event of a correlation."""
    received_ns: int = 0
    tags: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    """The event's fields (a correlation: its group-by values and aggregate)."""
    user: str | None = None
    host: str | None = None
    ip: str | None = None
    correlation: bool = False
    input: str = ""
    # filled in by the stages
    severity: str = ""
    """The level after context adjustments (critical asset, privileged user, off hours); starts as ``level``."""
    severity_reasons: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    suppressed_by: str | None = None
    """Why the alert is hidden: ``exception:<id>``, ``suppression:<id>`` or ``duplicate:<alert id>``."""
    risk: float = 0.0
    incident_id: int | None = None

    def __post_init__(self) -> None:
        if not self.severity:
            self.severity = self.level
        if self.user is None:
            self.user = first_value(self.fields, USER_FIELDS)
        if self.host is None:
            self.host = first_value(self.fields, HOST_FIELDS)
        if self.ip is None:
            self.ip = first_value(self.fields, IP_FIELDS)

    def moment(self) -> datetime | None:
        """The event time in UTC; the receive time when the event time is missing or unreadable; else None."""
        moment = parse_iso(self.timestamp) if self.timestamp else None
        if moment is not None:
            return moment.astimezone(UTC)
        if self.received_ns > 0:
            return datetime.fromtimestamp(self.received_ns / 1e9, UTC)
        return None

    @property
    def tactics(self) -> tuple[str, ...]:
        return attack.tactics(self.tags)

    @property
    def techniques(self) -> tuple[str, ...]:
        return attack.techniques(self.tags)

    def entities(self) -> list[tuple[EntityKind, str]]:
        """The (kind, value) entities the alert is about: user, host, ip, those present."""
        found: list[tuple[EntityKind, str]] = []
        if self.user:
            found.append(("user", self.user))
        if self.host:
            found.append(("host", self.host))
        if self.ip:
            found.append(("ip", self.ip))
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "rule_id": self.rule_id, "title": self.title, "level": self.level,
            "severity": self.severity, "severity_reasons": list(self.severity_reasons),
            "timestamp": self.timestamp, "received_ns": self.received_ns, "tags": list(self.tags),
            "tactics": list(self.tactics), "techniques": list(self.techniques),
            "event_ids": list(self.event_ids), "user": self.user, "host": self.host, "ip": self.ip,
            "correlation": self.correlation, "input": self.input, "context": self.context,
            "suppressed_by": self.suppressed_by, "risk": self.risk, "incident_id": self.incident_id,
            "fields": self.fields,
        }
