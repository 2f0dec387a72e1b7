"""The FastAPI application of ``yamori serve``.

Ingest: ``POST /api/v1/ingest`` (JSON object, array or NDJSON) and the Splunk HTTP Event Collector endpoints
``/services/collector/event`` (also ``/services/collector`` and ``.../1.0``), ``/services/collector/raw`` and
``/services/collector/health``, answering as Splunk does (``{"text": "Success", "code": 0}``; 401/403 for a
missing or wrong token, 400 for no data, 503 "Server is busy" with Retry-After when the pipeline is behind), so
that Fluent Bit, Vector, the OpenTelemetry Collector and Logstash send unchanged. A 200 means the body is in the
write-ahead log on disk. Gzip bodies are accepted (bounded after decompression).

Read: ``GET /api/v1/search``, ``GET /api/v1/alerts``, ``GET /api/v1/status``, ``GET /metrics``;
``GET /healthz`` is the only endpoint without a token.
"""

from __future__ import annotations

import contextlib
import re
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from yamori import __version__
from yamori.api.audit import AuditLog
from yamori.api.auth import ALLOWED, Authenticator, Principal, offered_token
from yamori.config import Role, ServeConfig
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink, Overloaded
from yamori.ops.metrics import InputMetrics, PipelineCollector


@dataclass(slots=True)
class ServerState:
    config: ServeConfig
    sink: IngestSink
    authenticator: Authenticator
    input_metrics: InputMetrics
    pipeline: PipelineCollector
    audit: AuditLog
    registry: CollectorRegistry
    pipeline_alive: Callable[[], bool] = lambda: True
    pipeline_pid: Callable[[], int | None] = lambda: None
    pipeline_restarts: Callable[[], int] = lambda: 0
    pipeline_pids: Callable[[], list[int | None]] = lambda: []
    inputs: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    routers: list[Any] = field(default_factory=list)
    """More routes (alert handling: incidents, exceptions, triaged alerts), each an APIRouter."""


class BodyBudget:
    """Bytes of request bodies held in memory at once, across all requests: what would go beyond is refused with
    503 and Retry-After, so that many concurrent large requests cannot grow memory without bound. The event loop
    is single-threaded: no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


def _hec_answer(status: int, text: str, code: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"text": text, "code": code}, status_code=status, headers=headers)


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(title="Yamori", version=__version__, docs_url=None, redoc_url=None)
    app.state.yamori = state

    def principal(required: Role, audited: bool = True) -> Callable[[Request], Principal]:
        def check(request: Request) -> Principal:
            token = offered_token(request.headers.get("authorization"))
            found = state.authenticator.identify(token) if token else None
            if found is None or found.role not in ALLOWED[required]:
                hec = request.url.path.startswith("/services/collector")
                # Splunk answers an unknown HEC token with 403; elsewhere an unknown token is unauthenticated
                status = 401 if found is None and not (hec and token) else 403
                state.audit.write(found.name if found else None, request, status,
                                  "missing token" if token is None else "refused", found.role if found else None)
                if hec:
                    raise HTTPException(status, detail={"text": "Token is required" if token is None
                                                        else "Invalid token", "code": 2 if token is None else 4})
                raise HTTPException(status, detail="a valid token is required" if status == 401
                                    else f"role {required} required")
            if audited:
                request.state.principal = found
            return found
        return check

    reader = Depends(principal("reader"))
    ingest = Depends(principal("ingest", audited=False))
    for router in state.routers:
        app.include_router(router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if isinstance(error.detail, dict):  # HEC's own error shape
            return JSONResponse(error.detail, status_code=error.status_code, headers=error.headers)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        alive = state.pipeline_alive()
        return JSONResponse({"status": "ok" if alive else "pipeline down"}, status_code=200 if alive else 503)

    @app.get("/metrics")
    async def metrics(who: Principal = reader) -> Response:
        return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)

    budget = BodyBudget(state.config.api.max_inflight_bytes)

    async def body_of(request: Request, held: list[int]) -> bytes:
        """The request body, bounded per request (413) and, across requests, by the in-memory budget (503);
        ``held`` counts what this request holds, for :func:`held_body` to give back."""
        limit = state.config.api.max_body_bytes
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, detail={"text": "Content too large", "code": 6})
            hold(held, len(chunk))
            chunks.append(chunk)
        body = b"".join(chunks)
        if request.headers.get("content-encoding", "").lower() == "gzip":
            decompressor = zlib.decompressobj(wbits=31)
            try:
                body = decompressor.decompress(body, limit + 1)
            except zlib.error as error:
                raise HTTPException(400, detail={"text": f"Invalid gzip data: {error}", "code": 6}) from error
            if len(body) > limit or decompressor.unconsumed_tail:
                raise HTTPException(413, detail={"text": "Content too large", "code": 6})
            hold(held, len(body))
        return body

    @contextlib.asynccontextmanager
    async def held_body(request: Request) -> AsyncIterator[bytes]:
        """The request body, given back to the budget once the request is done with it."""
        held = [0]
        try:
            yield await body_of(request, held)
        finally:
            budget.give(held[0])

    def hold(held: list[int], size: int) -> None:
        if not budget.take(size):
            state.input_metrics.pushback.labels("http").inc()
            raise HTTPException(503, detail={"text": "Server is busy", "code": 9},
                                headers={"Retry-After": str(max(1, round(state.sink.limits.retry_after)))})
        held[0] += size

    async def accept(records: list[IngestRecord], input_name: str, busy_status: int) -> int:
        try:
            return await state.sink.submit(records)
        except Overloaded as error:
            raise HTTPException(busy_status, detail={"text": "Server is busy", "code": 9},
                                headers={"Retry-After": str(max(1, round(error.retry_after)))}) from error

    def hec_meta(request: Request) -> dict[str, Any]:
        return {key: value for key in ("host", "source", "sourcetype", "index")
                if (value := request.query_params.get(key))}

    async def hec(request: Request, kind: RecordKind) -> JSONResponse:
        async with held_body(request) as body:
            if not body.strip():
                return _hec_answer(400, "No data", 5)
            if kind is RecordKind.HEC_EVENT and body.lstrip()[:1] != b"{":
                return _hec_answer(400, "Invalid data format", 6)
            input_name = state.config.api.hec_input
            record = IngestRecord(input_name, kind, body, time.time_ns(), _client(request), hec_meta(request))
            await accept([record], input_name, 503)
        return _hec_answer(200, "Success", 0)

    async def hec_event(request: Request, who: Principal = ingest) -> JSONResponse:
        return await hec(request, RecordKind.HEC_EVENT)

    async def hec_raw(request: Request, who: Principal = ingest) -> JSONResponse:
        return await hec(request, RecordKind.HEC_RAW)

    for path in ("/services/collector", "/services/collector/event", "/services/collector/event/1.0"):
        app.post(path)(hec_event)
    for path in ("/services/collector/raw", "/services/collector/raw/1.0"):
        app.post(path)(hec_raw)

    @app.get("/services/collector/health")
    @app.get("/services/collector/health/1.0")
    async def hec_health(who: Principal = ingest) -> JSONResponse:
        if state.sink.overloaded():
            return _hec_answer(503, "HEC is unhealthy, queues are full", 9)
        return _hec_answer(200, "HEC is healthy", 17)

    reserved = {state.config.api.hec_input, *(str(table.get("name", "")) for table in
                                              (*state.config.syslog, *state.config.tail, *state.config.watch))}

    @app.post("/api/v1/ingest")
    async def ingest_json(request: Request, input: str = "http", who: Principal = ingest) -> JSONResponse:
        if not _INPUT_NAME.fullmatch(input) or input in reserved:
            raise HTTPException(400, detail="input: letters, digits, '.', '_' or '-' (at most 64), and not the "
                                           "name of a configured input")
        async with held_body(request) as body:
            if not body.strip():
                raise HTTPException(400, detail="empty body")
            record = IngestRecord(input, RecordKind.JSON, body, time.time_ns(), _client(request), {})
            seq = await accept([record], input, 429)
        return JSONResponse({"accepted": True, "seq": seq})

    @app.get("/api/v1/status")
    async def status(request: Request, who: Principal = reader) -> JSONResponse:
        state.audit.write(who.name, request, 200, role=who.role)
        return JSONResponse(status_document(state))

    from yamori.api.search_routes import add_search_routes

    add_search_routes(app, state, reader, Depends(principal("admin")))
    return app


def status_document(state: ServerState) -> dict[str, Any]:
    stats = state.pipeline.stats
    sink = state.sink
    return {
        "version": __version__,
        "uptime_seconds": round(time.time() - state.started, 1),
        "pipeline_alive": state.pipeline_alive(),
        "pipeline_pid": state.pipeline_pid(),
        "pipeline_restarts": state.pipeline_restarts(),
        "pipeline_pids": state.pipeline_pids(),
        "inputs": state.inputs,
        "log": {"last_seq": sink.wal.last_seq, "committed_seq": sink.committed_seq,
                "backlog_records": sink.backlog_records(), "backlog_bytes": sink.backlog_bytes(),
                "overloaded": sink.overloaded()},
        "events_in": stats.events_in,
        "parse_errors": stats.parse_errors,
        "filtered": stats.filtered,
        "sampled_out": stats.sampled_out,
        "stored_events": stats.stored,
        "alerts": stats.alerts,
        "events_per_second": round(stats.events_per_second, 1),
        "store_bytes": stats.store_bytes,
        "data_dir": str(state.config.data_dir),
    }


_INPUT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _client(request: Request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else ""
