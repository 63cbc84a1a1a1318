"""Receipts that arrived before their message was recorded as sent, kept until it is."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import UTCDateTime
from pulsecrm.models import Base


class ParkedReceipt(Base):
    __tablename__ = "parked_receipts"

    message_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
