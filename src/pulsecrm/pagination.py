"""Cursor pagination: every list answers {"items": [...], "next_cursor": str | null}.

Cursors are keyset positions (the sort value and id of the last row), so page 1,000 costs
the same as page 1 and rows inserted meanwhile neither repeat nor vanish. Nulls sort last in
both directions on both databases.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from pulsecrm.errors import InvalidInput

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Page(BaseModel, Generic[M]):
    items: list[M]
    next_cursor: str | None


@dataclass(frozen=True)
class SortKey:
    column: InstrumentedAttribute[Any]
    descending: bool
    kind: type  # Decimal, datetime, str or int: how a cursor value is read back


def encode_cursor(value: Any, row_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    return base64.urlsafe_b64encode(orjson.dumps([value, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str, kind: type) -> tuple[Any, int]:
    try:
        value, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if value is not None:
            value = datetime.fromisoformat(value) if kind is datetime else kind(value)
        return value, int(row_id)
    except (ValueError, TypeError, InvalidOperation, orjson.JSONDecodeError):
        raise InvalidInput(
            "invalid cursor: pass back next_cursor exactly as received",
            details=[{"loc": ["query", "cursor"], "message": "invalid cursor"}],
        ) from None


def apply_keyset(
    query: sa.Select[Any], key: SortKey, id_column: InstrumentedAttribute[int], cursor: str | None
) -> sa.Select[Any]:
    """Order by (key, id) with nulls last, and start after the cursor's position."""
    col = key.column
    order = [col.desc().nulls_last() if key.descending else col.asc().nulls_last()]
    order.append(id_column.desc() if key.descending else id_column.asc())
    query = query.order_by(*order)
    if cursor is None:
        return query
    value, row_id = decode_cursor(cursor, key.kind)
    after_id = id_column < row_id if key.descending else id_column > row_id
    if value is None:  # already in the trailing nulls
        return query.where(col.is_(None), after_id)
    beyond = col < value if key.descending else col > value
    return query.where(sa.or_(beyond, sa.and_(col == value, after_id), col.is_(None)))


def page_of(rows: list[T], limit: int, key_of: Any) -> tuple[list[T], str | None]:
    """Split the limit+1 rows fetched into a page and the cursor of the next one."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    value, row_id = key_of(rows[-1])
    return rows, encode_cursor(value, row_id)


async def newest_first(
    session: AsyncSession,
    query: sa.Select[Any],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """Rows newest first by id; the cursor is the id of the last row shown (digits only, checked
    by the route)."""
    query = query.order_by(id_column.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(id_column < int(cursor))
    rows = list(await session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], str(rows[limit - 1].id)
    return rows, None
