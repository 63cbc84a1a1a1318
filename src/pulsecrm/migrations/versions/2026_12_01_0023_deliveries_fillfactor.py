"""deliveries and campaign_holdouts: fillfactor 80, so attribution's updates stay on the page

The attribution pass rewrites a message's `attributed_*`/`window_*` columns whenever its
customer orders in a window. None of them is indexed, so with room on the page the update is
HOT (no entry in any of the table's six indexes); on full pages every such update wrote all of
them, most of the pass's cost in the worst case of bench/outcomes.py. Applies to pages written
from now on (a `VACUUM FULL` or `pg_repack` rewrites the existing ones).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 80)")
        op.execute("ALTER TABLE campaign_holdouts SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE campaign_holdouts RESET (fillfactor)")
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
