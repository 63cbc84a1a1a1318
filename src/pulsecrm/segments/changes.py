"""The change feed: which customers each committed write batch touched, in commit order.

The ingestion writer calls `record` as the last statement of its transaction, so the feed
holds a batch exactly when the batch committed (a crash loses neither, a rollback adds
nothing). Audience engines in any process read it with `since` and re-read those customers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.db import utcnow
from pulsecrm.segments.models import CustomerChange, FeedCursor

changes_t: sa.Table = CustomerChange.__table__  # type: ignore[assignment]

# Rows older than this are pruned once every durable reader (`FeedCursor`) has read them; an
# engine that has not read the feed for half of it rebuilds.
RETENTION = timedelta(hours=1)
# ...and past this, whatever the readers: one that stopped for a week catches up another way.
HARD_RETENTION = timedelta(days=7)
_PRUNE_EVERY = 256  # seqs: prune on one write in this many, not on every batch
# Any constant, shared by every writer: taken just before the feed row is written and held to
# commit, so feed rows become visible in seq order and a reader never skips a late commit.
_FEED_LOCK = 0x5075_6C73_6546_6565


async def record(conn: AsyncConnection, external_ids: Iterable[str]) -> None:
    ids = sorted(set(external_ids))
    if not ids:
        return
    if conn.dialect.name != "sqlite":  # SQLite has one writer at a time already
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_FEED_LOCK)))
    now = utcnow()
    seq = await conn.scalar(sa.insert(changes_t).values(at=now, external_ids=ids).returning(changes_t.c.seq))
    if seq is not None and seq % _PRUNE_EVERY == 0:
        slowest = sa.select(sa.func.min(FeedCursor.seq)).scalar_subquery()
        await conn.execute(
            sa.delete(changes_t).where(
                changes_t.c.at < now - RETENTION,
                sa.or_(
                    changes_t.c.seq <= sa.func.coalesce(slowest, seq), changes_t.c.at < now - HARD_RETENTION
                ),
            )
        )


async def latest(conn: AsyncConnection) -> int:
    """The newest seq (0 when the feed is empty): an engine built now has seen up to it."""
    return int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(changes_t.c.seq), 0))) or 0)


async def position(conn: AsyncConnection) -> tuple[int, datetime | None]:
    """The newest feed row's (seq, at); (0, None) when the feed is empty."""
    newest = sa.select(changes_t.c.seq, changes_t.c.at).order_by(changes_t.c.seq.desc()).limit(1)
    row = (await conn.execute(newest)).first()
    return (0, None) if row is None else (int(row[0]), row[1])


async def at(conn: AsyncConnection, seq: int) -> datetime | None:
    """The time on feed row `seq`, if it is still there."""
    value: datetime | None = await conn.scalar(sa.select(changes_t.c.at).where(changes_t.c.seq == seq))
    return value


@dataclass(frozen=True)
class Change:
    seq: int
    at: datetime
    external_ids: list[str]


async def since(conn: AsyncConnection, seq: int, *, limit: int = 500) -> list[Change]:
    """Feed rows after `seq`, oldest first."""
    rows = await conn.execute(
        sa.select(changes_t.c.seq, changes_t.c.at, changes_t.c.external_ids)
        .where(changes_t.c.seq > seq)
        .order_by(changes_t.c.seq)
        .limit(limit)
    )
    out: list[Change] = []
    for row_seq, at, ids in rows:
        value: Any = ids
        out.append(Change(int(row_seq), at, [str(i) for i in value]))
    return out
