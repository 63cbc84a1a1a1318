"""Dead-letter routes: list what the consumers set aside, replay one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from pulsecrm.deadletters import service
from pulsecrm.deadletters.models import DeadLetter
from pulsecrm.deps import IngestScope, ReadScope, ServicesDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["dead letters"])


class DeadLetterOut(BaseModel):
    id: int
    stream: str
    kind: str
    external_id: str | None
    record: Any
    error: str
    attempts: int
    stream_entry_id: str | None
    created_at: datetime
    replayed_at: datetime | None

    @classmethod
    def of(cls, row: DeadLetter) -> DeadLetterOut:
        return cls(
            id=row.id,
            stream=row.stream,
            kind=row.kind,
            external_id=row.external_id,
            record=row.record,
            error=row.error,
            attempts=row.attempts,
            stream_entry_id=row.stream_entry_id,
            created_at=row.created_at,
            replayed_at=row.replayed_at,
        )


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


class Replayed(BaseModel):
    id: int
    status: str  # "queued", "written" or "applied"


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(pattern=r"^\d{1,18}$")]


async def page(session: SessionDep, stream: str | None, limit: int, cursor: str | None) -> DeadLetterPage:
    rows, next_cursor = await service.list_letters(session, stream=stream, limit=limit, cursor=cursor)
    return DeadLetterPage(items=[DeadLetterOut.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/dead-letters", response_model=DeadLetterPage, summary="What the stream consumers set aside")
async def dead_letters(
    session: SessionDep,
    _: ReadScope,
    stream: Annotated[Literal["ingest", "receipts"] | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeadLetterPage:
    """Newest first. A record, a receipt, or a whole stream entry that could not be decoded,
    with its error, how often it was tried, and when it was replayed."""
    return await page(session, stream, limit, cursor)


@router.post(
    "/dead-letters/{letter_id}/replay",
    response_model=Replayed,
    summary="Submit a dead letter again",
    responses={404: {"description": "No such dead letter."}, 409: {"description": "Already replayed."}},
)
async def replay(
    letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)], services: ServicesDep, _: IngestScope
) -> Replayed:
    """Validates the record as the API would (422 if it still cannot be taken), then queues or
    writes it; replaying the same dead letter twice is a 409."""
    status = await service.replay(services.db, services.replayers, letter_id=letter_id)
    return Replayed(id=letter_id, status=status)
