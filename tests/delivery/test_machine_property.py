"""Property: whatever order claims, recorded outcomes, receipts, cancels and sweeps come in, a
campaign's counters equal a GROUP BY over its deliveries, and no delivery ever moves along an
edge `delivery.machine.TRANSITIONS` does not list.

Each example is a small campaign and a random script of steps run through `delivery.store`
(the only writer of deliveries) on a virtual clock, so leases expire and stale senders record
late: two claims of the same delivery, a record after another sender's, receipts before the
send is recorded (parked), duplicate and contradicting receipts, cancels between claim and
record, sweeps at any moment. Every delivery's status is read before and after each step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Literal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.campaigns.counters import COUNTERS, STATUSES
from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Customer
from pulsecrm.db import Database
from pulsecrm.delivery import machine, store
from pulsecrm.delivery.channels import Deferred, Rejected, SendOutcome, Sent
from pulsecrm.delivery.models import Delivery
from pulsecrm.delivery.receipts import Receipt

PEOPLE = 5
LEASE = timedelta(seconds=5)
BASE = datetime(2026, 1, 1, tzinfo=UTC)
EDGES = {(before, to) for before_set, to in machine.TRANSITIONS.values() for before in before_set}
# `record` applies a receipt parked for the message it has just recorded as sent, in the same
# statement: pending -> sent -> delivered/failed, two listed edges in one step.
SEND_THEN_RECEIPT = {
    (before, machine.target(event))
    for before in machine.sources("send")
    for event in ("deliver", "bounce")
    if machine.move(event, machine.target("send")) is not None
}
_campaigns = count()

Outcome = Literal["sent", "rejected", "deferred", "maybe_sent", "silent", "withdrawn"]


@dataclass(frozen=True)
class Claim:
    limit: int


@dataclass(frozen=True)
class Record:
    batch: int  # which outstanding claim (modulo how many there are)
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class Receipts:
    people: tuple[int, ...]  # whose message the receipts name (sent or not yet)
    statuses: tuple[Literal["delivered", "failed", "opened", "clicked"], ...]


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class Tick:
    seconds: int


@dataclass(frozen=True)
class Sweep:
    kind: Literal["expire_unconfirmed", "give_up_expired", "settle_parked"]


Step = Claim | Record | Receipts | Cancel | Tick | Sweep
people = st.integers(0, PEOPLE - 1)
records = st.builds(
    Record,
    st.integers(0, 3),
    st.lists(
        st.sampled_from(["sent", "sent", "rejected", "deferred", "maybe_sent", "silent", "withdrawn"]),
        min_size=PEOPLE,
        max_size=PEOPLE,
    ).map(tuple),
)
receipts = st.builds(
    Receipts,
    st.lists(people, min_size=1, max_size=4).map(tuple),
    st.lists(st.sampled_from(["delivered", "failed", "opened", "clicked"]), min_size=4, max_size=4).map(
        tuple
    ),
)
# Weighted by repetition: claims and records most, a cancel rarely (it ends the interesting part).
steps = st.one_of(
    *[st.builds(Claim, st.integers(1, PEOPLE))] * 3,
    *[records] * 3,
    *[receipts] * 2,
    *[st.builds(Tick, st.integers(1, 20))] * 2,
    st.builds(Sweep, st.sampled_from(["expire_unconfirmed", "give_up_expired", "settle_parked"])),
    st.just(Cancel()),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    try:
        yield database
    finally:
        await database.dispose()


async def launch(db: Database, now: datetime) -> tuple[int, list[int]]:
    """A running campaign to PEOPLE new customers; (campaign id, its delivery ids in order)."""
    n = next(_campaigns)

    async def work(conn: AsyncConnection) -> tuple[int, list[int]]:
        ids = list(
            (
                await conn.execute(
                    sa.insert(Customer).returning(Customer.id),
                    [
                        {
                            "external_id": f"prop-{n}-{i}",
                            "name": f"P {i}",
                            "phone": f"+91 90000 {i:05d}",
                            "attributes": {},
                            "created_at": now,
                            "updated_at": now,
                            "ingested_at": now,
                        }
                        for i in range(PEOPLE)
                    ],
                )
            ).scalars()
        )
        cid = (
            await conn.execute(
                sa.insert(Campaign)
                .values(
                    name=f"prop {n}",
                    status="running",
                    channel="sms",
                    message="Hi",
                    rules={"op": "and", "rules": []},
                    audience=PEOPLE,
                    unsubscribed_excluded=0,
                    **dict.fromkeys(COUNTERS, 0),
                    created_by="property",
                    created_at=now,
                    updated_at=now,
                    launched_at=now,
                    awaits_receipts=True,
                )
                .returning(Campaign.id)
            )
        ).scalar_one()
        launched = await store.create_for_launch(
            conn, campaign_id=cid, where=Customer.id.in_(ids), channel="sms", message_unknown=True, now=now
        )
        assert launched.audience == PEOPLE
        deliveries = (
            await conn.execute(
                sa.select(Delivery.id).where(Delivery.campaign_id == cid).order_by(Delivery.id)
            )
        ).scalars()
        return cid, list(deliveries)

    return await db.write(work)


async def statuses(db: Database, cid: int) -> dict[int, str]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(Delivery.id, Delivery.status).where(Delivery.campaign_id == cid))
        return {int(i): str(s) for i, s in rows}


async def counters_equal_the_log(db: Database, cid: int, log: dict[int, str]) -> None:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(sa.select(*(getattr(Campaign, c) for c in COUNTERS)).where(Campaign.id == cid))
        ).one()
        grouped = dict(
            (
                await conn.execute(
                    sa.select(Delivery.status, sa.func.count())
                    .where(Delivery.campaign_id == cid)
                    .group_by(Delivery.status)
                )
            ).all()
        )
        opened, clicked, clicked_unopened = (
            await conn.execute(
                sa.select(
                    sa.func.count(Delivery.opened_at),
                    sa.func.count(Delivery.clicked_at),
                    sa.func.count(Delivery.clicked_at).filter(Delivery.opened_at.is_(None)),
                ).where(Delivery.campaign_id == cid)
            )
        ).one()
    counters = dict(zip(COUNTERS, row, strict=True))
    assert {c: counters[c] for c in STATUSES} == {c: grouped.get(c, 0) for c in STATUSES}, (counters, grouped)
    # Engagement: unique opens and clicks, a click always an open too.
    assert (counters["opened"], counters["clicked"], clicked_unopened) == (opened, clicked, 0)
    assert Counter(log.values()) == Counter({k: v for k, v in grouped.items() if v})


def message_id(cid: int, delivery_id: int) -> str:
    return f"m-{cid}-{delivery_id}"


def outcome(kind: Outcome, cid: int, delivery_id: int) -> SendOutcome | None:
    match kind:
        case "sent":
            return Sent(delivery_id, message_id(cid, delivery_id))
        case "rejected":
            return Rejected(delivery_id, "invalid number")
        case "deferred":
            return Deferred(delivery_id, "vendor unreachable: ConnectError")
        case "maybe_sent":
            return Deferred(delivery_id, "no answer from the vendor: ReadTimeout", maybe_sent=True)
        case _:  # silent: the transport said nothing; withdrawn: never handed to it
            return None


async def run_step(
    conn: AsyncConnection,
    step: Step,
    *,
    cid: int,
    deliveries: list[int],
    batches: list[list[store.Claimed]],
    now: datetime,
    idempotent: bool,
) -> None:
    if isinstance(step, Claim):
        claimed = await store.claim(
            conn, campaign_id=cid, limit=step.limit, lease_until=now + LEASE, now=now, idempotent=idempotent
        )
        if claimed:
            batches.append(claimed)
    elif isinstance(step, Record):
        if not batches:
            return
        batch = batches.pop(step.batch % len(batches))
        kinds = dict(zip((c.delivery_id for c in batch), step.outcomes, strict=False))
        outcomes = [o for d, k in kinds.items() if k != "withdrawn" and (o := outcome(k, cid, d))]
        withdrawn = {d: "unsubscribed after launch" for d, k in kinds.items() if k == "withdrawn"}
        await store.record(
            conn, batch, outcomes, idempotent=idempotent, max_attempts=3, now=now, withdrawn=withdrawn
        )
    elif isinstance(step, Receipts):
        receipts = [
            Receipt(
                message_id=message_id(cid, deliveries[person]),
                status=status,
                occurred_at=now,
                reason="carrier rejected" if status == "failed" else None,
            )
            for person, status in zip(step.people, step.statuses, strict=False)
        ]
        await store.apply_receipts(conn, receipts, now=now)
    elif isinstance(step, Cancel):
        await store.cancel(conn, campaign_id=cid, now=now)
    elif isinstance(step, Sweep):
        if step.kind == "expire_unconfirmed":
            # As if the unconfirmed window had passed for everything sent so far.
            await store.expire_unconfirmed(conn, sent_before=now + timedelta(seconds=1), now=now)
        elif step.kind == "give_up_expired":
            await store.give_up_expired(conn, now=now, campaign_ids=[cid])
        else:
            await store.settle_parked(conn, now=now)


@settings(
    max_examples=100,
    deadline=None,
    # The database is the function's; every example launches a campaign of its own in it.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(idempotent=st.booleans(), script=st.lists(steps, min_size=3, max_size=30))
async def test_counters_follow_the_log_and_only_listed_transitions_happen(
    db: Database, idempotent: bool, script: list[Step]
) -> None:
    now = BASE
    cid, deliveries = await launch(db, now)
    batches: list[list[store.Claimed]] = []
    before = await statuses(db, cid)
    for i, step in enumerate(script):
        if isinstance(step, Tick):
            now += timedelta(seconds=step.seconds)
            continue

        async def work(conn: AsyncConnection, step: Step = step, now: datetime = now) -> None:
            await run_step(
                conn, step, cid=cid, deliveries=deliveries, batches=batches, now=now, idempotent=idempotent
            )

        await db.write(work)
        after = await statuses(db, cid)
        allowed = EDGES | (SEND_THEN_RECEIPT if isinstance(step, Record) else set())
        for delivery_id, status in after.items():
            moved = (before[delivery_id], status)
            assert moved[0] == moved[1] or moved in allowed, (i, step, delivery_id, moved)
        await counters_equal_the_log(db, cid, after)
        before = after
