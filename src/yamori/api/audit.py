"""The audit log: who did what through the API, one JSON line per request worth auditing.

Every refused request (missing, wrong or under-privileged token) and every read or administrative call is
written with the token's name (never the token), role, method, path, query, status and client address. Ingest
requests that succeed are counted in the metrics instead: auditing each of thousands per second would drown the
log in what the metrics already say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from fastapi import HTTPException
from starlette.requests import Request

if TYPE_CHECKING:
    from yamori.api.auth import Principal

_T = TypeVar("_T")

_REDACTED_PARAMETERS = frozenset({"token", "password", "secret", "key"})


class AuditLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._stream = path.open("ab")

    def write(self, who: str | None, request: Request, status: int, detail: str = "", role: str | None = None) -> None:
        query = {key: ("<redacted>" if key.lower() in _REDACTED_PARAMETERS else value)
                 for key, value in request.query_params.items()}
        client = request.client
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "who": who,
            "role": role,
            "method": request.method,
            "path": request.url.path,
            "query": query,
            "status": status,
            "client": f"{client.host}:{client.port}" if client else None,
        }
        if detail:
            entry["detail"] = detail
        line = orjson.dumps(entry) + b"\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        with self._lock:
            self._stream.close()


def audited(request: Request, who: Principal, action: Callable[[], _T], status: int = 200, detail: str = "") -> _T:
    """Run a route's ``action`` and write who called it and how it went (its HTTP error, or ``status``) to the
    server's audit log; every audited route goes through here."""
    audit: AuditLog = request.app.state.yamori.audit
    try:
        result = action()
    except HTTPException as error:
        audit.write(who.name, request, error.status_code, str(error.detail)[:200], role=who.role)
        raise
    audit.write(who.name, request, status, detail, role=who.role)
    return result
