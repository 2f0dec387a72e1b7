"""A Detection: one rule matching one event, with what an analyst needs to see first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yamori import attack
from yamori.events import Event
from yamori.rules.model import RuleInfo

HOST_FIELDS = ("Computer", "host.name", "host.hostname", "observer.name", "host.ip", "cloud.account.id",
               "cloud.project.id", "container.image.name", "Hostname")
"""Where the machine (or account) an event is about is named, most specific first."""
LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}


def level_rank(level: str) -> int:
    return LEVEL_RANK.get(level, 0)


@dataclass(slots=True)
class Detection:
    rule: RuleInfo
    timestamp: str | None
    computer: str | None
    source: str
    position: str
    matched: dict[str, Any] = field(default_factory=dict)
    event: Any = None

    @classmethod
    def of(cls, rule: RuleInfo, event: Event) -> Detection:
        fields = event.fields
        matched = {name: fields[name] for name in rule.fields if name in fields}
        computer = next((fields[name] for name in HOST_FIELDS if fields.get(name)), None)
        return cls(rule, event.timestamp, str(computer) if computer is not None else None, event.source,
                   event.position, matched, event.raw if event.raw is not None else fields)

    def with_rule_index(self, index: int) -> Detection:
        """A copy whose ``rule`` is the rule's index, to cross a process boundary cheaply."""
        return Detection(index, self.timestamp, self.computer, self.source, self.position,  # type: ignore[arg-type]
                         self.matched, self.event)

    @property
    def tactics(self) -> tuple[str, ...]:
        return attack.tactics(self.rule.tags)

    @property
    def techniques(self) -> tuple[str, ...]:
        return attack.techniques(self.rule.tags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "rule_id": self.rule.id,
            "title": self.rule.title,
            "level": self.rule.level,
            "status": self.rule.status,
            "tactics": self.tactics,
            "techniques": self.techniques,
            "computer": self.computer,
            "source": self.source,
            "record_id": self.position,
            "rule_path": self.rule.path,
            "matched": self.matched,
            "event": self.event,
        }
