"""Risk-based alerting: alerts add risk to the entities they are about; a crossing is an entity whose risk within a
sliding window reaches the threshold.

Each alert that is not suppressed adds the same score to each of its entities (user, host, ip): the rule's score
from ``[risk.rules."<rule id>"]``, else the rule's ``risk.score.<n>`` tag, else the score of the alert's severity,
multiplied by the criticality weight of the alert (the context stage's ``weight(alert)``). An entity's risk at a
time ``t`` is the sum of the scores it received from alerts whose event time lies in ``(t - window, t]``: an
alert exactly one window older than ``t`` no longer counts.

A crossing is reported when an alert brings its entity's risk to the threshold or above and the entity is armed.
An entity is armed unless it crossed within the last window and has stayed at or above the threshold since; risk
only rises at alerts, so "stayed above" is "was already at or above the threshold just before this alert". The
state (every score and every crossing) is in the triage database, so a restarted server goes on where it was.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import ColumnElement, CursorResult, Float, Index, Integer, String, Text, and_, delete, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from yamori.alerts.detection import LEVELS
from yamori.exceptions import QueryError, YamoriError
from yamori.store.query import parse_duration
from yamori.triage.db import Base
from yamori.triage.model import TriageAlert
from yamori.triage.records import iso

log = logging.getLogger(__name__)

DEFAULT_SCORES: dict[str, float] = {"informational": 0.0, "low": 5.0, "medium": 15.0, "high": 40.0,
                                    "critical": 70.0}
DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_THRESHOLD = 100.0
SCORE_TAG = "risk.score."
Weight = Callable[[TriageAlert], float]


class RiskConfigError(YamoriError):
    """The ``[risk]`` section of the configuration is invalid (the message names the entry)."""


class RiskEvent(Base):
    """The risk one alert added to one entity."""

    __tablename__ = "risk_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_kind: Mapped[str] = mapped_column(String(10))
    entity_value: Mapped[str] = mapped_column(String(300))
    time: Mapped[str] = mapped_column(String(40))
    """Event time of the alert, in the fixed-width form of ``records.iso`` (string order is time order)."""
    score: Mapped[float] = mapped_column(Float)
    alert_id: Mapped[str] = mapped_column(String(200), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_risk_entity_time", "entity_kind", "entity_value", "time"),
                      Index("ix_risk_time", "time"))


class RiskCrossingRecord(Base):
    """A reported crossing: what re-arming looks at, and the history of crossings."""

    __tablename__ = "risk_crossings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity_kind: Mapped[str] = mapped_column(String(10))
    entity_value: Mapped[str] = mapped_column(String(300))
    time: Mapped[str] = mapped_column(String(40))
    total: Mapped[float] = mapped_column(Float)
    alert_id: Mapped[str] = mapped_column(String(200))
    """The alert that brought the risk over the threshold."""
    alert_ids: Mapped[str] = mapped_column(Text)
    """Every alert in the window, as a JSON list, oldest first."""

    __table_args__ = (Index("ix_risk_crossing_entity_time", "entity_kind", "entity_value", "time"),)


@dataclass(frozen=True, slots=True)
class RiskCrossing:
    """An entity whose risk within ``(window_start, window_end]`` reached the threshold with ``alert_id``."""

    entity_kind: str
    entity_value: str
    total: float
    threshold: float
    alert_id: str
    alert_ids: tuple[str, ...]
    """Every alert that added risk to the entity within the window, oldest first (``alert_id`` included)."""
    window_start: str
    window_end: str

    def to_dict(self) -> dict[str, Any]:
        return {"entity_kind": self.entity_kind, "entity_value": self.entity_value, "total": self.total,
                "threshold": self.threshold, "alert_id": self.alert_id, "alert_ids": list(self.alert_ids),
                "window_start": self.window_start, "window_end": self.window_end}


@dataclass(frozen=True, slots=True)
class EntityRisk:
    """An entity's risk within a window, and the alerts behind it."""

    kind: str
    value: str
    total: float
    alerts: int
    last_seen: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "total": self.total, "alerts": self.alerts,
                "last_seen": self.last_seen}


@dataclass(slots=True)
class RiskCounters:
    """Runtime input the engine could not use as given (reported, never fatal)."""

    untimed: int = 0
    """Alerts with neither a readable event time nor a receive time: they add no risk."""
    bad_weights: int = 0
    """Weights that were negative, infinite or NaN: replaced by 1.0."""
    bad_score_tags: int = 0
    """``risk.score.<n>`` tags whose ``<n>`` is not a non-negative number: ignored."""
    replayed: int = 0
    """Alerts already scored (a replay after a restart): not scored twice."""




def as_moment(at: datetime | str) -> datetime:
    """A time given as a datetime (naive means UTC) or an ISO 8601 string, in UTC."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) else at
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(value: Any, entry: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise RiskConfigError(f"{entry}: expected a non-negative number, got {value!r}")
    return float(value)


def _no_unknown(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise RiskConfigError(f"{prefix}: unknown key(s): {', '.join(unknown)}")


def _table(value: Any, entry: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RiskConfigError(f"{entry}: expected a table, got {value!r}")
    return value


@dataclass
class RiskEngine:
    window: timedelta = DEFAULT_WINDOW
    threshold: float = DEFAULT_THRESHOLD
    level_scores: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SCORES))
    rule_scores: dict[str, float] = field(default_factory=dict)
    weight: Weight = lambda _alert: 1.0
    counters: RiskCounters = field(default_factory=RiskCounters)

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None, weight: Weight | None = None) -> RiskEngine:
        """The engine of a ``[risk]`` section: ``window``, ``threshold``, ``[risk.scores]`` (per severity) and
        ``[risk.rules."<rule id>"] score``. Raises :class:`RiskConfigError` naming the bad entry."""
        table = _table(mapping or {}, "risk")
        _no_unknown(table, {"window", "threshold", "scores", "rules"}, "risk")
        window = DEFAULT_WINDOW
        if "window" in table:
            if not isinstance(table["window"], str):
                raise RiskConfigError(f"risk.window: expected a duration such as \"24h\", got {table['window']!r}")
            try:
                window = parse_duration(table["window"])
            except QueryError as error:
                raise RiskConfigError(f"risk.window: {error}") from None
        threshold = _number(table.get("threshold", DEFAULT_THRESHOLD), "risk.threshold")
        if threshold <= 0:
            raise RiskConfigError("risk.threshold: must be above 0")
        scores = dict(DEFAULT_SCORES)
        scores_table = _table(table.get("scores", {}), "risk.scores")
        _no_unknown(scores_table, set(LEVELS), "risk.scores")
        for level, value in scores_table.items():
            scores[level] = _number(value, f"risk.scores.{level}")
        rule_scores: dict[str, float] = {}
        for rule_id, rule_table in _table(table.get("rules", {}), "risk.rules").items():
            entry = f'risk.rules."{rule_id}"'
            rule_table = _table(rule_table, entry)
            _no_unknown(rule_table, {"score"}, entry)
            if "score" not in rule_table:
                raise RiskConfigError(f"{entry}: score is required")
            rule_scores[str(rule_id)] = _number(rule_table["score"], f"{entry}.score")
        engine = cls(window=window, threshold=threshold, level_scores=scores, rule_scores=rule_scores)
        if weight is not None:
            engine.weight = weight
        return engine

    # ------------------------------------------------------------------------------------------------ scoring

    def base_score(self, alert: TriageAlert) -> float:
        """The rule's configured score, else its ``risk.score.<n>`` tag, else the score of the alert's severity
        (0 for a severity that is not one of the five levels)."""
        configured = self.rule_scores.get(alert.rule_id)
        if configured is not None:
            return configured
        for tag in alert.tags:
            if tag.lower().startswith(SCORE_TAG):
                try:
                    tagged = float(tag[len(SCORE_TAG):])
                except ValueError:
                    tagged = -1.0
                if math.isfinite(tagged) and tagged >= 0:
                    return tagged
                self.counters.bad_score_tags += 1
        return self.level_scores.get((alert.severity or alert.level).lower(), 0.0)

    def score(self, alert: TriageAlert) -> float:
        """What the alert adds to each of its entities: base score times criticality weight."""
        weight = float(self.weight(alert))
        if not math.isfinite(weight) or weight < 0:
            self.counters.bad_weights += 1
            log.warning("risk weight %r for alert %s is not a non-negative number; using 1.0", weight,
                        alert.alert_id)
            weight = 1.0
        return self.base_score(alert) * weight

    # ------------------------------------------------------------------------------------------------ applying

    def apply(self, session: Session, alert: TriageAlert) -> list[RiskCrossing]:
        """Add the alert's risk to its entities (sets ``alert.risk``: the points each entity received) and return
        the crossings it caused. The caller commits. An alert applied twice is scored once."""
        alert.risk = 0.0
        entities = alert.entities()
        if alert.suppressed_by is not None or not entities:
            return []
        moment = alert.moment()
        if moment is None:
            self.counters.untimed += 1
            return []
        points = self.score(alert)
        if points <= 0:
            return []  # nothing to add: no query at all (most informational alerts)
        existing = session.scalar(select(RiskEvent.score).where(RiskEvent.alert_id == alert.alert_id).limit(1))
        if existing is not None:
            self.counters.replayed += 1
            alert.risk = existing
            return []
        alert.risk = points
        at = iso(moment)
        session.add_all(RiskEvent(entity_kind=kind, entity_value=value, time=at, score=points,
                                  alert_id=alert.alert_id, rule_id=alert.rule_id) for kind, value in entities)
        session.flush()
        start = iso(moment - self.window)
        crossings = []
        totals = self._totals(session, entities, start, at)  # one query for every entity of the alert
        for kind, value in entities:
            in_window = (RiskEvent.entity_kind == kind, RiskEvent.entity_value == value, RiskEvent.time > start,
                         RiskEvent.time <= at)
            total = totals.get((kind, value), 0.0)
            if total < self.threshold:
                continue
            before = total - points  # this alert added ``points`` to each of its entities, once
            if before >= self.threshold and self._crossed_since(session, kind, value, start):
                continue  # above since a crossing less than a window ago
            alert_ids = tuple(dict.fromkeys(session.scalars(
                select(RiskEvent.alert_id).where(*in_window).order_by(RiskEvent.time, RiskEvent.id))))
            session.add(RiskCrossingRecord(entity_kind=kind, entity_value=value, time=at, total=total,
                                           alert_id=alert.alert_id, alert_ids=orjson.dumps(alert_ids).decode()))
            crossings.append(RiskCrossing(kind, value, total, self.threshold, alert.alert_id, alert_ids, start, at))
        session.flush()
        return crossings

    @staticmethod
    def _totals(session: Session, entities: Sequence[tuple[str, str]], start: str, at: str
                ) -> dict[tuple[str, str], float]:
        """Each entity's risk in ``(start, at]``."""
        chosen = or_(*(and_(RiskEvent.entity_kind == kind, RiskEvent.entity_value == value)
                       for kind, value in entities))
        rows = session.execute(select(RiskEvent.entity_kind, RiskEvent.entity_value, func.sum(RiskEvent.score))
                               .where(chosen, RiskEvent.time > start, RiskEvent.time <= at)
                               .group_by(RiskEvent.entity_kind, RiskEvent.entity_value))
        return {(kind, value): float(total or 0.0) for kind, value, total in rows}

    @staticmethod
    def _sum(session: Session, *conditions: ColumnElement[bool]) -> float:
        return float(session.scalar(select(func.coalesce(func.sum(RiskEvent.score), 0.0)).where(*conditions))
                     or 0.0)

    @staticmethod
    def _crossed_since(session: Session, kind: str, value: str, start: str) -> bool:
        found = session.scalar(select(RiskCrossingRecord.id).where(
            RiskCrossingRecord.entity_kind == kind, RiskCrossingRecord.entity_value == value,
            RiskCrossingRecord.time > start).limit(1))
        return found is not None

    # ------------------------------------------------------------------------------------------------ reading

    def entity_risk(self, session: Session, kind: str, value: str, at: datetime | str) -> float:
        """The entity's risk at ``at``: the sum of its scores in ``(at - window, at]``."""
        moment = as_moment(at)
        return self._sum(session, RiskEvent.entity_kind == kind, RiskEvent.entity_value == value,
                         RiskEvent.time > iso(moment - self.window), RiskEvent.time <= iso(moment))

    def top_entities(self, session: Session, at: datetime | str, limit: int = 20,
                     kind: str | None = None) -> list[EntityRisk]:
        """The entities with the most risk at ``at`` (within ``(at - window, at]``), most first."""
        moment = as_moment(at)
        total = func.sum(RiskEvent.score)
        statement = (select(RiskEvent.entity_kind, RiskEvent.entity_value, total,
                            func.count(func.distinct(RiskEvent.alert_id)), func.max(RiskEvent.time))
                     .where(RiskEvent.time > iso(moment - self.window), RiskEvent.time <= iso(moment))
                     .group_by(RiskEvent.entity_kind, RiskEvent.entity_value)
                     .order_by(total.desc(), RiskEvent.entity_kind, RiskEvent.entity_value)
                     .limit(limit))
        if kind is not None:
            statement = statement.where(RiskEvent.entity_kind == kind)
        return [EntityRisk(row[0], row[1], float(row[2]), int(row[3]), row[4])
                for row in session.execute(statement)]

    def crossings(self, session: Session, kind: str, value: str) -> list[RiskCrossing]:
        """Every crossing reported for the entity, oldest first."""
        rows = session.scalars(select(RiskCrossingRecord).where(
            RiskCrossingRecord.entity_kind == kind, RiskCrossingRecord.entity_value == value)
            .order_by(RiskCrossingRecord.time, RiskCrossingRecord.id))
        return [RiskCrossing(row.entity_kind, row.entity_value, row.total, self.threshold, row.alert_id,
                             tuple(orjson.loads(row.alert_ids)), iso(as_moment(row.time) - self.window), row.time)
                for row in rows]

    def prune(self, session: Session, before: datetime | str) -> int:
        """Delete risk events and crossings older than ``before`` (keep at least one window before now for the
        risk to stay right); the caller commits. Returns the number of risk events deleted."""
        cutoff = iso(as_moment(before))
        deleted = cast(CursorResult[Any], session.execute(delete(RiskEvent).where(RiskEvent.time < cutoff)))
        session.execute(delete(RiskCrossingRecord).where(RiskCrossingRecord.time < cutoff))
        return deleted.rowcount
