"""The dead-letter table, shared by every stream consumer (ingestion, receipts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, UTCDateTime
from pulsecrm.models import Base, BigId


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(sa.String(20), index=True)  # "ingest" or "receipts"
    kind: Mapped[str] = mapped_column(sa.String(20))  # customers, orders, receipt, entry
    external_id: Mapped[str | None] = mapped_column(sa.String(128))  # or the receipt's message id
    record: Mapped[Any] = mapped_column(JSONType)
    error: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    stream_entry_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
