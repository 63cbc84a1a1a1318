"""Segment routes: the field catalog, live preview, and saved segments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from pulsecrm.deps import SegmentsScope, ServicesDep, SessionDep, WriteSessionDep
from pulsecrm.pagination import Page
from pulsecrm.segments import service
from pulsecrm.segments.schemas import (
    FieldCatalogOut,
    PreviewIn,
    PreviewOut,
    SampleCustomer,
    SegmentIn,
    SegmentOut,
)
from pulsecrm.validation import DbId, IdCursor

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


@router.get("/fields", response_model=FieldCatalogOut)
async def fields(session: SessionDep, services: ServicesDep, _: SegmentsScope) -> FieldCatalogOut:
    return FieldCatalogOut.of(await services.catalog.get(session))


@router.post("/preview", response_model=PreviewOut)
async def preview(
    body: PreviewIn, session: SessionDep, services: ServicesDep, _: SegmentsScope
) -> PreviewOut:
    """The number of matching customers (exact unless `exact` is false) and a stable sample (the
    first ten by id), from the in-memory audience engine when it is fresh, else from SQL; the
    answer says which."""
    catalog = await services.catalog.get(session)
    found = await service.preview(
        session, body.rules, catalog, cap=None if body.exact else body.cap, engine=services.audience
    )
    return PreviewOut(
        count=found.count,
        count_is_lower_bound=found.capped,
        sample=[SampleCustomer.model_validate(c) for c in found.sample],
        answered_by=found.answered_by,
        fallback=found.fallback,
        lag_ms=found.lag_ms,
    )


@router.post("", response_model=SegmentOut, status_code=201)
async def create(
    body: SegmentIn, session: WriteSessionDep, services: ServicesDep, who: SegmentsScope
) -> SegmentOut:
    catalog = await services.catalog.get(session)
    segment = await service.create(
        session,
        name=body.name,
        description=body.description,
        raw_rules=body.rules,
        catalog=catalog,
        by=who.name,
    )
    await session.commit()
    return SegmentOut.model_validate(segment)


@router.get("", response_model=Page[SegmentOut])
async def list_segments(
    session: SessionDep,
    _: SegmentsScope,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: IdCursor = None,
    q: Annotated[str | None, Query(max_length=200, description="Name contains.")] = None,
) -> Page[SegmentOut]:
    rows, next_cursor = await service.list_segments(session, limit=limit, cursor=cursor, q=q)
    return Page[SegmentOut](items=[SegmentOut.model_validate(s) for s in rows], next_cursor=next_cursor)


@router.get("/{segment_id:int}", response_model=SegmentOut)
async def get(segment_id: DbId, session: SessionDep, _: SegmentsScope) -> SegmentOut:
    return SegmentOut.model_validate(await service.get(session, segment_id))


@router.put("/{segment_id:int}", response_model=SegmentOut)
async def update(
    segment_id: DbId, body: SegmentIn, session: WriteSessionDep, services: ServicesDep, _: SegmentsScope
) -> SegmentOut:
    catalog = await services.catalog.get(session)
    segment = await service.update(
        session,
        segment_id,
        name=body.name,
        description=body.description,
        raw_rules=body.rules,
        catalog=catalog,
    )
    await session.commit()
    return SegmentOut.model_validate(segment)


@router.delete("/{segment_id:int}", status_code=204)
async def delete(segment_id: DbId, session: WriteSessionDep, _: SegmentsScope) -> Response:
    await service.delete(session, segment_id)
    await session.commit()
    return Response(status_code=204)
