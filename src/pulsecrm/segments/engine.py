"""The audience engine: exact segment counts and samples from an in-memory columnar snapshot.

The snapshot is a Polars frame with one column per catalog field, loaded with the SQL
backend's own expression for that field (`compiler.snapshot_value`), and rule trees compile
to Polars expressions through the compiler's second operator table. PostgreSQL (or SQLite)
stays the truth: the engine follows the change feed (`segments.changes`) that every write
batch appends to in its own transaction, re-reads the customers each batch touched, and
answers only while it has caught up with the feed within `audience_max_lag_seconds`;
otherwise, and for a condition it did not load, the caller counts in SQL.

Layout: `base` (sorted by id, rebuilt rarely) plus `delta` (customers re-read since) and
`dead` (base rows a delta row replaces). A count is base - dead + delta, so applying a
batch costs a small gather, not a rewrite of the frame; the two are merged once the delta
passes a share of the base. Each version is immutable and swapped in whole, so a query
reading one never sees half an update.

The base is shared by the processes of one machine (`segments.shelf`): the first to need one
builds it and publishes it as an Arrow file, and the others map that file read-only instead of
building their own, as does a process that merges after another has published. Each process
keeps its delta to itself. Without a shelf, each process holds a snapshot of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.customers.models import Customer
from pulsecrm.db import Database, one_of
from pulsecrm.segments import changes
from pulsecrm.segments.catalog import Catalog, CatalogCache, FieldSpec
from pulsecrm.segments.compiler import (
    FrameColumn,
    NotInMemory,
    compile_frame,
    frame_matches,
    micros,
    same_field,
    scans_text,
    snapshot_value,
)
from pulsecrm.segments.rules import CheckedGroup
from pulsecrm.segments.shelf import Mapped, Shelf

log = logging.getLogger(__name__)

customers_t: sa.Table = Customer.__table__  # type: ignore[assignment]
_PG_DIALECT = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
PolarsType = Any  # a Polars data type class (pl.Int64, ...)

_DTYPES: dict[str, PolarsType] = {
    "money": pl.Int64,
    "integer": pl.Int64,
    "number": pl.Float64,
    "date": pl.Int64,
    "boolean": pl.Int8,
    "text": pl.String,
}
BUILD_CHUNK = 1_000_000  # rows per COPY while building: bounds the CSV held at once
REREAD_CHUNK = 5_000  # customers per query when applying the feed
FEED_ROWS = 200  # feed rows per read while catching up
# Merge the delta into the base when it holds this share of the base (or MERGE_MIN rows).
MERGE_SHARE = 0.05
MERGE_MIN = 20_000


@dataclass(frozen=True)
class Answer:
    count: int
    sample_ids: list[int]
    lag_ms: float  # the snapshot had caught up with the feed this long before the query


@dataclass(frozen=True)
class Snapshot:
    columns: dict[str, tuple[FieldSpec, FrameColumn]]
    base: pl.DataFrame  # "id" then one column per field; sorted by id
    base_ids: np.ndarray[Any, np.dtype[np.int64]]
    dead_positions: np.ndarray[Any, np.dtype[np.int64]]  # rows of base a delta row replaces
    dead: pl.DataFrame  # those rows, gathered
    delta: pl.DataFrame  # customers re-read since the base was built; sorted by id
    seq: int  # the change feed is applied up to here
    build_seconds: float = 0.0
    base_seq: int = 0  # the feed position the base itself is complete up to
    shared: str | None = None  # the shelf's file the base is mapped from, if it is

    @property
    def rows(self) -> int:
        return self.base.height - self.dead.height + self.delta.height

    @property
    def nbytes(self) -> int:
        dictionaries = sum(
            col.dictionary.estimated_size() for _, col in self.columns.values() if col.dictionary is not None
        )
        frames = self.base.estimated_size() + self.dead.estimated_size() + self.delta.estimated_size()
        return int(frames + dictionaries + self.base_ids.nbytes)

    def answer(self, tree: CheckedGroup, now: datetime, sample_size: int) -> tuple[int, list[int]]:
        """(count, the first `sample_size` matching ids). Raises NotInMemory."""
        expr = compile_frame(tree, columns=self.columns, now=now)
        # A tree that scans text is evaluated in stages, so the scan reads only the rows the
        # rest leaves undecided; any other is one fused Polars expression, which is faster.
        staged = scans_text(tree, columns=self.columns)

        def first(frame: pl.DataFrame, k: int) -> tuple[int, list[int]]:
            if staged:
                matches = frame_matches(tree, frame, columns=self.columns, now=now)
                return int(matches.sum()), frame["id"].filter(pl.Series(matches)).head(k).to_list()
            out = frame.select(n=expr.sum(), ids=pl.col("id").filter(expr).head(k).implode())
            return int(out["n"][0]), list(out["ids"][0])

        dead_n, dead_ids = first(self.dead, self.dead.height) if self.dead.height else (0, [])
        base_n, base_ids = first(self.base, sample_size + dead_n)
        delta_n, delta_ids = first(self.delta, sample_size) if self.delta.height else (0, [])
        gone = set(dead_ids)
        sample = sorted([i for i in base_ids if i not in gone] + delta_ids)[:sample_size]
        return base_n - dead_n + delta_n, sample

    def apply(self, fresh: pl.DataFrame, seq: int) -> Snapshot:
        """This snapshot with `fresh` (re-read rows, encoded) replacing the rows of the same ids."""
        if fresh.height == 0:
            return replace(self, seq=seq)
        ids = fresh["id"].to_numpy()
        at = np.searchsorted(self.base_ids, ids)
        inside = at < len(self.base_ids)
        found = at[inside][self.base_ids[at[inside]] == ids[inside]]
        dead_positions = np.union1d(self.dead_positions, found)
        delta = pl.concat([self.delta.filter(~pl.col("id").is_in(fresh["id"].implode())), fresh]).sort("id")
        return replace(
            self,
            dead_positions=dead_positions,
            dead=self.base[dead_positions] if len(dead_positions) else self.base.clear(),
            delta=delta,
            seq=seq,
        )

    @property
    def merge_due(self) -> bool:
        return self.delta.height + len(self.dead_positions) > max(MERGE_MIN, MERGE_SHARE * self.base.height)

    def merged(self) -> Snapshot:
        """The delta folded into a new base."""
        keep = np.ones(self.base.height, dtype=bool)
        keep[self.dead_positions] = False
        base = pl.concat([self.base.filter(pl.Series(keep)), self.delta]).sort("id")
        return _snapshot(self.columns, base, self.seq, self.build_seconds)


def _snapshot(
    columns: dict[str, tuple[FieldSpec, FrameColumn]],
    base: pl.DataFrame,
    seq: int,
    build_seconds: float,
    shared: str | None = None,
) -> Snapshot:
    return Snapshot(
        columns=columns,
        base=base,
        base_ids=base["id"].to_numpy(),
        dead_positions=np.empty(0, dtype=np.int64),
        dead=base.clear(),
        delta=base.clear(),
        seq=seq,
        build_seconds=build_seconds,
        base_seq=seq,
        shared=shared,
    )


# --- loading ---------------------------------------------------------------------------------


def _query(specs: Sequence[FieldSpec], dialect: str) -> sa.Select[Any]:
    values = [snapshot_value(spec, dialect).label(spec.name) for spec in specs]
    return sa.select(customers_t.c.id, *values)


def _schema(specs: Sequence[FieldSpec]) -> dict[str, PolarsType]:
    return {"id": pl.Int64, **{s.name: _DTYPES[s.type] for s in specs}}


def _typed(frame: pl.DataFrame, specs: Sequence[FieldSpec]) -> pl.DataFrame:
    return frame.with_columns([pl.col(s.name).cast(pl.Boolean) for s in specs if s.type == "boolean"])


def _from_rows(rows: Sequence[Sequence[Any]], specs: Sequence[FieldSpec]) -> pl.DataFrame:
    """A frame from fetched rows (any dialect): SQLite hands back datetimes, not microseconds."""
    columns: dict[str, list[Any]] = {"id": [r[0] for r in rows]}
    for i, spec in enumerate(specs, start=1):
        values = [r[i] for r in rows]
        if spec.type == "date":
            values = [micros(v) if isinstance(v, datetime) else v for v in values]
        columns[spec.name] = values
    return _typed(pl.DataFrame(columns, schema=_schema(specs)), specs)


async def read_frame(
    conn: AsyncConnection,
    specs: Sequence[FieldSpec],
    where: sa.ColumnElement[bool],
    *,
    limit: int,
) -> pl.DataFrame:
    """The matching customers (the first `limit` by id) with their values of `specs`, in the
    snapshot's units: money in cents, times in microseconds, text lower-cased, booleans as
    booleans. Text is not dictionary-encoded. For readers of a bounded slice (lookalikes)."""
    query = _query(specs, conn.dialect.name).where(where).order_by(customers_t.c.id).limit(limit)
    return _from_rows((await conn.execute(query)).all(), specs)


async def _copy_chunk(
    conn: AsyncConnection, specs: Sequence[FieldSpec], after: int, limit: int
) -> pl.DataFrame:
    """PostgreSQL: one chunk by id."""
    query = (
        _query(specs, "postgresql").where(customers_t.c.id > after).order_by(customers_t.c.id).limit(limit)
    )
    return await _copy(conn, query, specs)


async def _copy(conn: AsyncConnection, query: sa.Select[Any], specs: Sequence[FieldSpec]) -> pl.DataFrame:
    """PostgreSQL: the query's rows through COPY ... TO STDOUT (CSV), parsed by Polars: ~10x
    faster than fetching rows into Python objects (which also holds the event loop the
    process's requests and imports share)."""
    compiled = query.compile(dialect=_PG_DIALECT, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or []]
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg's connection: COPY is not in the DB-API
    buffer = io.BytesIO()

    async def write(data: bytes) -> None:
        buffer.write(data)

    await driver.copy_from_query(str(compiled), *params, output=write, format="csv")
    schema = _schema(specs)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    frame = pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)
    return _typed(frame, specs)


async def _fetch_all(conn: AsyncConnection, specs: Sequence[FieldSpec]) -> list[pl.DataFrame]:
    if conn.dialect.name == "postgresql":
        chunks: list[pl.DataFrame] = []
        after = 0
        while True:
            chunk = await _copy_chunk(conn, specs, after, BUILD_CHUNK)
            if chunk.height == 0:
                return chunks
            chunks.append(chunk)
            after = int(chunk["id"][-1])
    rows = (await conn.execute(_query(specs, "sqlite").order_by(customers_t.c.id))).all()
    return [_from_rows(rows, specs)]


async def _reread(conn: AsyncConnection, specs: Sequence[FieldSpec], external_ids: list[str]) -> pl.DataFrame:
    frames = []
    for start in range(0, len(external_ids), REREAD_CHUNK):
        part = external_ids[start : start + REREAD_CHUNK]
        query = _query(specs, conn.dialect.name).where(one_of(conn, customers_t.c.external_id, part))
        if conn.dialect.name == "postgresql":
            frames.append(await _copy(conn, query, specs))
        else:
            frames.append(_from_rows((await conn.execute(query)).all(), specs))
    return pl.concat(frames).sort("id")


def _encode(
    frame: pl.DataFrame, columns: dict[str, tuple[FieldSpec, FrameColumn]]
) -> tuple[pl.DataFrame, dict[str, tuple[FieldSpec, FrameColumn]]]:
    """Dictionary-encode the text columns that are encoded, growing their dictionaries with
    values not seen before (codes already handed out never change)."""
    updated = dict(columns)
    for name, (spec, col) in columns.items():
        if col.dictionary is None:
            continue
        values = frame[name]
        new = values.drop_nulls().unique(maintain_order=True)
        new = new.filter(~new.is_in(col.dictionary.implode()))
        dictionary = pl.concat([col.dictionary, new]) if new.len() else col.dictionary
        codes = values.replace_strict(
            dictionary,
            pl.Series(range(dictionary.len()), dtype=pl.UInt32),
            default=None,
            return_dtype=pl.UInt32,
        )
        frame = frame.with_columns(codes.alias(name))
        updated[name] = (spec, FrameColumn(name, dictionary))
    return frame, updated


def _choose_columns(
    sample: pl.DataFrame, specs: Sequence[FieldSpec]
) -> dict[str, tuple[FieldSpec, FrameColumn]]:
    """Text with few distinct values (cities, tiers) is dictionary-encoded: 4 bytes a row, and
    a text test runs once per distinct value instead of once per customer."""
    columns = {}
    for spec in specs:
        dictionary = None
        if spec.type == "text" and sample.height:
            distinct = sample[spec.name].drop_nulls().unique(maintain_order=True)
            if distinct.len() * 2 <= sample.height and distinct.len() <= 100_000:
                dictionary = pl.Series(spec.name, [], dtype=pl.String)
        columns[spec.name] = (spec, FrameColumn(spec.name, dictionary))
    return columns


async def build(db: Database, catalog: Catalog) -> tuple[Snapshot, datetime | None]:
    """A snapshot from cold: every customer, every field of the catalog; and the time on the
    feed row it is complete up to (None when the feed is empty)."""
    started = time.perf_counter()
    specs = [spec for spec in catalog.fields if spec.on_customer]
    async with db.engine.connect() as conn:
        # The feed position first: a batch that commits during the load is applied again
        # afterwards, which is harmless (re-reading a customer is idempotent).
        seq, feed_at = await changes.position(conn)
        chunks = await _fetch_all(conn, specs)
    return await asyncio.to_thread(_assemble, chunks, specs, seq, started), feed_at


def _assemble(chunks: list[pl.DataFrame], specs: list[FieldSpec], seq: int, started: float) -> Snapshot:
    first = (
        chunks[0]
        if chunks
        else pl.DataFrame(schema={"id": pl.Int64, **{s.name: _DTYPES[s.type] for s in specs}})
    )
    columns = _choose_columns(first, specs)
    encoded = []
    for chunk in chunks or [first]:
        frame, columns = _encode(chunk, columns)
        encoded.append(frame)
    base = pl.concat(encoded).rechunk()
    return _snapshot(columns, base, seq, time.perf_counter() - started)


# --- the engine a process holds ------------------------------------------------------------------


@dataclass
class EngineStatus:
    state: str = "idle"  # idle | building | ready | failed
    caught_up_at: float = 0.0  # monotonic: the start of the last read of the feed that found its end
    rebuild_wanted: bool = False
    applied_batches: int = 0
    # Per applied batch: from its feed row's time (just before it committed) to applied here.
    lags_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))


class AudienceEngine:
    """Builds a snapshot on first use, then follows the change feed in a background task."""

    def __init__(
        self,
        db: Database,
        catalog: CatalogCache,
        *,
        enabled: bool = True,
        max_lag_seconds: float = 2.0,
        poll_seconds: float = 0.2,
        shelf: Shelf | None = None,
    ) -> None:
        self.db = db
        self.shelf = shelf
        self._joined = shelf  # left at close, even if sharing stopped on the way (see _publish)
        self._mapped: Mapped | None = None  # the shelf's file this process's base is mapped from
        self._publishing: asyncio.Task[None] | None = None  # a merged base being written
        self._ready: tuple[pl.DataFrame, Mapped] | None = None  # (that base, its mapping) once written
        self.catalog = catalog
        self.enabled = enabled
        self.max_lag_seconds = max_lag_seconds
        self.poll_seconds = poll_seconds
        self.snapshot: Snapshot | None = None
        self.status = EngineStatus()
        self._task: asyncio.Task[None] | None = None
        self._apply_lock = asyncio.Lock()
        self._last_read = 0.0  # monotonic: last successful read of the feed

    # --- answering ---

    async def answer(
        self, tree: CheckedGroup, catalog: Catalog, now: datetime, *, sample_size: int
    ) -> Answer | str:
        """An answer from memory, or the reason the caller must ask SQL."""
        if not self.enabled:
            return "engine_off"
        self.start()
        snapshot = self.snapshot
        if snapshot is None:
            return "building" if self.status.state != "failed" else "engine_failed"
        if any(_missing(snapshot, spec) for spec in catalog.fields if spec.on_customer):
            self.status.rebuild_wanted = True  # a new attribute, or one that changed type
        lag = time.monotonic() - self.status.caught_up_at
        if lag > self.max_lag_seconds:
            return "stale"
        try:
            count, ids = await asyncio.to_thread(snapshot.answer, tree, now, sample_size)
        except NotInMemory as exc:
            return exc.reason
        return Answer(count, ids, round(lag * 1000, 1))

    # --- keeping fresh ---

    def start(self) -> None:
        if self._task is None and self.enabled:
            self._task = asyncio.create_task(self._run(), name="audience-engine")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._publishing is not None:
            self._publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publishing
        if self._joined is not None:
            self._hold(None)
            await asyncio.to_thread(self._joined.leave)  # the file goes if no other process maps it

    async def rebuild(self) -> Snapshot:
        self.status.state = "building" if self.snapshot is None else self.status.state
        self.status.rebuild_wanted = False
        async with self.db.sessions() as session:
            self.catalog.invalidate()
            catalog = await self.catalog.get(session)
        if self.shelf is None:
            snapshot, _ = await build(self.db, catalog)
        else:
            snapshot = await self._shared_build(catalog)
        async with self._apply_lock:
            # A base taken from the shelf may be behind the snapshot answering now: it takes
            # over once it has caught up (below).
            if self.snapshot is None or snapshot.seq >= self.snapshot.seq:
                self.snapshot = snapshot
            self.status.state = "ready"
        log.info(
            "audience snapshot %s: %d customers, %.1f MB, %.2f s",
            f"mapped from {snapshot.shared}" if snapshot.shared else "built",
            snapshot.rows,
            snapshot.nbytes / 1e6,
            snapshot.build_seconds,
        )
        await self.catch_up(snapshot)
        return snapshot

    async def catch_up(self, start: Snapshot | None = None) -> None:
        """Apply every feed row committed before this call started.

        A read of the feed sees every batch committed before it began (the feed is in commit
        order), so once what a read found that was short of a full page is applied, the
        snapshot is caught up as of that read's start. Marking it then, not only when a read
        comes back empty, keeps a follower fresh under writes that never pause: there the
        loop may never find the feed empty, yet each batch is applied within a round or two.

        From `start` if given, else from the snapshot answering now. A snapshot further back
        on the feed than the one answering (a base taken from the shelf) answers only once it
        has caught up with it."""
        async with self._apply_lock:
            snapshot = start if start is not None else self.snapshot
            if snapshot is None:
                return
            shown = self.snapshot.seq if self.snapshot is not None else -1
            specs = [spec for spec, _ in snapshot.columns.values()]
            async with self.db.engine.connect() as conn:
                while True:
                    read_at = time.monotonic()
                    rows = await changes.since(conn, snapshot.seq, limit=FEED_ROWS)
                    if not rows:
                        break
                    ids = sorted({i for row in rows for i in row.external_ids})
                    fresh = await _reread(conn, specs, ids)
                    await conn.rollback()  # end the read transaction; the next read sees newer commits
                    snapshot = await asyncio.to_thread(self._apply, snapshot, fresh, rows[-1].seq)
                    if snapshot.merge_due:
                        # A base another process published may take the merge's place: the
                        # loop then goes on from that base's feed position.
                        snapshot = await self._merge(snapshot, rows[-1].at)
                    snapshot = await self._swap(snapshot)
                    if snapshot.seq < shown:
                        continue
                    self.snapshot, shown = snapshot, snapshot.seq
                    applied = datetime.now(UTC)
                    self.status.applied_batches += len(rows)
                    self.status.lags_ms.extend((applied - row.at).total_seconds() * 1000 for row in rows)
                    if len(rows) < FEED_ROWS and snapshot.seq == rows[-1].seq:  # it reached the feed's end
                        self.status.caught_up_at = read_at
                await conn.rollback()
            self.snapshot = await self._swap(snapshot)  # at the feed's end: as far along as any shown
            self._last_read = time.monotonic()
            self.status.caught_up_at = read_at

    def _apply(self, snapshot: Snapshot, fresh: pl.DataFrame, seq: int) -> Snapshot:
        encoded, columns = _encode(fresh, snapshot.columns)
        return replace(snapshot, columns=columns).apply(encoded, seq)

    # --- sharing the base (see segments.shelf) ---

    async def _shared_build(self, catalog: Catalog) -> Snapshot:
        """The newest published base if it is this database's and has the catalog's fields,
        else a new one, built and published. One process builds at a time, so N processes
        starting together load the customers once."""
        shelf = self.shelf  # _publish may stop the sharing on the way
        assert shelf is not None
        started = time.perf_counter()
        specs = [spec for spec in catalog.fields if spec.on_customer]
        lock = await asyncio.to_thread(shelf.lock, wait=True)
        try:
            adopted = await self._adopt(specs, after=-1)
            if adopted is not None:
                return replace(adopted, build_seconds=time.perf_counter() - started)
            snapshot, feed_at = await build(self.db, catalog)
            return await self._publish(snapshot, feed_at)
        finally:
            shelf.unlock(lock)

    async def _merge(self, snapshot: Snapshot, feed_at: datetime) -> Snapshot:
        """Fold the delta into the base: by taking a newer base another process published, or
        by merging here. A merged base answers at once from this process's memory; it is
        published in the background (writing it takes a few hundred ms at 1M customers, which
        the follower would otherwise spend behind the feed) and swapped for its mapping once
        written (`_swap`). While another process merges, or this one still writes its last
        merge, wait for that file (the delta grows a little meanwhile)."""
        shelf = self.shelf  # a failed write may stop the sharing on the way
        if shelf is None:
            return await asyncio.to_thread(snapshot.merged)
        if self._publishing is not None and not self._publishing.done():
            return snapshot
        lock = await asyncio.to_thread(shelf.lock, wait=False)
        if lock is None:
            return snapshot
        try:
            specs = [spec for spec, _ in snapshot.columns.values()]
            adopted = await self._adopt(specs, after=snapshot.base_seq)
            if adopted is not None:
                shelf.unlock(lock)
                return adopted
            merged = await asyncio.to_thread(snapshot.merged)
        except BaseException:
            shelf.unlock(lock)
            raise
        self._publishing = asyncio.create_task(self._publish_merged(merged, feed_at, lock))
        return merged

    async def _publish_merged(self, merged: Snapshot, feed_at: datetime, lock: IO[bytes] | None) -> None:
        """Write a merged base to the shelf, holding the build lock until it is there."""
        assert self._joined is not None
        try:
            mapped = await self._write(merged, feed_at)
            if mapped is not None:
                self._ready = (merged.base, mapped)
        finally:
            self._joined.unlock(lock)

    async def _swap(self, snapshot: Snapshot) -> Snapshot:
        """`snapshot` on the mapping of its base, once that base's background write is done
        (unchanged if it is not, or if the base was merged again or replaced meanwhile)."""
        ready, self._ready = self._ready, None
        if ready is None:
            return snapshot
        base, mapped = ready
        if snapshot.base is not base or self.shelf is None:
            mapped.release()  # the file stays for the other processes, until a newer one
            return snapshot
        self._hold(mapped)
        await asyncio.to_thread(self.shelf.tidy, mapped.published.path)
        return replace(
            snapshot,
            base=mapped.frame,
            base_ids=mapped.frame["id"].to_numpy(),
            shared=mapped.published.path.name,
        )

    async def settled(self) -> None:
        """Wait for a merged base's background write and take its mapping (for tests)."""
        if self._publishing is not None:
            await self._publishing
        async with self._apply_lock:
            if self.snapshot is not None:
                self.snapshot = await self._swap(self.snapshot)

    async def _adopt(self, specs: Sequence[FieldSpec], *, after: int) -> Snapshot | None:
        """The newest published base, mapped, if it is further along the feed than `after`,
        holds exactly `specs`, and is this database's: the feed row it names is still there
        with the same time (a file of another database, or of this one before it was emptied,
        fails that)."""
        assert self.shelf is not None
        published = await asyncio.to_thread(self.shelf.newest)
        if published is None or published.seq <= after:
            return None
        columns = _columns_of(published.meta, specs)
        if columns is None:
            return None
        async with self.db.engine.connect() as conn:
            at = await changes.at(conn, published.seq)
        if at is None or at.isoformat() != published.meta.get("feed_at"):
            return None
        mapped = await asyncio.to_thread(self.shelf.map, published)
        if mapped is None:
            return None
        if mapped.frame.schema != _encoded_schema(columns):
            mapped.release()
            return None
        self._hold(mapped)
        await asyncio.to_thread(self.shelf.tidy, published.path)  # the base let go of, if it was the last
        return _snapshot(columns, mapped.frame, published.seq, 0.0, shared=published.path.name)

    async def _publish(self, snapshot: Snapshot, feed_at: datetime | None) -> Snapshot:
        """`snapshot` (a base with no delta) written to the shelf and mapped back from it, so
        its memory is the shared file's; unchanged if it can't be shared."""
        mapped = await self._write(snapshot, feed_at)
        if mapped is None:
            return snapshot
        self._hold(mapped)
        if self.shelf is not None:
            await asyncio.to_thread(self.shelf.tidy, mapped.published.path)
        return _snapshot(
            snapshot.columns,
            mapped.frame,
            snapshot.seq,
            snapshot.build_seconds,
            shared=mapped.published.path.name,
        )

    async def _write(self, snapshot: Snapshot, feed_at: datetime | None) -> Mapped | None:
        """The base of `snapshot` published and mapped, or None if it can't be shared."""
        shelf = self.shelf
        if shelf is None or feed_at is None:  # an empty feed: nothing to check the file against
            return None
        meta = {
            "seq": snapshot.seq,
            "feed_at": feed_at.isoformat(),
            "columns": [
                {
                    "name": spec.name,
                    "type": spec.type,
                    "attribute": spec.attribute,
                    "dictionary": None if col.dictionary is None else col.dictionary.to_list(),
                }
                for spec, col in snapshot.columns.values()
            ],
        }
        try:
            published = await asyncio.to_thread(shelf.publish, snapshot.base, meta)
            return await asyncio.to_thread(shelf.map, published)
        except OSError as exc:
            # A full or vanished directory (a container's /dev/shm is 64 MB by default): this
            # process keeps its snapshot to itself from now on, rather than failing every merge.
            log.warning("audience snapshot not shared between processes from now on: %s", exc)
            self.shelf = None
            return None

    def _hold(self, mapped: Mapped | None) -> None:
        if self._mapped is not None:
            self._mapped.release()
        self._mapped = mapped

    async def _run(self) -> None:
        while True:
            try:
                if (
                    self.snapshot is None
                    or self.status.rebuild_wanted
                    or time.monotonic() - self._last_read > changes.RETENTION.total_seconds() / 2
                ):
                    await self.rebuild()
                else:
                    await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database away, or a bug: previews fall back to SQL (the snapshot goes
                # stale) until a later round succeeds.
                log.exception("audience engine: refresh failed")
                if self.snapshot is None:
                    self.status.state = "failed"
                await asyncio.sleep(min(5.0, self.max_lag_seconds))
            await asyncio.sleep(self.poll_seconds)

    def describe(self) -> dict[str, Any]:
        snapshot = self.snapshot
        return {
            "state": self.status.state,
            "customers": snapshot.rows if snapshot else 0,
            "bytes": snapshot.nbytes if snapshot else 0,
            "build_seconds": round(snapshot.build_seconds, 3) if snapshot else None,
            # The shelf's file the base is mapped from (shared with this machine's other
            # processes), or None: a base of this process's own.
            "shared_file": snapshot.shared if snapshot else None,
            "feed_seq": snapshot.seq if snapshot else None,
            "seconds_since_caught_up": round(time.monotonic() - self.status.caught_up_at, 3)
            if snapshot
            else None,
            "applied_batches": self.status.applied_batches,
            "batch_lag_ms": _percentiles(list(self.status.lags_ms)),
        }


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50": round(float(p50), 1), "p99": round(float(p99), 1), "max": round(max(values), 1)}


def _columns_of(
    meta: dict[str, Any], specs: Sequence[FieldSpec]
) -> dict[str, tuple[FieldSpec, FrameColumn]] | None:
    """A published base's columns for `specs`, dictionaries included; None unless it holds
    exactly those fields."""
    stored = {c["name"]: c for c in meta.get("columns", [])}
    if set(stored) != {spec.name for spec in specs}:
        return None
    columns = {}
    for spec in specs:
        c = stored[spec.name]
        if (c["type"], c["attribute"]) != (spec.type, spec.attribute):
            return None
        values = c["dictionary"]
        dictionary = None if values is None else pl.Series(spec.name, values, dtype=pl.String)
        columns[spec.name] = (spec, FrameColumn(spec.name, dictionary))
    return columns


def _encoded_schema(columns: dict[str, tuple[FieldSpec, FrameColumn]]) -> pl.Schema:
    """The base's schema: text that is dictionary-encoded holds UInt32 codes."""
    out: dict[str, PolarsType] = {"id": pl.Int64}
    for name, (spec, col) in columns.items():
        dtype = pl.Boolean if spec.type == "boolean" else _DTYPES[spec.type]
        out[name] = pl.UInt32 if col.dictionary is not None else dtype
    return pl.Schema(out)


def _missing(snapshot: Snapshot, spec: FieldSpec) -> bool:
    loaded = snapshot.columns.get(spec.name)
    return loaded is None or not same_field(loaded[0], spec)
