"""Recording, listing and replaying dead letters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pulsecrm.broker import Reject
from pulsecrm.db import Database, utcnow
from pulsecrm.deadletters.models import DeadLetter
from pulsecrm.errors import Conflict, InvalidInput, NotFound
from pulsecrm.pagination import newest_first

STREAMS = ("ingest", "receipts")
# Takes a dead letter's kind and payload; validates it (InvalidInput when it still cannot be
# taken) and submits it again the way the API would; returns "queued", "written" or "applied".
Replayer = Callable[[str, Any], Awaitable[str]]


def recorder(db: Database, stream: str) -> Callable[[list[Reject]], Awaitable[None]]:
    """The dead-letter function a stream consumer is given: one insert per batch of rejects."""

    async def record(rejects: list[Reject]) -> None:
        now = utcnow()
        rows = [
            {
                "stream": stream,
                "kind": r.kind[:20],
                "external_id": r.label[:128] if r.label is not None else None,
                "record": r.payload,
                "error": r.error[:4000],
                "attempts": r.attempts,
                "stream_entry_id": r.entry_id[:40],
                "created_at": now,
            }
            for r in rejects
        ]

        async def insert(conn: AsyncConnection) -> None:
            await conn.execute(sa.insert(DeadLetter), rows)

        await db.write(insert)

    return record


async def list_letters(
    session: AsyncSession, *, stream: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[DeadLetter], str | None]:
    """Newest first, of one stream or all."""
    query = sa.select(DeadLetter)
    if stream is not None:
        query = query.where(DeadLetter.stream == stream)
    return await newest_first(session, query, DeadLetter.id, limit=limit, cursor=cursor)


async def replay(db: Database, replayers: dict[str, Replayer], *, letter_id: int) -> str:
    """Submit a dead letter again; mark it replayed once it was taken."""
    async with db.sessions() as session:
        letter = await session.get(DeadLetter, letter_id)
    if letter is None:
        raise NotFound(f"no dead letter with id {letter_id}")
    if letter.replayed_at is not None:
        raise Conflict(f"dead letter {letter_id} was replayed at {letter.replayed_at.isoformat()}")
    replayer = replayers.get(letter.stream)
    if replayer is None:
        raise InvalidInput(f"dead letters of stream {letter.stream!r} cannot be replayed")
    status = await replayer(letter.kind, letter.record)

    async def mark(conn: AsyncConnection) -> None:
        await conn.execute(
            sa.update(DeadLetter)
            .where(DeadLetter.id == letter_id, DeadLetter.replayed_at.is_(None))
            .values(replayed_at=utcnow())
        )

    await db.write(mark)
    return status


def not_replayable(kind: str) -> InvalidInput:
    return InvalidInput(
        f"this dead letter is a whole stream entry ({kind}) that could not be decoded; "
        "it cannot be replayed as it is",
        details=[{"loc": ["record"], "message": "not a single record"}],
    )
