"""The declarative base every domain's tables share, the id column type, and the one foreign key
that exists on SQLite only."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from pulsecrm.db import metadata

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = metadata


def audience_key(column: str, target: str) -> sa.ForeignKeyConstraint:
    """`column` -> `target` (ON DELETE CASCADE), created on SQLite only: the keys from the rows a
    launch writes per audience member (deliveries, the control group) to their campaign and
    customer.

    PostgreSQL checks a foreign key with a query and a row lock per inserted row: 6.5 s of the
    11.5 s a 1M launch's INSERT took (bench/campaigns.py, EXPLAIN ANALYZE). There the launch's
    INSERT … SELECT already takes each customer id from `customers` and the campaign id from
    the row it holds locked, and nothing in Pulse deletes a customer or a campaign; a customer
    deleted by hand keeps their rows, and the dispatcher cancels what is still pending ("the
    customer was deleted"). SQLite keeps the key: its check is an index probe, and it hands
    the largest id out again after a delete, so a row left behind there could come to point
    at someone else."""
    return sa.ForeignKeyConstraint([column], [target], ondelete="CASCADE").ddl_if(dialect="sqlite")
