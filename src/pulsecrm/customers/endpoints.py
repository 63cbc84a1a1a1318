"""Customer and order reads. Writes go through ingestion (pulsecrm.ingest.endpoints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pulsecrm.customers import service
from pulsecrm.customers.consent import ChannelName
from pulsecrm.customers.schemas import ConsentUpdate, CustomerDetail, CustomerOut, OrderOut
from pulsecrm.delivery import history as message_history
from pulsecrm.delivery.schemas import MessageOut
from pulsecrm.deps import IngestScope, ReadScope, SessionDep, WriteSessionDep
from pulsecrm.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["customers"])

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the last page.")]


@router.get("/customers", response_model=Page[CustomerOut])
async def list_customers(
    session: SessionDep,
    _: ReadScope,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Name or e-mail contains, or exact external id."),
    ] = None,
    sort: service.CustomerSort = "-created_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CustomerOut]:
    rows, next_cursor = await service.list_customers(session, q=q, sort=sort, limit=limit, cursor=cursor)
    return Page[CustomerOut](items=[CustomerOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/customers/{external_id}", response_model=CustomerDetail)
async def get_customer(
    session: SessionDep, _: ReadScope, external_id: Annotated[str, Path(max_length=128)]
) -> CustomerDetail:
    customer, orders = await service.get_customer(session, external_id)
    return CustomerDetail(
        **CustomerOut.model_validate(customer).model_dump(),
        recent_orders=[OrderOut.model_validate(o) for o in orders],
    )


@router.get("/customers/{external_id}/messages", response_model=Page[MessageOut])
async def list_messages(
    session: SessionDep,
    _: ReadScope,
    external_id: Annotated[str, Path(max_length=128)],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MessageOut]:
    """Every message sent to the customer, newest campaign first: its status, first open and
    click, how many opens and clicks were recorded, and the orders credited to it. A campaign
    that held the customer out as control appears with status `control` and no message."""
    customer = await service.get(session, external_id)
    rows, next_cursor = await message_history.messages_of(session, customer.id, limit=limit, cursor=cursor)
    return Page[MessageOut](items=[MessageOut.of(m) for m in rows], next_cursor=next_cursor)


@router.post("/customers/{external_id}/unsubscribe", response_model=CustomerOut)
async def unsubscribe(
    session: WriteSessionDep,
    _: IngestScope,
    external_id: Annotated[str, Path(max_length=128)],
    channel: Annotated[
        ChannelName | None,
        Query(description="Opt out of this channel only; without it, out of everything."),
    ] = None,
) -> CustomerOut:
    """Without `channel`: stop all future campaign messages to this customer (`unsubscribed_at`,
    kept across re-ingestion) and opt them out of every channel. With `channel`: opt out of that
    channel only. Either way the source is recorded as "unsubscribe"."""
    customer = await service.unsubscribe(session, external_id, channel=channel)
    await session.commit()
    return CustomerOut.model_validate(customer)


@router.put("/customers/{external_id}/consent", response_model=CustomerOut)
async def set_consent(
    session: WriteSessionDep,
    principal: IngestScope,
    external_id: Annotated[str, Path(max_length=128)],
    body: ConsentUpdate,
) -> CustomerOut:
    """Set consent for the channels named, as of now, recorded as given by the caller
    (`user:<e-mail>` or `api_key:<name>`). An unsubscribed customer stays unsubscribed."""
    source = f"{principal.kind}:{principal.name}"[:100]
    customer = await service.set_consent(session, external_id, body.stated(), source=source)
    await session.commit()
    return CustomerOut.model_validate(customer)


@router.get("/orders", response_model=Page[OrderOut])
async def list_orders(
    session: SessionDep,
    _: ReadScope,
    customer: Annotated[str | None, Query(max_length=128, description="A customer's external id.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[OrderOut]:
    rows, next_cursor = await service.list_orders(session, customer=customer, limit=limit, cursor=cursor)
    return Page[OrderOut](items=[OrderOut.model_validate(r) for r in rows], next_cursor=next_cursor)
