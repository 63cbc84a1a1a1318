"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pulsecrm.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_locks",
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("external_id", name=op.f("pk_customer_locks")),
    )
    op.create_table(
        "customers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("attributes", pulsecrm.db.JSONType, nullable=False),
        sa.Column("created_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "total_spend",
            pulsecrm.db.Money(precision=14, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("order_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("avg_order_value", pulsecrm.db.Money(precision=14, scale=2), nullable=True),
        sa.Column("first_order_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_customers_external_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_city", ["city"], unique=False)
        batch_op.create_index("ix_customers_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_customers_last_order_at", ["last_order_at"], unique=False)
        batch_op.create_index("ix_customers_total_spend", ["total_spend"], unique=False)

    op.create_table(
        "ingest_dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
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

    op.create_table(
        "orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("customer_external_id", sa.String(length=128), nullable=False),
        sa.Column("amount", pulsecrm.db.Money(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ordered_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("items", pulsecrm.db.JSONType, nullable=False),
        sa.Column("updated_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("external_id", name=op.f("uq_orders_external_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orders_customer_external_id"), ["customer_external_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_users_oidc_subject")),
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", pulsecrm.db.JSONType, nullable=False),
        sa.Column("created_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_by_user_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("users")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_customer_external_id"))

    op.drop_table("orders")
    with op.batch_alter_table("ingest_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_dead_letters_created_at"))

    op.drop_table("ingest_dead_letters")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_total_spend")
        batch_op.drop_index("ix_customers_last_order_at")
        batch_op.drop_index("ix_customers_created_at")
        batch_op.drop_index("ix_customers_city")

    op.drop_table("customers")
    op.drop_table("customer_locks")
