"""``/api/v1/exceptions`` and ``/api/v1/suppressions``: global exceptions and suppressions over the API.

- ``GET /api/v1/exceptions[?include_expired=true]`` (reader): the exceptions, each with ``hits``, ``last_hit``
  and ``expired``; ``GET /api/v1/exceptions/{id}`` (reader): one.
- ``POST /api/v1/exceptions`` (admin), JSON body ``{"rules": [...], "match": {...}, "reason": "...",
  "expires": "2026-12-31T00:00:00Z" | "+30d", "owner": "..."}`` (``owner`` defaults to the token's name):
  201 with the stored exception; 400 with the reason for invalid input.
- ``POST /api/v1/exceptions/preview[?from=&to=&limit=]`` (reader: it only reads saved alerts), body
  ``{"rules": [...], "match": {...}}``: what the candidate would have hidden, saving nothing.
- ``DELETE /api/v1/exceptions/{id}`` (admin).
- ``GET /api/v1/suppressions[?include_expired=true]`` (reader), ``POST /api/v1/suppressions`` (admin, body
  ``{"rule": "...", "match": {...}, "until": ... | null, "reason": "...", "owner": "..."}``),
  ``DELETE /api/v1/suppressions/{id}`` (admin).

Every call is written to the audit log with who made it. The role check is the server's own
(``require`` below reads the ``Authenticator`` and the ``AuditLog`` of the app's ``ServerState`` in
``app.state.yamori``), unless the app passes its own ``reader``/``admin`` dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from yamori.api.audit import audited as audited_call
from yamori.api.auth import Principal, require
from yamori.triage.exceptions import (
    NoiseError,
    add_exception,
    add_suppression,
    delete_exception,
    delete_suppression,
    get_exception,
    list_exceptions,
    list_suppressions,
    preview_exception,
    utc_now,
)

EXCEPTION_KEYS = {"rules", "match", "owner", "reason", "expires"}
SUPPRESSION_KEYS = {"rule", "match", "owner", "reason", "until"}
PREVIEW_KEYS = {"rules", "match", "owner", "reason", "expires"}
"""A preview accepts the body of a POST as it would be sent, and ignores owner, reason and expiry."""
JSON_BODY = Body(None)
"""Any JSON body: its shape is checked by the noise functions, which say what is wrong (400), not FastAPI (422)."""




def _body(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise NoiseError("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise NoiseError(f"unknown key(s): {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    return body


def build_noise_router(sessions: Callable[[], Session], *, reader: Any = None, admin: Any = None) -> APIRouter:
    """The router; ``sessions`` opens a session on the triage database. ``reader``/``admin`` are the app's
    role dependencies (``Depends(...)``); without them the router checks roles itself with :func:`require`."""
    reader = reader if reader is not None else Depends(require("reader"))
    admin = admin if admin is not None else Depends(require("admin"))
    router = APIRouter(prefix="/api/v1")

    def audited(request: Request, who: Principal, action: Callable[[Session], Any], status: int = 200) -> Any:
        """Run ``action`` in a session (committed when it succeeds), a refused input as 400; audited."""
        def run() -> Any:
            try:
                with sessions() as session:
                    result = action(session)
                    session.commit()
            except NoiseError as error:
                raise HTTPException(400, detail=str(error)) from error
            return result
        return audited_call(request, who, run, status)

    @router.get("/exceptions")
    def get_exceptions(request: Request, include_expired: bool = False, who: Principal = reader) -> dict[str, Any]:
        """The global exceptions (expired ones too with ``include_expired``)."""
        def action(session: Session) -> dict[str, Any]:
            now = utc_now()
            rows = [row.to_dict(now) for row in list_exceptions(session, include_expired, now)]
            return {"exceptions": rows, "count": len(rows)}
        return dict(audited(request, who, action))

    @router.get("/exceptions/{exception_id}")
    def get_one_exception(request: Request, exception_id: int, who: Principal = reader) -> dict[str, Any]:
        def action(session: Session) -> dict[str, Any]:
            found = get_exception(session, exception_id)
            if found is None:
                raise HTTPException(404, detail=f"no exception {exception_id}")
            return found.to_dict()
        return dict(audited(request, who, action))

    @router.post("/exceptions", status_code=201)
    def post_exception(request: Request, body: Any = JSON_BODY, who: Principal = admin) -> JSONResponse:
        """Create a global exception (admin)."""
        def action(session: Session) -> dict[str, Any]:
            fields = _body(body, EXCEPTION_KEYS)
            fields.setdefault("owner", who.name)
            return add_exception(session, **fields).to_dict()
        return JSONResponse(audited(request, who, action, 201), status_code=201)

    @router.post("/exceptions/preview")
    def post_preview(request: Request, body: Any = JSON_BODY, since: str | None = Query(None, alias="from"),
                     until: str | None = Query(None, alias="to"), limit: int = Query(20, ge=0, le=1000),
                     who: Principal = reader) -> dict[str, Any]:
        """The saved alerts a candidate exception would have hidden; nothing is stored."""
        def action(session: Session) -> dict[str, Any]:
            return preview_exception(session, _body(body, PREVIEW_KEYS), since, until, limit).to_dict()
        return dict(audited(request, who, action))

    @router.delete("/exceptions/{exception_id}")
    def remove_exception(request: Request, exception_id: int, who: Principal = admin) -> dict[str, Any]:
        def action(session: Session) -> dict[str, Any]:
            if not delete_exception(session, exception_id):
                raise HTTPException(404, detail=f"no exception {exception_id}")
            return {"deleted": exception_id}
        return dict(audited(request, who, action))

    @router.get("/suppressions")
    def get_suppressions(request: Request, include_expired: bool = False,
                         who: Principal = reader) -> dict[str, Any]:
        def action(session: Session) -> dict[str, Any]:
            now = utc_now()
            rows = [row.to_dict(now) for row in list_suppressions(session, include_expired, now)]
            return {"suppressions": rows, "count": len(rows)}
        return dict(audited(request, who, action))

    @router.post("/suppressions", status_code=201)
    def post_suppression(request: Request, body: Any = JSON_BODY, who: Principal = admin) -> JSONResponse:
        def action(session: Session) -> dict[str, Any]:
            fields = _body(body, SUPPRESSION_KEYS)
            fields.setdefault("owner", who.name)
            return add_suppression(session, **fields).to_dict()
        return JSONResponse(audited(request, who, action, 201), status_code=201)

    @router.delete("/suppressions/{suppression_id}")
    def remove_suppression(request: Request, suppression_id: int, who: Principal = admin) -> dict[str, Any]:
        def action(session: Session) -> dict[str, Any]:
            if not delete_suppression(session, suppression_id):
                raise HTTPException(404, detail=f"no suppression {suppression_id}")
            return {"deleted": suppression_id}
        return dict(audited(request, who, action))

    return router
