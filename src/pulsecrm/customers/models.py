"""Customer and order tables. Aggregates are stored on the customer row, kept exact by the writer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, Money, UTCDateTime
from pulsecrm.models import Base, BigId

EXTERNAL_ID_LENGTH = 128
CONSENT_STATES = ("opted_in", "opted_out", "unknown")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Signup time as the retailer reports it; the earliest value seen wins.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The record's version: a write only lands if it is at least as new as what is stored.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    order_count: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    avg_order_value: Mapped[Decimal | None] = mapped_column(Money)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by POST /customers/{id}/unsubscribe; ingestion never clears it. Launches skip them.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Per-channel marketing consent (`customers.consent`): opted_in, opted_out or unknown, with
    # when it was given or withdrawn and where that came from (ingest, import, unsubscribe, a
    # person's e-mail). Launch leaves out opted_out, and unknown when the store says so.
    email_consent: Mapped[str] = mapped_column(sa.String(10), default="unknown", server_default="unknown")
    email_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_consent_source: Mapped[str | None] = mapped_column(sa.String(100))
    sms_consent: Mapped[str] = mapped_column(sa.String(10), default="unknown", server_default="unknown")
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_consent_source: Mapped[str | None] = mapped_column(sa.String(100))

    __table_args__ = (
        # Deliberately no index on the aggregates: the writer rewrites them after every batch,
        # and an indexed column there makes each of those updates touch every index (no HOT
        # update). Segment counts over them are scans either way (bench/segments.py).
        sa.Index("ix_customers_created_at", "created_at"),
        sa.Index("ix_customers_lower_city", sa.func.lower(sa.text("city"))),
        sa.CheckConstraint(f"email_consent IN {CONSENT_STATES}", name="email_consent"),
        sa.CheckConstraint(f"sms_consent IN {CONSENT_STATES}", name="sms_consent"),
        # Room on each page for the aggregate updates to stay on the page (HOT).
        {"postgresql_with": {"fillfactor": 85}},
    )


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_LENGTH), unique=True)
    # No foreign key: an order may arrive before its customer and is kept until it does.
    customer_external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_LENGTH))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Covers the aggregate recomputation (sum, count, min, max per customer) and a
        # customer's orders newest first, without reading the table.
        sa.Index("ix_orders_customer_ordered_at_amount", "customer_external_id", "ordered_at", "amount"),
        # The dashboard's orders and revenue per day: a range of days read from the index only.
        sa.Index("ix_orders_ordered_at_amount", "ordered_at", "amount"),
    )


class CustomerLock(Base):
    """One row per customer external id ever seen, locked by writers before touching aggregates.

    On PostgreSQL two workers may write a customer and its orders at the same moment; a
    customer row that does not exist yet cannot be locked, so writers lock this row instead,
    which makes each aggregate recomputation see every order committed before it.
    """

    __tablename__ = "customer_locks"

    external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_LENGTH), primary_key=True)
