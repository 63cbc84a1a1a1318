"""API key and user tables."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, UTCDateTime
from pulsecrm.models import Base, BigId


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # The visible start of the key, to tell keys apart in lists; never enough to use it.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    # SHA-256 of the whole key: keys are 256-bit random, so a slow hash adds nothing.
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
