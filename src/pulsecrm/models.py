"""The declarative base every domain's tables share, and the id column type."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from pulsecrm.db import metadata

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = metadata
