"""The incident API: incidents (list, detail with timeline, notes and history; changes and notes), per-rule
statistics, the noisy-rules report and the riskiest entities.

Readers read; changing an incident or adding a note needs the admin role. Every call is written to the audit log
with the token's name, and every change also to the incident's own history with that name as the actor.

- ``GET /api/v1/incidents?status=open&status=in_progress&limit=100&offset=0``
- ``GET /api/v1/incidents/{id}``: ``{"incident", "timeline", "notes", "history"}``
- ``PATCH /api/v1/incidents/{id}`` ``{"status"?, "assignee"?, "verdict"?}`` (admin; ``"assignee": ""``
  unassigns; closing needs a verdict): the incident
- ``POST /api/v1/incidents/{id}/notes`` ``{"text"}`` (admin): the note, 201
- ``GET /api/v1/rules/stats?from=&to=&rule=``, ``GET /api/v1/rules/noisy?from=-30d&to=now&limit=20``
- ``GET /api/v1/risk/entities?at=now&limit=20&kind=``

Times (``from``, ``to``, ``at``) are ISO 8601, ``now`` or relative (``-7d``), as in search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from yamori.api.audit import audited as audited_call
from yamori.api.auth import Principal, require
from yamori.exceptions import QueryError
from yamori.store.query import parse_time
from yamori.triage import incidents, rulestats
from yamori.triage.records import iso
from yamori.triage.risk import RiskEngine


class IncidentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    assignee: str | None = None
    verdict: str | None = None


class NoteText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str




def _time(text: str, what: str) -> str:
    try:
        return iso(parse_time(text))
    except QueryError as error:
        raise HTTPException(400, detail=f"{what}: {error}") from error


def build_incident_router(sessions: Callable[[], Session], risk: RiskEngine | None = None, *,
                          reader: Any = None, admin: Any = None) -> APIRouter:
    """The router; ``sessions`` opens a session on the triage database, ``risk`` is the running engine (its
    window defines an entity's risk; default: the default configuration). ``reader``/``admin`` are the app's
    own ``Depends`` for those roles when it has them, else :func:`require`'s."""
    router = APIRouter()
    engine = risk or RiskEngine()
    read = reader if reader is not None else Depends(require("reader"))
    write = admin if admin is not None else Depends(require("admin"))

    def audited(request: Request, who: Principal, action: Callable[[Session], Any], commit: bool = False,
                detail: str = "") -> Any:
        """Run ``action`` in a session; map refusals to 400/404; write the outcome to the audit log."""
        def run() -> Any:
            with sessions() as session:
                try:
                    result = action(session)
                except incidents.IncidentNotFound as error:
                    raise HTTPException(404, detail=str(error)) from error
                except incidents.IncidentError as error:
                    raise HTTPException(400, detail=str(error)) from error
                if commit:
                    session.commit()
            return result
        return audited_call(request, who, run, detail=detail)

    @router.get("/api/v1/incidents")
    def list_incidents(request: Request, status: Annotated[list[str] | None, Query()] = None,
                       limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                       who: Principal = read) -> dict[str, Any]:
        """Incidents, most recently updated first."""
        def action(session: Session) -> dict[str, Any]:
            found = incidents.list_incidents(session, status=status, limit=limit, offset=offset)
            return {"incidents": [incident.to_dict() for incident in found], "count": len(found)}
        result: dict[str, Any] = audited(request, who, action)
        return result

    @router.get("/api/v1/incidents/{incident_id}")
    def get_incident(request: Request, incident_id: int, who: Principal = read) -> dict[str, Any]:
        """One incident with its timeline (by ATT&CK tactic, then time), notes and history."""
        result: dict[str, Any] = audited(request, who,
                                         lambda session: incidents.get_incident(session, incident_id).to_dict())
        return result

    @router.patch("/api/v1/incidents/{incident_id}")
    def change_incident(request: Request, incident_id: int, change: IncidentChange,
                        who: Principal = write) -> dict[str, Any]:
        """Change status, assignee and/or verdict (admin); recorded in the history with the token's name."""
        asked = change.model_dump(exclude_none=True)
        if not asked:
            audit = request.app.state.yamori.audit
            audit.write(who.name, request, 400, "nothing to change", role=who.role)
            raise HTTPException(400, detail="nothing to change: give status, assignee and/or verdict")
        detail = " ".join(f"{key}={value}" for key, value in sorted(asked.items()))[:200]

        def action(session: Session) -> dict[str, Any]:
            return incidents.update_incident(session, incident_id, who.name, status=change.status,
                                             assignee=change.assignee, verdict=change.verdict).to_dict()
        result: dict[str, Any] = audited(request, who, action, commit=True, detail=detail)
        return result

    @router.post("/api/v1/incidents/{incident_id}/notes", status_code=201)
    def add_note(request: Request, incident_id: int, note: NoteText, who: Principal = write) -> JSONResponse:
        """Add a note (admin), written by the token's name."""
        added = audited(request, who, lambda session: incidents.add_note(session, incident_id, who.name,
                                                                          note.text).to_dict(), commit=True)
        return JSONResponse(added, status_code=201)

    @router.get("/api/v1/rules/stats")
    def rule_stats(request: Request, start: str | None = Query(None, alias="from"),
                   end: str | None = Query(None, alias="to"), rule: Annotated[list[str] | None, Query()] = None,
                   who: Principal = read) -> dict[str, Any]:
        """Per-rule alerts, suppressions, verdicts and precision over ``[from, to)`` (default: all time)."""
        since = _time(start, "from") if start else None
        until = _time(end, "to") if end else None

        def action(session: Session) -> dict[str, Any]:
            rows = rulestats.rule_stats(session, since, until, rule)
            return {"from": since, "to": until, "rules": [row.to_dict() for row in rows]}
        result: dict[str, Any] = audited(request, who, action)
        return result

    @router.get("/api/v1/rules/noisy")
    def noisy_rules(request: Request, start: str = Query("-30d", alias="from"), end: str = Query("now", alias="to"),
                    limit: int = Query(20, ge=1, le=1000), who: Principal = read) -> dict[str, Any]:
        """The rules most likely to be noise over ``[from, to)``, noisiest first."""
        since, until = _time(start, "from"), _time(end, "to")

        def action(session: Session) -> dict[str, Any]:
            rows = rulestats.noisy_rules(session, since, until, limit)
            return {"from": since, "to": until, "rules": [row.to_dict() for row in rows]}
        result: dict[str, Any] = audited(request, who, action)
        return result

    @router.get("/api/v1/risk/entities")
    def risk_entities(request: Request, at: str = "now", limit: int = Query(20, ge=1, le=1000),
                      kind: Literal["user", "host", "ip"] | None = None, who: Principal = read) -> dict[str, Any]:
        """The entities with the most risk within the window ending at ``at``."""
        moment = _time(at, "at")

        def action(session: Session) -> dict[str, Any]:
            rows = engine.top_entities(session, moment, limit, kind=kind)
            return {"at": moment, "window_seconds": engine.window.total_seconds(), "threshold": engine.threshold,
                    "entities": [row.to_dict() for row in rows]}
        result: dict[str, Any] = audited(request, who, action)
        return result

    return router
