"""Segment services: check and compile rules, preview an audience, save named segments (rule
segments, and list segments with explicit members)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Customer
from pulsecrm.db import utcnow
from pulsecrm.errors import Conflict, InvalidInput, NotFound, PulseError
from pulsecrm.models import BigId
from pulsecrm.pagination import newest_first
from pulsecrm.segments import rules as rule_lang
from pulsecrm.segments.catalog import Catalog
from pulsecrm.segments.compiler import compile_rules
from pulsecrm.segments.engine import Answer, AudienceEngine
from pulsecrm.segments.models import Segment, SegmentMember

SAMPLE_SIZE = 10
MEMBER_CHUNK = 5_000  # customer ids per INSERT … SELECT (bound parameters stay well under limits)


async def audience_filter(
    session: AsyncSession, raw_rules: Any, catalog: Catalog, *, now: datetime | None = None
) -> tuple[rule_lang.RuleTree, sa.ColumnElement[bool]]:
    """Parse, type-check and compile rules into a WHERE clause over customers (422 if bad)."""
    tree, checked, where = _filter(raw_rules, catalog, session.get_bind().dialect.name, now or utcnow())
    await verify_references(session, checked)
    return tree, where


async def checked_filter(
    session: AsyncSession, raw_rules: Any, catalog: Catalog, *, now: datetime | None = None
) -> tuple[rule_lang.RuleTree, sa.ColumnElement[bool]]:
    """`audience_filter` in a worker thread: the largest tree allowed takes tens of
    milliseconds to build, which the event loop should spend answering other requests."""
    dialect = session.get_bind().dialect.name
    tree, checked, where = await asyncio.to_thread(_filter, raw_rules, catalog, dialect, now or utcnow())
    await verify_references(session, checked)
    return tree, where


def _filter(
    raw_rules: Any, catalog: Catalog, dialect: str, now: datetime
) -> tuple[rule_lang.RuleTree, rule_lang.CheckedGroup, sa.ColumnElement[bool]]:
    tree, checked = _checked(raw_rules, catalog)
    return tree, checked, compile_rules(checked, dialect=dialect, now=now)


async def verify_references(session: AsyncSession, checked: rule_lang.CheckedGroup) -> None:
    """422 naming each condition whose campaign or list segment does not exist."""
    await verify_campaigns(session, checked)
    references = rule_lang.segment_references(checked)
    if references:
        wanted = sorted({segment_id for _, segment_id in references})
        rows = await session.execute(sa.select(Segment.id, Segment.kind).where(Segment.id.in_(wanted)))
        rule_lang.bad_segments(references, {int(i): str(k) for i, k in rows})


async def verify_campaigns(session: AsyncSession, checked: rule_lang.CheckedGroup) -> None:
    """422 naming each engagement condition whose campaign does not exist (one query)."""
    references = rule_lang.campaign_references(checked)
    if not references:
        return
    wanted = sorted({campaign_id for _, campaign_id in references})
    existing = set(await session.scalars(sa.select(Campaign.id).where(Campaign.id.in_(wanted))))
    rule_lang.missing_campaigns(references, existing)


def _checked(raw_rules: Any, catalog: Catalog) -> tuple[rule_lang.RuleTree, rule_lang.CheckedGroup]:
    tree = rule_lang.parse(raw_rules, prefix="$.rules")
    return tree, rule_lang.check(tree, catalog, prefix="$.rules")


async def count(session: AsyncSession, where: sa.ColumnElement[bool], *, cap: int | None = None) -> int:
    """The exact number of matches, or with `cap` at most cap + 1 (the scan stops there)."""
    if cap is None:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Customer).where(where)) or 0)
    matches = sa.select(sa.literal(1)).select_from(Customer).where(where).limit(cap + 1).subquery()
    return int(await session.scalar(sa.select(sa.func.count()).select_from(matches)) or 0)


async def sample(
    session: AsyncSession, where: sa.ColumnElement[bool], size: int = SAMPLE_SIZE
) -> list[Customer]:
    """A stable sample: the first matching customers by id."""
    return list(await session.scalars(sa.select(Customer).where(where).order_by(Customer.id).limit(size)))


@dataclass(frozen=True)
class Preview:
    count: int
    capped: bool  # the count stopped at `cap`
    sample: list[Customer]
    answered_by: Literal["memory", "database"]
    fallback: str | None = None  # why the database answered, when the engine was asked
    lag_ms: float | None = None  # memory: how long before the query the snapshot caught up


async def preview(
    session: AsyncSession,
    raw_rules: Any,
    catalog: Catalog,
    *,
    cap: int | None = None,
    engine: AudienceEngine | None = None,
) -> Preview:
    """Count and sample, from the audience engine when it can answer, else in SQL.
    `cap=None` counts exactly (the engine always does, and caps the number it reports)."""
    now = utcnow()
    fallback = None
    if engine is not None:
        _, checked = await asyncio.to_thread(_checked, raw_rules, catalog)
        await verify_references(session, checked)
        answer = await engine.answer(checked, catalog, now, sample_size=SAMPLE_SIZE)
        if isinstance(answer, Answer):
            return await _from_memory(session, answer, cap)
        fallback = answer
    _, where = await checked_filter(session, raw_rules, catalog, now=now)
    found = await count(session, where, cap=cap)
    capped = cap is not None and found > cap
    shown = cap if capped and cap is not None else found
    return Preview(shown, capped, await sample(session, where), "database", fallback)


async def _from_memory(session: AsyncSession, answer: Answer, cap: int | None) -> Preview:
    """The engine's count and sample ids; the sample's rows are read by primary key."""
    rows = []
    if answer.sample_ids:
        rows = list(
            await session.scalars(
                sa.select(Customer).where(Customer.id.in_(answer.sample_ids)).order_by(Customer.id)
            )
        )
    capped = cap is not None and answer.count > cap
    shown = cap if capped and cap is not None else answer.count
    return Preview(shown, capped, rows, "memory", None, answer.lag_ms)


async def create(
    session: AsyncSession, *, name: str, description: str | None, raw_rules: Any, catalog: Catalog, by: str
) -> Segment:
    tree, where = await checked_filter(session, raw_rules, catalog)
    now = utcnow()
    segment = Segment(
        name=name,
        description=description,
        rules=rule_lang.dump(tree),
        last_count=await count(session, where),
        last_counted_at=now,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    await _flush_unique(session, name)
    return segment


def membership_rules(segment_id: int) -> dict[str, Any]:
    """A list segment's rules: the one condition "is in this list"."""
    tree = rule_lang.parse(
        {"version": 1, "op": "and", "rules": [{"field": "segment", "cmp": "in_segment", "value": segment_id}]}
    )
    return rule_lang.dump(tree)


async def create_list(
    session: AsyncSession, *, name: str, description: str | None, customer_ids: Sequence[int], by: str
) -> Segment:
    """A list segment holding exactly `customer_ids` (ids of existing customers), written in
    one INSERT … SELECT per chunk, so a customer deleted meanwhile is simply left out."""
    now = utcnow()
    segment = Segment(
        name=name,
        description=description,
        kind="list",
        rules={"version": 1, "op": "and", "rules": []},  # replaced once the id is known
        last_counted_at=now,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    await _flush_unique(session, name)
    segment.rules = membership_rules(segment.id)
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), MEMBER_CHUNK):
        chunk = ids[start : start + MEMBER_CHUNK]
        await session.execute(
            sa.insert(SegmentMember).from_select(
                ["segment_id", "customer_id"],
                sa.select(sa.literal(segment.id, BigId), Customer.id).where(Customer.id.in_(chunk)),
            )
        )
    segment.last_count = await member_count(session, segment.id)
    await session.flush()
    return segment


async def member_count(session: AsyncSession, segment_id: int) -> int:
    query = (
        sa.select(sa.func.count()).select_from(SegmentMember).where(SegmentMember.segment_id == segment_id)
    )
    return int(await session.scalar(query) or 0)


async def update(
    session: AsyncSession,
    segment_id: int,
    *,
    name: str,
    description: str | None,
    raw_rules: Any,
    catalog: Catalog,
) -> Segment:
    segment = await get(session, segment_id)
    if segment.kind == "list" and _tree_of(raw_rules) != segment.rules:
        # Its members were chosen once (a lookalike); other rules would make it another segment.
        raise InvalidInput(
            "a list segment's members are fixed: rename it or describe it, but keep its rules",
            details=[{"loc": ["body", "rules"], "path": "$.rules", "message": "must stay as saved"}],
        )
    tree, where = await checked_filter(session, raw_rules, catalog)
    now = utcnow()
    segment.name, segment.description, segment.rules = name, description, rule_lang.dump(tree)
    segment.last_count, segment.last_counted_at, segment.updated_at = await count(session, where), now, now
    await _flush_unique(session, name)
    return segment


def _tree_of(raw_rules: Any) -> dict[str, Any] | None:
    try:
        return rule_lang.dump(rule_lang.parse(raw_rules, prefix="$.rules"))
    except rule_lang.InvalidRules:
        return None


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            f"a segment named {name!r} already exists",
            details=[{"loc": ["body", "name"], "message": "taken"}],
        ) from None


async def get(session: AsyncSession, segment_id: int) -> Segment:
    segment = await session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"no segment with id {segment_id}")
    return segment


async def delete(session: AsyncSession, segment_id: int) -> None:
    await session.delete(await get(session, segment_id))
    await session.flush()


async def list_segments(
    session: AsyncSession, *, limit: int, cursor: str | None, q: str | None
) -> tuple[list[Segment], str | None]:
    """Newest first."""
    query = sa.select(Segment)
    if q:
        query = query.where(Segment.name.icontains(q, autoescape=True))
    return await newest_first(session, query, Segment.id, limit=limit, cursor=cursor)


MEMBERSHIP_CHECKED = 100  # a customer's page checks the newest this many saved segments


@dataclass(frozen=True)
class Memberships:
    segments: list[Segment]  # those the customer is in, newest first
    checked: int  # how many saved segments were checked
    more: bool  # older segments exist and were not checked
    unreadable: int  # saved rules that no longer fit the catalog (a field gone), skipped


async def memberships(session: AsyncSession, customer_id: int, catalog: Catalog) -> Memberships:
    """The saved segments a customer is in now: every segment's rules compiled, then one query
    by primary key that evaluates them all as columns of that customer's row."""
    saved, cursor = await list_segments(session, limit=MEMBERSHIP_CHECKED, cursor=None, q=None)
    dialect = session.get_bind().dialect.name
    now = utcnow()

    def compile_all() -> list[tuple[Segment, sa.ColumnElement[bool]]]:
        out = []
        for segment in saved:
            try:
                out.append((segment, _filter(segment.rules, catalog, dialect, now)[2]))
            except PulseError:
                continue
        return out

    compiled = await asyncio.to_thread(compile_all)
    found: list[Segment] = []
    if compiled:
        row = (
            await session.execute(
                sa.select(*[sa.case((where, 1), else_=0) for _, where in compiled]).where(
                    Customer.id == customer_id
                )
            )
        ).one_or_none()
        if row is not None:
            found = [segment for (segment, _), hit in zip(compiled, row, strict=True) if hit]
    return Memberships(found, len(saved), cursor is not None, len(saved) - len(compiled))
