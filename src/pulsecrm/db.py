"""Database plumbing: engine, metadata, portable column types and the write-transaction helper.

The same code runs on SQLite (embedded) and PostgreSQL (production). Where the two differ --
money, time zones, bulk statements, locking -- the difference is handled here or in a
repository function that names the dialect, never in services.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

T = TypeVar("T")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONEY_SCALE = 2


class Money(sa.TypeDecorator[Decimal]):
    """Exact money: NUMERIC(14,2) on PostgreSQL, integer minor units on SQLite.

    SQLite has no decimal type; storing cents keeps sums and comparisons exact there.
    """

    impl = sa.Numeric(14, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(14, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        if dialect.name == "sqlite":
            return int(amount.scaleb(MONEY_SCALE).to_integral_value())
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return Decimal(value).quantize(Decimal(1).scaleb(-MONEY_SCALE))


@functools.lru_cache(maxsize=8192)
def _sqlite_aware_datetime(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_datetime(value: Any) -> str | None:
    """SQLAlchemy's SQLite text for a DATETIME ("2025-01-01 00:00:00.000000") of an aware
    datetime, in UTC. Written by isoformat rather than SQLAlchemy's %-formatting, and cached
    (equal instants hash alike whatever their offset): a batch's rows share their version and
    ingestion times, and binding times was 40% of the embedded writer's time."""
    moment = _aware(value)
    return None if moment is None else _sqlite_aware_datetime(moment)


def _aware(value: Any) -> datetime | None:
    """A time to bind: None, or an aware datetime (a naive one, or anything else, is refused)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must carry a UTC offset")
    return value


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps with time zone, always UTC. SQLite stores naive UTC text that sorts correctly."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        moment = _aware(value)
        if moment is None:
            return None
        moment = moment.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_datetime

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # Raw SQL on SQLite hands back text.
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch_seconds(column: Any, dialect: str) -> sa.ColumnElement[Any]:
    """Seconds since 1970 of a UTCDateTime column, in SQL, for bucketing by time."""
    if dialect == "postgresql":
        return sa.extract("epoch", column)
    # SQLite keeps naive UTC text; strftime('%s') reads it as UTC seconds.
    return (
        sa.cast(sa.func.strftime("%s", column), sa.Float)
        + sa.cast(sa.func.strftime("%f", column), sa.Float) % 1
    )


# --- engine ---------------------------------------------------------------------------------


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # orjson for JSON columns: the standard library's encoder was a tenth of the embedded
        # writer's time (a customer's attributes, an order's items, on every row).
        engine = _create_async_engine(url, connect_args={"timeout": 30}, json_serializer=_json_text)
        _configure_sqlite(engine)
        return engine
    return _create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so a writer can ask for BEGIN IMMEDIATE: a deferred
        # transaction that later writes can fail with "database is locked" instead of waiting.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's lower() folds ASCII only; Python's folds Unicode as PostgreSQL does, so
        # case-insensitive rules give the same audience on both.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get("pulsecrm_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """One engine, a reader session factory and a serialised writer transaction helper."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(pulsecrm_write=True)
        self._write_sessions = async_sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite has one writer at a time; queueing writers here beats spinning on busy_timeout.
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session that will write; the caller commits.

        On SQLite it holds the process's write lock and begins IMMEDIATE: a deferred transaction
        that reads, then writes after another writer committed, fails at once with "database is
        locked" instead of waiting its turn.
        """
        if not self.sqlite:
            async with self.sessions() as session:
                yield session
            return
        async with self._write_lock, self._write_sessions() as session:
            yield session

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]], *, attempts: int = 5) -> T:
        """Run `work` in one write transaction, committed once, retried on deadlock.

        The caller's function owns no transaction of its own: it runs statements and returns.
        """
        for attempt in range(1, attempts + 1):
            try:
                if self.sqlite:
                    async with self._write_lock, self._write_engine.begin() as conn:
                        return await work(conn)
                async with self.engine.begin() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                await asyncio.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()


def _is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(
        getattr(exc.orig, "__cause__", None), "sqlstate", None
    )
    return sqlstate in {"40P01", "40001"}


# --- migrations -----------------------------------------------------------------------------


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["database_url"] = url
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations synchronously (Alembic drives its own event loop in env.py).

    Called from inside a running loop, it runs in a thread so the two loops never nest.
    """
    from alembic import command

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(alembic_config(url), revision)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, alembic_config(url), revision).result()


# --- bulk writes ----------------------------------------------------------------------------


def one_of(
    conn: AsyncConnection, column: sa.ColumnElement[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """`column IN values`. On PostgreSQL one array parameter, so the statement text is the same
    for any number of values, written `IN (SELECT unnest($1))`: after five runs a prepared
    statement goes generic, and the generic plan of `= ANY($1)` (made while the table was
    small) scans the table comparing each row with every element -- seconds per batch at
    50k orders -- where the join form stays on the index."""
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=ARRAY(column.type))
        return column.in_(sa.select(sa.func.unnest(array)))
    return column.in_(values)


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact: PostgreSQL reads the text as numeric
    raise TypeError(f"{type(value).__name__} is not a column value")


def json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as one JSON array, for `json_to_recordset` (see `recordset`): money as exact text,
    times with their offset (a naive one is UTC, as `UTCDateTime` keeps them)."""
    return orjson.dumps(rows, default=_json_value, option=orjson.OPT_NAIVE_UTC).decode()


def recordset(table: sa.Table, columns: Sequence[str], dialect: Dialect) -> str:
    """`json_to_recordset` of the JSON array in the parameter `:rows` (see `json_rows`), with
    `columns` typed as `table` has them, named `v`.

    Rows travel to PostgreSQL as one text parameter rather than one array per column: the
    driver encoded each Decimal and datetime of those arrays in Python, ~18 µs a row of order
    (bench/ingest.py), where one JSON document costs ~4 and PostgreSQL parses it in C."""
    typed = ", ".join(f'"{c}" {table.c[c].type.compile(dialect=dialect)}' for c in columns)
    return f"json_to_recordset(CAST(:rows AS json)) AS v({typed})"


async def bulk_upsert(
    conn: AsyncConnection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    key: str,
    set_: dict[str, str] | None = None,
    where: str | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Insert `rows`, or on a `key` conflict apply `set_` (SQL over `excluded.` and the table).

    One statement on PostgreSQL (`unnest` of one array per column, the fastest upsert there);
    one executemany on SQLite. Rows must be unique on `key` and share the same columns.
    `set_` and `where` are fixed SQL written in this code base, never user input.
    `returning` (PostgreSQL only) names a column to return for each row inserted or updated.
    """
    if not rows:
        return []
    columns = list(rows[0])
    conflict = f"ON CONFLICT ({key}) DO NOTHING"
    if set_:
        assignments = ", ".join(f"{col} = {expr}" for col, expr in set_.items())
        conflict = f"ON CONFLICT ({key}) DO UPDATE SET {assignments}"
        if where:
            conflict += f" WHERE {where}"
    if conn.dialect.name == "sqlite":
        if returning:
            raise NotImplementedError("RETURNING from an executemany: read the rows instead")
        placeholders = ", ".join(f":{c}" for c in columns)
        statement = sa.text(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) {conflict}"  # noqa: S608
        ).bindparams(*(sa.bindparam(c, type_=table.c[c].type) for c in columns))
        await conn.execute(statement, rows)
        return []
    names = ", ".join(f'"{c}"' for c in columns)
    statement = sa.text(
        f"INSERT INTO {table.name} ({names}) "  # noqa: S608
        f"SELECT {names} FROM {recordset(table, columns, conn.dialect)} {conflict}"
        + (f" RETURNING {returning}" if returning else "")
    )
    result = await conn.execute(statement, {"rows": json_rows(rows)})
    return [row[0] for row in result] if returning else []


async def bulk_update(
    conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]], *, key: str
) -> None:
    """Update many rows by `key`, each with its own values: one `UPDATE … FROM unnest(…)` on
    PostgreSQL, one executemany on SQLite. Rows share the same columns."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    if conn.dialect.name == "sqlite":
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        statement = sa.text(f"UPDATE {table.name} SET {assignments} WHERE {key} = :{key}").bindparams(  # noqa: S608
            *(sa.bindparam(c, type_=table.c[c].type) for c in [key, *columns])
        )
        await conn.execute(statement, rows)
        return
    assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns)
    statement = sa.text(
        f"UPDATE {table.name} SET {assignments} FROM {recordset(table, [key, *columns], conn.dialect)} "  # noqa: S608
        f'WHERE {table.name}."{key}" = v."{key}"'
    )
    await conn.execute(statement, {"rows": json_rows(rows)})
