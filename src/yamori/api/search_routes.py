"""``GET /api/v1/search`` and ``GET /api/v1/alerts``: the store's search for readers, raw SQL for admins.

Parameters: ``q`` (the query language of :mod:`yamori.store.query`), ``from``/``to`` (ISO 8601 or relative:
``-1h``, ``now``), ``limit``, ``order``; ``count_by=FIELD`` for the most frequent values, ``histogram=1h`` for
counts per time bucket; ``sql`` (admin role only) for one read-only SQL statement over the views ``events`` and
``alerts``. Searches run on worker threads (DuckDB releases the GIL), never on the event loop.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request

from yamori.api.audit import audited
from yamori.api.auth import Principal
from yamori.exceptions import QueryError
from yamori.store import search as store_search


def add_search_routes(app: FastAPI, state: Any, reader: Any, admin: Any) -> None:
    root = state.config.store_dir

    def run(dataset: Literal["events", "alerts"], q: str | None, start: str | None, end: str | None, limit: int,
            order: Literal["asc", "desc"], count_by: str | None, histogram: str | None) -> dict[str, Any]:
        try:
            if count_by:
                rows = store_search.count_by(root, count_by, q, start, end, limit, dataset=dataset)
                return {"count_by": count_by, "rows": rows}
            if histogram:
                rows = store_search.histogram(root, histogram, q, start, end, dataset=dataset)
                return {"histogram": histogram, "rows": rows}
            rows = store_search.search(root, q, start, end, limit, order, dataset=dataset)
            return {"rows": rows, "count": len(rows)}
        except QueryError as error:
            raise HTTPException(400, detail=str(error)) from error

    @app.get("/api/v1/search")
    def search_events(request: Request, q: str | None = None,
                      start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                      limit: int = Query(100, ge=0, le=10_000), order: Literal["asc", "desc"] = "desc",
                      count_by: str | None = None, histogram: str | None = None,
                      who: Principal = reader) -> dict[str, Any]:
        """Search stored events."""
        if request.query_params.get("sql"):
            raise HTTPException(400, detail="raw SQL goes to /api/v1/sql (admin role)")
        return audited(request, who, lambda: run("events", q, start, end, limit, order, count_by, histogram))

    @app.get("/api/v1/alerts")
    def search_alerts(request: Request, q: str | None = None,
                      start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                      limit: int = Query(100, ge=0, le=10_000), order: Literal["asc", "desc"] = "desc",
                      count_by: str | None = None, histogram: str | None = None,
                      who: Principal = reader) -> dict[str, Any]:
        """Search stored alerts (``q`` over alert fields: rule_id, level, title, computer, ...)."""
        return audited(request, who, lambda: run("alerts", q, start, end, limit, order, count_by, histogram))

    @app.get("/api/v1/sql")
    def raw_sql(request: Request, statement: str = Query(..., alias="q"),
                start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                who: Principal = admin) -> dict[str, Any]:
        """One read-only SQL statement over the views ``events`` and ``alerts`` (admin role)."""
        def query() -> dict[str, Any]:
            try:
                rows = store_search.sql(root, statement, start, end)
            except QueryError as error:
                raise HTTPException(400, detail=str(error)) from error
            return {"rows": rows, "count": len(rows)}
        return audited(request, who, query)
