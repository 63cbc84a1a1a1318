"""Bulk import of an uploaded file, with its progress streamed back as NDJSON lines.

The upload is spooled to a temporary file first (the importer reads a path and reports bytes
read), then imported row by row in batches: bad rows are skipped and listed with their line
numbers, like `pulsecrm import`. Lines of the answer:

    {"phase": "importing", "done": <bytes read>, "total": <file size>}   (repeated)
    {"phase": "done", "read": n, "written": n, "rejected": n, "errors": [{"line", "reason"}…]}
    {"phase": "failed", "error": "…"}                                     (instead of done)
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from pulsecrm.db import Database
from pulsecrm.errors import InvalidInput
from pulsecrm.ingest.importer import ImportReport, import_file
from pulsecrm.ingest.writer import ConsentAttributes, Kind

SUFFIXES = {".csv", ".ndjson", ".jsonl", ".json"}
MAX_ERRORS_SHOWN = 100


def check_suffix(suffix: str, *, field: str) -> str:
    suffix = suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            "upload a .csv or .ndjson file",
            details=[{"loc": [field], "message": f"unknown file type {suffix!r}"}],
        )
    return suffix


def spool_file(source: BinaryIO, suffix: str) -> tuple[Path, int]:
    """Copy a file object to a temporary file (blocking: run it in a thread)."""
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        shutil.copyfileobj(source, handle, 1 << 20)
    path = Path(handle.name)
    return path, path.stat().st_size


async def spool_stream(chunks: AsyncIterator[bytes], suffix: str, *, max_bytes: int) -> tuple[Path, int]:
    handle = await asyncio.to_thread(_temporary, suffix)
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise InvalidInput(f"files are at most {max_bytes:,} bytes", details=[{"loc": ["body"]}])
            await asyncio.to_thread(_write, handle, chunk)
    except BaseException:
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(Path(handle.name).unlink, missing_ok=True)
        raise
    await asyncio.to_thread(handle.close)
    return Path(handle.name), size


def _temporary(suffix: str) -> Any:  # the caller closes it
    return tempfile.NamedTemporaryFile(suffix=suffix, delete=False)


def _write(handle: Any, chunk: bytes) -> None:
    handle.write(chunk)


def _line(value: object) -> bytes:
    return orjson.dumps(value) + b"\n"


async def import_with_progress(
    db: Database,
    kind: Kind,
    path: Path,
    size: int,
    *,
    default_currency: str,
    consent_attributes: ConsentAttributes,
) -> AsyncIterator[bytes]:
    """Import `path` (deleted afterwards), yielding progress lines as it goes."""
    updates: asyncio.Queue[int] = asyncio.Queue()

    async def run() -> ImportReport:
        try:
            return await import_file(
                db,
                kind,
                path,
                default_currency=default_currency,
                consent_attributes=consent_attributes,
                progress=updates.put_nowait,
            )
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    # A task of its own: a client that goes away does not cut an import off half-way.
    task = asyncio.ensure_future(run())
    yield _line({"phase": "importing", "done": 0, "total": size})
    while not task.done():
        getter = asyncio.ensure_future(updates.get())
        finished, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in finished:
            yield _line({"phase": "importing", "done": getter.result(), "total": size})
        else:
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter
    try:
        report = await asyncio.shield(task)
    except Exception as exc:
        yield _line({"phase": "failed", "error": str(exc)})
        return
    yield _line(
        {
            "phase": "done",
            "read": report.read,
            "written": report.written,
            "rejected": len(report.rejected),
            "errors": [{"line": n, "reason": why} for n, why in report.rejected[:MAX_ERRORS_SHOWN]],
        }
    )
