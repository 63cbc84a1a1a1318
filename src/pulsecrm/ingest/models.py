"""Dead letters: records the writer gave up on, kept with their error for a human to look at."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, UTCDateTime
from pulsecrm.models import Base, BigId


class DeadLetter(Base):
    __tablename__ = "ingest_dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    external_id: Mapped[str | None] = mapped_column(sa.String(128))
    record: Mapped[Any] = mapped_column(JSONType)
    error: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    stream_entry_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
