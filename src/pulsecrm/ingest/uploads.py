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
import io
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from pulsecrm.db import Database
from pulsecrm.errors import InvalidInput
from pulsecrm.ingest import importer
from pulsecrm.ingest.importer import ImportReport, import_file
from pulsecrm.ingest.writer import ConsentAttributes, Kind

SUFFIXES = {".csv", ".ndjson", ".jsonl", ".json"}
MAX_ERRORS_SHOWN = 100
HEAD_BYTES = 64 * 1024  # what the browser sends for the mapping step: enough for a few rows
LABELS: dict[Kind, dict[str, str]] = {
    "customers": {
        "external_id": "Customer id",
        "name": "Name",
        "email": "E-mail",
        "phone": "Phone",
        "city": "City",
        "created_at": "Signed up",
    },
    "orders": {
        "external_id": "Order id",
        "customer_external_id": "Customer id",
        "amount": "Amount",
        "currency": "Currency",
        "ordered_at": "Ordered at",
        "items": "Items (JSON)",
    },
}


def preview(kind: Kind, head: bytes) -> dict[str, Any]:
    """The mapping step: each column with its suggested target and first values, and the
    targets to choose from. `head` is the start of the file; a cut last line is dropped."""
    if len(head) >= HEAD_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    text = head.decode("utf-8-sig", errors="replace")
    headers, rows = importer.read_head(io.StringIO(text, newline=""))
    if not headers:
        raise InvalidInput("the file is empty", details=[{"loc": ["file"], "message": "no header row"}])
    targets = importer.suggest_mapping(kind, headers)
    return {
        "kind": kind,
        "columns": [
            {
                "header": header,
                "target": target,
                "attribute": importer.ATTRIBUTE + importer.attribute_key(header),
                "samples": [row[i] if i < len(row) else "" for row in rows],
            }
            for i, (header, target) in enumerate(zip(headers, targets, strict=True))
        ],
        "fields": [{"value": name, "label": label} for name, label in LABELS[kind].items()],
        "required": list(importer.REQUIRED[kind]),
        "attributes": kind == "customers",
    }


def parse_mapping(raw: str | None, kind: Kind, path: Path) -> list[str] | None:
    """The user's mapping (a JSON list, one target per column), checked against the file's
    header before anything is written; None for NDJSON or when none was sent."""
    if not raw or path.suffix.lower() != ".csv":
        return None
    try:
        targets = orjson.loads(raw)
    except orjson.JSONDecodeError:
        targets = None
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise InvalidInput(
            "the mapping is a JSON list of targets, one per column",
            details=[{"loc": ["mapping"], "message": "not a list of strings"}],
        )
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        headers, _ = importer.read_head(handle, rows=0)
    importer.check_mapping(kind, headers, targets)
    return targets


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
    mapping: list[str] | None = None,
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
                mapping=mapping,
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
