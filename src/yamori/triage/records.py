"""Triaged alerts as rows: every alert the alert manager handled, with its outcome, for queries and previews.

Rows keep the alert's entities and outcome in columns (filters and statistics run in SQL) and the whole
TriageAlert as JSON (``document``), so that a preview or a report can re-run any stage on past alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import Float, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from yamori.parsers.timestamps import parse_iso
from yamori.triage.db import Base
from yamori.triage.model import TriageAlert


class AlertRecord(Base):
    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    timestamp: Mapped[str | None] = mapped_column(String(40), index=True)
    received_ns: Mapped[int] = mapped_column(Integer, default=0)
    user: Mapped[str | None] = mapped_column(String(300), index=True)
    host: Mapped[str | None] = mapped_column(String(300), index=True)
    ip: Mapped[str | None] = mapped_column(String(100), index=True)
    suppressed_by: Mapped[str | None] = mapped_column(String(200))
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    document: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_alerts_rule_time", "rule_id", "timestamp"),)

    def alert(self) -> TriageAlert:
        """The TriageAlert this row was saved from."""
        data = orjson.loads(self.document)
        return TriageAlert(
            alert_id=data["alert_id"], rule_id=data["rule_id"], title=data["title"], level=data["level"],
            timestamp=data["timestamp"], received_ns=data["received_ns"], tags=tuple(data["tags"]),
            event_ids=tuple(data["event_ids"]), fields=data["fields"], user=data["user"], host=data["host"],
            ip=data["ip"], correlation=data["correlation"], input=data["input"], severity=data["severity"],
            severity_reasons=list(data["severity_reasons"]), context=data["context"],
            suppressed_by=data["suppressed_by"], risk=data["risk"], incident_id=data["incident_id"])


def save_alerts(session: Session, alerts: Iterable[TriageAlert], new: bool = False) -> None:
    """Insert or update the rows of ``alerts`` (the caller commits); ``new``: the caller knows none is saved
    yet (an insert, without looking first)."""
    store = session.add if new else session.merge
    for alert in alerts:
        store(AlertRecord(
            alert_id=alert.alert_id, rule_id=alert.rule_id, title=alert.title, level=alert.level,
            severity=alert.severity, timestamp=sortable_time(alert.timestamp), received_ns=alert.received_ns,
            user=alert.user, host=alert.host, ip=alert.ip, suppressed_by=alert.suppressed_by, risk=alert.risk,
            incident_id=alert.incident_id,
            document=orjson.dumps(alert.to_dict(), default=str).decode()))


def iso(moment: datetime) -> str:
    """The ISO 8601 UTC form alerts carry (``2026-11-28T08:00:00.000000Z``), which sorts as time does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sortable_time(timestamp: str | None) -> str | None:
    """An event time in the fixed-width form of ``iso`` (event times drop zero microseconds, which would sort
    ``08:00:00.5Z`` before ``08:00:00Z``); unreadable times are kept as they are."""
    if timestamp is None:
        return None
    moment = parse_iso(timestamp)
    return iso(moment.astimezone(UTC)) if moment is not None else timestamp


def query_alerts(session: Session, *, since: str | None = None, until: str | None = None,
                 rule_ids: Sequence[str] | None = None, include_suppressed: bool = True,
                 limit: int | None = None) -> list[AlertRecord]:
    """Saved alerts by event time (``since`` inclusive, ``until`` exclusive, in ``iso`` form), oldest first."""
    statement = select(AlertRecord)
    if since is not None:
        statement = statement.where(AlertRecord.timestamp >= since)
    if until is not None:
        statement = statement.where(AlertRecord.timestamp < until)
    if rule_ids:
        statement = statement.where(AlertRecord.rule_id.in_(list(rule_ids)))
    if not include_suppressed:
        statement = statement.where(AlertRecord.suppressed_by.is_(None))
    statement = statement.order_by(AlertRecord.timestamp, AlertRecord.alert_id)
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement))
