"""What the pipeline hands the store: events and alerts tagged with their write-ahead-log position."""

from __future__ import annotations

from dataclasses import dataclass

from yamori.alerts.detection import Detection
from yamori.events import Event


@dataclass(slots=True)
class StoredEvent:
    seq: int
    """The write-ahead-log sequence number of the record the event came from."""
    index: int
    """The event's place among the events of that record (a HEC batch holds many)."""
    input: str
    received_ns: int
    event: Event

    @property
    def event_id(self) -> str:
        return f"{self.seq}-{self.index}"


@dataclass(slots=True)
class StoredAlert:
    seq: int
    index: int
    """With ``seq``, the event the alert references (``event_id``)."""
    input: str
    received_ns: int
    detection: Detection

    @property
    def event_id(self) -> str:
        return f"{self.seq}-{self.index}"

    @property
    def alert_id(self) -> str:
        """``seq-index-rule``; a correlation alert (source ``correlation``) has its own id (``position``): several
        can rest on one record."""
        detection = self.detection
        if detection.source == "correlation":
            return detection.position
        return f"{self.seq}-{self.index}-{detection.rule.id}"
