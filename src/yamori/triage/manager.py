"""The alert manager: every stored alert through context → noise control → risk → incidents → playbooks.

It runs in the ``yamori serve`` process, on its own thread (its work is I/O: SQLite, HTTP, SMTP, commands), and
reads the triage spool the pipeline writes (``yamori.triage.spool``). An alert id already saved is skipped, so a
batch written twice after a crash is handled once; a spool file is deleted once its alerts are committed.
Notifications are at least once: a crash between a playbook's action and the commit repeats the action.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from yamori.triage import exceptions as _exception_tables  # noqa: F401 - declares its tables before open_database
from yamori.triage.context import ContextEnricher
from yamori.triage.db import open_database
from yamori.triage.incidents import Incident, IncidentManager, get_incident
from yamori.triage.model import TriageAlert
from yamori.triage.noise import NoiseControl
from yamori.triage.playbooks import PlaybookRunner
from yamori.triage.records import AlertRecord, save_alerts
from yamori.triage.risk import RiskEngine
from yamori.triage.spool import read_spool, spooled_files

log = logging.getLogger("yamori.triage")


@dataclass(slots=True)
class ManagerStats:
    handled: int = 0
    skipped: int = 0
    """Alert ids already handled (a batch spooled twice after a crash)."""
    suppressed: int = 0
    incidents_opened: int = 0
    unreadable: int = 0
    actions: int = 0
    failed_actions: int = 0
    errors: list[str] = field(default_factory=list)


class AlertManager:
    def __init__(self, sections: Mapping[str, Any], base_dir: Path, spool_dir: Path, database_url: str) -> None:
        """Build every stage from its configuration section; a mistake raises a YamoriError naming the entry."""
        self.context = ContextEnricher.from_config(sections["context"], base_dir) if "context" in sections \
            else None
        self.noise = NoiseControl.from_config(sections.get("noise"))
        weight = self.context.criticality_weight if self.context is not None else None
        self.risk = RiskEngine.from_config(sections.get("risk"), weight=weight)
        self.incidents = IncidentManager.from_config(sections.get("incidents"))
        playbook_sections = {name: sections[name] for name in ("notify", "playbooks") if name in sections}
        self.playbooks = PlaybookRunner.from_config(playbook_sections, base_dir) if playbook_sections else None
        self.spool_dir = spool_dir
        self.engine, self.sessions = open_database(database_url)
        self.stats = ManagerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return self.sessions

    def start(self, interval: float = 0.5) -> None:
        self._thread = threading.Thread(target=self._run, args=(interval,), name="alert-manager", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.engine.dispose()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.process_pending()
            except Exception as error:  # a bug or a locked database must not end alert handling: retried
                log.exception("alert manager: %s", error)
                self.stats.errors = [*self.stats.errors[-9:], f"{type(error).__name__}: {error}"]
            self._stop.wait(interval)
        self.process_pending()

    def process_pending(self) -> int:
        """Handle every spooled file; returns the number of alerts handled."""
        handled = 0
        for path in spooled_files(self.spool_dir):
            alerts: list[TriageAlert] = []
            for item in read_spool(path):
                if isinstance(item, str):
                    self.stats.unreadable += 1
                    log.error("alert manager: unreadable spooled alert %s", item)
                else:
                    alerts.append(item)
            handled += self.handle(alerts)
            path.unlink(missing_ok=True)
        return handled

    def handle(self, alerts: list[TriageAlert]) -> int:
        """Run the stages on ``alerts`` (one transaction), then their playbooks; returns how many were new."""
        opened: list[int] = []
        updated: list[int] = []
        fresh: list[TriageAlert] = []
        with self.sessions() as session:
            known = set(session.scalars(select(AlertRecord.alert_id).where(
                AlertRecord.alert_id.in_([a.alert_id for a in alerts])))) if alerts else set()
            active = self.noise.active(session)  # exceptions and suppressions: read once per batch
            newest = session.scalar(select(func.max(Incident.id))) or 0  # ids above it are opened by this batch
            for alert in alerts:
                if alert.alert_id in known:
                    self.stats.skipped += 1
                    continue
                known.add(alert.alert_id)
                if self.context is not None:
                    self.context.enrich(alert)
                self.noise.apply(session, alert, active)
                crossings = self.risk.apply(session, alert)
                incident = self.incidents.apply(session, alert, crossings)
                save_alerts(session, [alert], new=True)
                session.flush()
                if incident is not None:
                    target = opened if incident.id > newest else updated
                    if incident.id not in opened and incident.id not in target:
                        target.append(incident.id)
                self.stats.suppressed += alert.suppressed_by is not None
                fresh.append(alert)
            session.commit()
            self.stats.handled += len(fresh)
            self.stats.incidents_opened += len(opened)
            if self.playbooks is not None:
                self._respond(session, fresh, opened, updated)
        return len(fresh)

    def _respond(self, session: Session, alerts: list[TriageAlert], opened: list[int], updated: list[int]) -> None:
        assert self.playbooks is not None
        results = []
        for alert in alerts:
            results += self.playbooks.run_alert(session, alert)
        for change, ids in (("opened", opened), ("updated", updated)):
            for incident_id in ids:
                detail = get_incident(session, incident_id)
                results += self.playbooks.run_incident(session, detail.to_dict(), change)
        session.commit()
        self.stats.actions += len(results)
        self.stats.failed_actions += sum(not result.ok for result in results)
