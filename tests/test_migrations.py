"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pulsecrm.db import create_engine, metadata


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: sa.Connection) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                with warnings.catch_warnings():
                    # Neither database's reflection can compare the lower(city) index; the
                    # rest of the schema it can.
                    warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
                    warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
                    return list(compare_metadata(context, metadata))

            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
