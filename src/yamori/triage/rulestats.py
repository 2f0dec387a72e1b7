"""Per-rule statistics from analysts' verdicts, and the noisy-rules report.

For each rule, over the saved alerts (``records.AlertRecord``) whose event time is in ``[since, until)``: how many
alerts it raised, how many were suppressed (exception, suppression or duplicate), how many are in an incident, and
of those how many carry each verdict. An alert in several incidents counts once, with the verdict that says the
most: ``true_positive`` over ``false_positive`` over ``benign`` over none. ``precision`` is
``tp / (tp + fp)``; the noise rate is ``(fp + benign) / (tp + fp + benign)``; both are None until some alert of the
rule has such a verdict.

The noisy-rules report ranks rules by the alerts they raised times their noise rate, so that volume and verdicts
both count. The rate is smoothed as ``(fp + benign + 1) / (decided + 2)`` (Laplace), so a rule with no verdict yet
counts at one half, one false positive out of one does not rank as surely noisy, and a high-volume rule whose
alerts are all true positives falls to the bottom.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from yamori.triage.incidents import Incident, IncidentAlert
from yamori.triage.records import AlertRecord, iso, sortable_time

_VERDICT_WEIGHT = {"none": 0, "benign": 1, "false_positive": 2, "true_positive": 3}


@dataclass(frozen=True, slots=True)
class RuleStats:
    rule_id: str
    title: str
    alerts: int
    suppressed: int
    in_incidents: int
    true_positive: int
    false_positive: int
    benign: int

    @property
    def undecided(self) -> int:
        """Alerts in incidents that have no verdict yet."""
        return self.in_incidents - self.true_positive - self.false_positive - self.benign

    @property
    def decided(self) -> int:
        return self.true_positive + self.false_positive + self.benign

    @property
    def precision(self) -> float | None:
        known = self.true_positive + self.false_positive
        return self.true_positive / known if known else None

    @property
    def noise_rate(self) -> float | None:
        return (self.false_positive + self.benign) / self.decided if self.decided else None

    @property
    def noise_score(self) -> float:
        """Estimated noisy alerts: volume times the smoothed noise rate (see the module docstring)."""
        return self.alerts * (self.false_positive + self.benign + 1) / (self.decided + 2)

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "title": self.title, "alerts": self.alerts, "suppressed": self.suppressed,
                "in_incidents": self.in_incidents, "true_positive": self.true_positive,
                "false_positive": self.false_positive, "benign": self.benign, "undecided": self.undecided,
                "precision": self.precision, "noise_rate": self.noise_rate,
                "noise_score": round(self.noise_score, 3)}


def _bound(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return sortable_time(moment)
    return iso(moment)


def _conditions(since: str | None, until: str | None, rule_ids: Sequence[str] | None) -> list[ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(AlertRecord.timestamp >= since)
    if until is not None:
        conditions.append(AlertRecord.timestamp < until)
    if rule_ids:
        conditions.append(AlertRecord.rule_id.in_(list(rule_ids)))
    return conditions


def rule_stats(session: Session, since: datetime | str | None = None, until: datetime | str | None = None,
               rule_ids: Sequence[str] | None = None) -> list[RuleStats]:
    """Statistics of every rule with saved alerts in ``[since, until)``, most alerts first."""
    start, end = _bound(since), _bound(until)
    conditions = _conditions(start, end, rule_ids)
    volume = session.execute(
        select(AlertRecord.rule_id, func.count(), func.count(AlertRecord.suppressed_by), func.max(AlertRecord.title))
        .where(*conditions).group_by(AlertRecord.rule_id)).all()
    verdicts: dict[str, dict[str, str]] = defaultdict(dict)
    memberships = session.execute(
        select(AlertRecord.rule_id, AlertRecord.alert_id, Incident.verdict)
        .join(IncidentAlert, IncidentAlert.alert_id == AlertRecord.alert_id)
        .join(Incident, Incident.id == IncidentAlert.incident_id).where(*conditions))
    for rule_id, alert_id, verdict in memberships:
        held = verdicts[rule_id].get(alert_id, "none")
        if _VERDICT_WEIGHT.get(verdict, 0) >= _VERDICT_WEIGHT[held]:
            verdicts[rule_id][alert_id] = verdict if verdict in _VERDICT_WEIGHT else "none"
    stats = []
    for rule_id, alerts, suppressed, title in volume:
        counted = list(verdicts[rule_id].values())
        stats.append(RuleStats(rule_id=rule_id, title=title or "", alerts=alerts, suppressed=suppressed,
                               in_incidents=len(counted), true_positive=counted.count("true_positive"),
                               false_positive=counted.count("false_positive"), benign=counted.count("benign")))
    stats.sort(key=lambda rule: (-rule.alerts, rule.rule_id))
    return stats


def noisy_rules(session: Session, since: datetime | str | None, until: datetime | str | None,
                limit: int = 20) -> list[RuleStats]:
    """The rules whose alerts in ``[since, until)`` were most likely noise, noisiest first (see the module
    docstring for the ranking); ties by volume, then rule id."""
    stats = rule_stats(session, since, until)
    stats.sort(key=lambda rule: (-rule.noise_score, -rule.alerts, rule.rule_id))
    return stats[:limit]
