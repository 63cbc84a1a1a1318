"""Bulk import of CSV and NDJSON files: row-level validation, batched writes, progress.

Unlike the API (all or nothing per request), a file import writes every valid row and
reports each rejected one with its line number, since a 2-million-row export with three bad
lines should not be refused whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from pulsecrm.db import Database, utcnow
from pulsecrm.errors import validation_text
from pulsecrm.ingest.parsing import MODELS
from pulsecrm.ingest.writer import ConsentAttributes, Entry, Kind, write_batch

BATCH = 2000


@dataclass
class ImportReport:
    read: int = 0
    written: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _csv_value(text: str) -> Any:
    """CSV is all text; attribute columns get the JSON type they look like."""
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _csv_records(handle: io.TextIOBase, kind: Kind) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(handle)
    for row in reader:
        record: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for column, value in row.items():
            if column is None or value is None or value == "":
                continue
            if column.startswith("attributes."):
                attributes[column.removeprefix("attributes.")] = _csv_value(value)
            elif column.startswith("consent.") and kind == "customers":
                record.setdefault("consent", {})[column.removeprefix("consent.")] = value
            elif column == "items" and kind == "orders":
                try:
                    record["items"] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    record["items"] = value  # validation names the field
            else:
                record[column] = value
        if attributes:
            record["attributes"] = attributes
        yield reader.line_num, record


def _ndjson_records(handle: io.TextIOBase) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, exc


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".ndjson", ".jsonl", ".json"}:
        return "ndjson"
    raise ValueError(f"cannot tell the format of {path.name}: use .csv or .ndjson")


async def import_file(
    db: Database,
    kind: Kind,
    path: Path,
    *,
    default_currency: str,
    consent_attributes: ConsentAttributes,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    model = MODELS[kind]
    size = path.stat().st_size  # noqa: ASYNC240 - the CLI's own file, before any await
    report = ImportReport()
    pending: list[Any] = []

    async def flush() -> None:
        if pending:
            entry = Entry(kind, utcnow(), list(pending), source="import")
            await write_batch(
                db, [entry], default_currency=default_currency, consent_attributes=consent_attributes
            )
            report.written += len(pending)
            pending.clear()

    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        records = _csv_records(handle, kind) if detect_format(path) == "csv" else _ndjson_records(handle)
        for line, raw in records:
            report.read += 1
            if isinstance(raw, Exception):
                report.rejected.append((line, f"invalid JSON: {raw}"))
                continue
            try:
                pending.append(model.model_validate(raw))
            except ValidationError as exc:
                reasons = validation_text(exc.errors(include_url=False), subject="record")
                report.rejected.append((line, reasons))
            if len(pending) >= BATCH:
                await flush()
            if progress is not None and report.read % 500 == 0:
                # The text layer cannot tell() while iterated; the byte layer under it can.
                progress(handle.buffer.tell())  # type: ignore[attr-defined]
        await flush()
    if progress is not None:
        progress(size)
    return report
