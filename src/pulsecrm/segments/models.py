"""Saved segments (rule segments and static list segments with their members), and the
custom attribute keys ingestion has seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, UTCDateTime
from pulsecrm.models import Base, BigId

SEGMENT_KINDS = ("rules", "list")


class Segment(Base):
    """A saved audience. `rules` segments are evaluated when used; a `list` segment holds an
    explicit set of customers (`segment_members`), chosen once (a lookalike), and its `rules`
    are the one condition "in this list", so everything that reads rules reads its members."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(1000))
    kind: Mapped[str] = mapped_column(sa.String(10), default="rules", server_default="rules")
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)
    last_count: Mapped[int | None] = mapped_column(sa.Integer)
    last_counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (sa.CheckConstraint(f"kind IN {SEGMENT_KINDS}", name="kind"),)


class SegmentMember(Base):
    """A customer of a list segment. Written once, when the list is saved; gone with the
    segment or the customer."""

    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )

    # "Is this customer in list X" probes by (segment_id, customer_id), the primary key; a
    # customer's deletion finds its memberships by this one.
    __table_args__ = (sa.Index("ix_segment_members_customer_id", "customer_id"),)


class CustomerAttributeKey(Base):
    """Each custom attribute key with each JSON type it has been seen with."""

    __tablename__ = "customer_attribute_keys"

    attribute: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value_type: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # string|number|boolean


class CustomerChange(Base):
    """The audience engine's change feed: one row per write batch, naming the customers it touched.

    Written in the batch's own transaction, so a committed batch is always in the feed and a
    rolled-back one never is; `seq` orders the rows in commit order (see `changes.record`).
    """

    __tablename__ = "customer_changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    external_ids: Mapped[list[str]] = mapped_column(JSONType)


class FeedCursor(Base):
    """How far a durable reader of the change feed has read: the feed keeps every row after it.

    Audience engines rebuild from the tables when they fall behind; the attribution pass
    cannot (it would have to re-attribute every order), so pruning waits for it."""

    __tablename__ = "feed_cursors"

    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it last moved
