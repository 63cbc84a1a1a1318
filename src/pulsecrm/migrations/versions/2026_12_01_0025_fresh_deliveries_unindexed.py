"""deliveries: a launch's fresh messages stay out of the due-time index

The claim finds a campaign's pending messages that are due by their time
(`ix_deliveries_pending_next_attempt_at`). A message a launch writes to go at once has no
time (NULL): the claim reads those through (campaign, status, id) in audience order, so
their entries in the due-time index were a million writes per 1M launch that no read used.
The index keeps the pending messages that have a time: best-hour plans, retries, leases.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_deliveries_pending_next_attempt_at"


def _create(where: str) -> None:
    op.create_index(
        _NAME,
        "deliveries",
        ["campaign_id", "next_attempt_at"],
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index(_NAME, "deliveries")
    _create("status = 'pending' AND next_attempt_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index(_NAME, "deliveries")
    _create("status = 'pending'")
