"""The Event: a flat dict of fields plus where it came from, and the BadRecord kept aside when input is broken.

Field names are the ones Sigma rules use (for Windows: EventData leaves at top level, System fields such as
EventID, Channel, Provider_Name, Computer). Values keep their JSON types (str, int, float, bool, None, list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LogSource:
    """The Sigma logsource facets an event belongs to; a rule applies when each facet it names is present here.

    An event may carry several values per facet: Sysmon event 1 is service ``sysmon`` and category
    ``process_creation``; Security event 4688 is service ``security`` and category ``process_creation``.
    """

    product: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # the engine looks its plan up by logsource for every event: hash once, not per lookup
        object.__setattr__(self, "_hash", hash((self.product, self.category, self.service)))

    def __hash__(self) -> int:
        return self._hash

    def covers(self, product: str | None, category: str | None, service: str | None) -> bool:
        """True when a rule with this logsource applies: each facet the rule names is one of the event's."""
        return (
            (product is None or product in self.product)
            and (category is None or category in self.category)
            and (service is None or service in self.service)
        )

    def describe(self) -> str:
        parts = [f"{name}={'|'.join(values)}" for name, values in
                 (("product", self.product), ("category", self.category), ("service", self.service)) if values]
        return ",".join(parts) or "unknown"


UNKNOWN_LOGSOURCE = LogSource()


@dataclass(slots=True)
class Event:
    """One normalized event; ``fields`` is what rules see, ``raw`` is the original record kept for output."""

    fields: dict[str, Any]
    logsource: LogSource = UNKNOWN_LOGSOURCE
    source: str = ""
    position: str = ""
    timestamp: str | None = None
    raw: Any = None
    parser: str = ""
    """The name of the parser that produced it (provenance; ``event.module`` is the ECS module name)."""


@dataclass(slots=True)
class BadRecord:
    """Input that could not be turned into an event: counted, reported with source and position, kept aside."""

    source: str
    position: str
    reason: str
    data: str | None = field(default=None)

    MAX_KEPT = 4096

    @classmethod
    def of(cls, source: str, position: str | int, reason: str, data: bytes | str | None = None) -> BadRecord:
        kept: str | None
        if data is None:
            kept = None
        elif isinstance(data, bytes):
            kept = data[: cls.MAX_KEPT].decode("utf-8", "backslashreplace")
        else:
            kept = data[: cls.MAX_KEPT]
        return cls(source, str(position), reason, kept)
