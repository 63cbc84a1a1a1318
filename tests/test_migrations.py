"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pulsecrm.db import create_engine, metadata


def _for(item: Any, dialect: str) -> bool:
    """Whether the models declare `item` on this database: everywhere, or only on the one its
    `ddl_if` names (e.g. `models.audience_key`, SQLite only)."""
    condition = getattr(item, "_ddl_if", None)
    return condition is None or condition.dialect in (None, dialect)


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: sa.Connection) -> list[Any]:
                def here(item: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
                    return reflected or _for(item, sync_conn.dialect.name)

                context = MigrationContext.configure(
                    sync_conn, opts={"compare_type": True, "include_object": here}
                )
                with warnings.catch_warnings():
                    # Neither database's reflection can compare the lower(city) index; the
                    # rest of the schema it can.
                    warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
                    warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
                    return list(compare_metadata(context, metadata))

            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_keys_declared_for_one_database_are_missing_on_the_other(database_url: str) -> None:
    # Alembic compares only what is declared: a key left in place here would pass the test above.
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            def keys(sync_conn: sa.Connection) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
                inspector = sa.inspect(sync_conn)
                declared, found = set(), set()
                for table in metadata.sorted_tables:
                    for fk in table.foreign_key_constraints:
                        if _for(fk, sync_conn.dialect.name):
                            declared |= {(table.name, c.name) for c in fk.columns}
                    for reflected in inspector.get_foreign_keys(table.name):
                        found |= {(table.name, c) for c in reflected["constrained_columns"]}
                return declared, found

            declared, found = await conn.run_sync(keys)
            assert found == declared
            assert (("deliveries", "customer_id") in found) == (conn.dialect.name == "sqlite")
    finally:
        await engine.dispose()
