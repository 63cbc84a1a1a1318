"""dead letters for every stream

Ingestion's dead letters become every consumer's: a `stream` column (ingest, receipts) and
`replayed_at`. A new table and a copy, rather than a rename, so the constraint and index
names follow the naming convention on both databases.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pulsecrm.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COPIED = "id, kind, external_id, record, error, attempts, stream_entry_id, created_at"


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("record", pulsecrm.db.JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stream_entry_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_stream"), ["stream"], unique=False)
    op.execute(
        f"INSERT INTO dead_letters (stream, {_COPIED}) SELECT 'ingest', {_COPIED} FROM ingest_dead_letters"  # noqa: S608
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('dead_letters', 'id'), "
            "coalesce((SELECT max(id) FROM dead_letters), 0) + 1, false)"
        )
    op.drop_table("ingest_dead_letters")


def downgrade() -> None:
    op.create_table(
        "ingest_dead_letters",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("record", pulsecrm.db.JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stream_entry_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_dead_letters")),
    )
    with op.batch_alter_table("ingest_dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_dead_letters_created_at"), ["created_at"], unique=False)
    op.execute(
        f"INSERT INTO ingest_dead_letters ({_COPIED}) SELECT {_COPIED} FROM dead_letters "  # noqa: S608
        "WHERE stream = 'ingest'"
    )
    op.drop_table("dead_letters")
