"""``/api/v1/triage/...``: the alerts as the alert manager handled them (context, suppression, risk, incident),
and the manager's counters; readers may read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from yamori.api.audit import audited
from yamori.api.auth import Principal, require
from yamori.exceptions import QueryError
from yamori.store.query import parse_time
from yamori.triage.manager import AlertManager
from yamori.triage.records import iso, query_alerts

RULES = Query(None, description="Only these rule ids (repeat the parameter for several)")


def build_triage_router(manager: AlertManager) -> APIRouter:
    router = APIRouter()
    reader = Depends(require("reader"))
    sessions: Callable[[], Session] = manager.sessions

    @router.get("/api/v1/triage/alerts")
    def triaged_alerts(request: Request, start: str | None = Query(None, alias="from"),
                       end: str | None = Query(None, alias="to"), include_suppressed: bool = False,
                       rule: list[str] | None = RULES, limit: int = Query(100, ge=1, le=10_000),
                       who: Principal = reader) -> dict[str, Any]:
        """Handled alerts by event time, newest last; suppressed ones (duplicates, exceptions) on request."""
        def read() -> dict[str, Any]:
            try:
                since = iso(parse_time(start)) if start else None
                until = iso(parse_time(end)) if end else None
            except QueryError as error:
                raise HTTPException(400, detail=str(error)) from None
            with sessions() as session:
                rows = query_alerts(session, since=since, until=until, rule_ids=rule,
                                    include_suppressed=include_suppressed)
                return {"total": len(rows), "alerts": [row.alert().to_dict() for row in rows[-limit:]]}
        return audited(request, who, read)

    @router.get("/api/v1/triage/status")
    def triage_status(request: Request, who: Principal = reader) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            status = asdict(manager.stats)
            if manager.context is not None:
                status["context_problems"] = list(manager.context.problems)[:50]
            return status
        return audited(request, who, read)

    return router
