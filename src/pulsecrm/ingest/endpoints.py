"""Ingestion routes: POST customers and orders (object, array or NDJSON), status, dead letters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from pulsecrm import openapi
from pulsecrm.bodies import read_body
from pulsecrm.customers.schemas import CustomerIn, IngestAccepted, OrderIn
from pulsecrm.deadletters import endpoints as deadletter_endpoints
from pulsecrm.deadletters.endpoints import Cursor, DeadLetterPage, Limit
from pulsecrm.deps import IngestScope, ReadScope, ServicesDep, SessionDep
from pulsecrm.errors import UnsupportedMediaType
from pulsecrm.ingest import parsing, uploads
from pulsecrm.ingest.writer import Kind

router = APIRouter(prefix="/api/v1", tags=["ingestion"])


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = openapi.ref(model)
    accepted = {"application/json": {"schema": openapi.ref(IngestAccepted)}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [schema, {"type": "array", "items": schema, "maxItems": 10000}]}
                },
                "application/x-ndjson": {"schema": {"type": "string", "description": "one record per line"}},
            },
        },
        "responses": {
            "201": {"description": "Written (embedded mode, no Redis).", "content": accepted},
            "202": {"description": "Queued on the durable stream (Redis mode).", "content": accepted},
            "400": {"description": "The body is not JSON, or an NDJSON line is not."},
            "413": {"description": "More than 10,000 records, or body too large."},
            "415": {"description": "Neither JSON nor NDJSON."},
            "422": {"description": "One or more invalid records; nothing was written."},
        },
    }


async def _ingest(kind: Kind, request: Request, response: Response, services: ServicesDep) -> IngestAccepted:
    body = await read_body(request, services.settings.max_body_bytes)
    records = parsing.parse_records(
        kind,
        body,
        request.headers.get("content-type", ""),
        max_records=services.settings.max_batch_records,
    )
    accepted = await services.ingestor.accept(kind, records)
    response.status_code = 202 if accepted.status == "queued" else 201
    return IngestAccepted(status=accepted.status, count=accepted.count)


@router.post(
    "/customers",
    response_model=IngestAccepted,
    status_code=201,
    summary="Upsert customers (one, an array of up to 10,000, or NDJSON)",
    openapi_extra=_body_doc(CustomerIn),
)
async def post_customers(
    request: Request, response: Response, services: ServicesDep, _: IngestScope
) -> IngestAccepted:
    return await _ingest("customers", request, response, services)


@router.post(
    "/orders",
    response_model=IngestAccepted,
    status_code=201,
    summary="Upsert orders (one, an array of up to 10,000, or NDJSON)",
    openapi_extra=_body_doc(OrderIn),
)
async def post_orders(
    request: Request, response: Response, services: ServicesDep, _: IngestScope
) -> IngestAccepted:
    return await _ingest("orders", request, response, services)


class IngestStatus(BaseModel):
    mode: str
    backlog: int  # stream entries not yet written (each up to `ingest_entry_records` records)


@router.get("/ingest/status", response_model=IngestStatus)
async def ingest_status(services: ServicesDep, _: ReadScope) -> IngestStatus:
    if services.redis is None:
        return IngestStatus(mode="inline", backlog=0)
    backlog = int(await services.redis.xlen(services.ingestor.stream))
    return IngestStatus(mode="stream", backlog=backlog)


@router.get("/ingest/dead-letters", response_model=DeadLetterPage, summary="Ingestion's dead letters")
async def dead_letters(
    session: SessionDep, _: ReadScope, limit: Limit = 50, cursor: Cursor = None
) -> DeadLetterPage:
    """The same as `GET /api/v1/dead-letters?stream=ingest`."""
    return await deadletter_endpoints.page(session, "ingest", limit, cursor)


_IMPORT_TYPES = {"text/csv": ".csv", "application/x-ndjson": ".ndjson", "application/jsonl": ".ndjson"}


@router.post(
    "/import/{kind}",
    summary="Bulk import a CSV or NDJSON file of any size, with progress",
    response_class=StreamingResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in _IMPORT_TYPES},
        },
        "responses": {"200": {"content": {"application/x-ndjson": {}}, "description": "Progress lines."}},
    },
)
async def bulk_import(
    kind: Kind, request: Request, services: ServicesDep, _: IngestScope
) -> StreamingResponse:
    """Unlike `POST /customers`, rows are checked one by one: bad rows are skipped and listed with
    their line numbers, the rest written. The answer streams `{"phase": "importing", "done",
    "total"}` lines, then `{"phase": "done", "read", "written", "rejected", "errors"}`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _IMPORT_TYPES:
        raise UnsupportedMediaType(
            f"send text/csv or application/x-ndjson, not {content_type or 'nothing'!r}",
            details=[{"loc": ["header", "content-type"]}],
        )
    path, size = await uploads.spool_stream(
        request.stream(), _IMPORT_TYPES[content_type], max_bytes=services.settings.max_import_bytes
    )
    lines = uploads.import_with_progress(
        services.db,
        kind,
        path,
        size,
        default_currency=services.settings.default_currency,
        consent_attributes=services.settings.consent_attributes,
    )
    return StreamingResponse(lines, media_type="application/x-ndjson")
