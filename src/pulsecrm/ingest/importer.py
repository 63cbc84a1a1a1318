"""Bulk import of CSV and NDJSON files: row-level validation, batched writes, progress.

Unlike the API (all or nothing per request), a file import writes every valid row and
reports each rejected one with its line number, since a 2-million-row export with three bad
lines should not be refused whole.

A CSV exported from another tool is taken as it is: each column is mapped to a field
(`suggest_mapping` knows the common header spellings: "Customer ID", "E-mail", "Phone Number",
"Signup Date"), and a customer column that is no field becomes a custom attribute, typed by its
values (numbers, yes/no, dates). The upload page shows the mapping with the first rows and lets
the user change it before anything is written.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import functools
import io
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from pulsecrm.db import Database, utcnow
from pulsecrm.errors import InvalidInput, validation_text
from pulsecrm.ingest.parsing import MODELS
from pulsecrm.ingest.writer import ConsentAttributes, Entry, Kind, write_batch

BATCH = 2000
WRITERS = 2  # batches written at once on PostgreSQL (see import_file)


@dataclass
class ImportReport:
    read: int = 0
    written: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


ATTRIBUTE = "attributes."
SKIP = ""  # a column mapped to nothing is left out
FIELDS: dict[Kind, tuple[str, ...]] = {
    "customers": (
        "external_id",
        "name",
        "email",
        "phone",
        "city",
        "created_at",
        "consent.email",
        "consent.sms",
    ),
    "orders": ("external_id", "customer_external_id", "amount", "currency", "ordered_at", "items"),
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    "customers": ("external_id", "name"),
    "orders": ("external_id", "customer_external_id", "amount", "ordered_at"),
}
# Header spellings seen in exports, reduced to lowercase letters and digits.
SPELLINGS: dict[Kind, dict[str, tuple[str, ...]]] = {
    "customers": {
        "external_id": (
            "externalid",
            "customerid",
            "id",
            "customerno",
            "customernumber",
            "custid",
            "clientid",
        ),
        "name": ("name", "fullname", "customername", "customer"),
        "email": ("email", "emailaddress", "mail", "emailid"),
        "phone": ("phone", "phonenumber", "mobile", "mobilenumber", "mobileno", "contactnumber", "telephone"),
        "city": ("city", "town"),
        "created_at": ("createdat", "signupdate", "signedup", "signedupat", "joined", "joindate", "created"),
        "consent.email": ("consentemail", "emailconsent", "emailoptin"),
        "consent.sms": ("consentsms", "smsconsent", "smsoptin"),
    },
    "orders": {
        "external_id": ("externalid", "orderid", "id", "orderno", "ordernumber"),
        "customer_external_id": ("customerexternalid", "customerid", "custid", "customer", "customerno"),
        "amount": ("amount", "total", "ordertotal", "orderamount", "value"),
        "currency": ("currency", "currencycode"),
        "ordered_at": ("orderedat", "orderdate", "date", "createdat", "purchasedate", "placedat"),
        "items": ("items", "lineitems"),
    },
}
DATE_FIELDS = {"created_at", "ordered_at"}
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d %b %Y", "%d %B %Y")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _reduced(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def attribute_key(header: str) -> str:
    """`Loyalty Tier` becomes the attribute `loyalty_tier`."""
    key = re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")
    return key or "column"


def suggest_mapping(kind: Kind, headers: list[str]) -> list[str]:
    """A target per column: a field, `attributes.<key>`, or SKIP; each field used once."""
    taken: set[str] = set()
    targets: list[str] = []
    for header in headers:
        target = SKIP
        if header.startswith(ATTRIBUTE) and kind == "customers":
            target = ATTRIBUTE + attribute_key(header.removeprefix(ATTRIBUTE))
        elif header in FIELDS[kind]:
            target = header
        else:
            reduced = _reduced(header)
            for name, spellings in SPELLINGS[kind].items():
                if reduced in spellings:
                    target = name
                    break
            if not target and kind == "customers" and header.strip():
                target = ATTRIBUTE + attribute_key(header)
        if target and not target.startswith(ATTRIBUTE):
            if target in taken:
                target = ATTRIBUTE + attribute_key(header) if kind == "customers" else SKIP
            taken.add(target)
        targets.append(target)
    return targets


def check_mapping(kind: Kind, headers: list[str], targets: list[str]) -> None:
    """Refuse a mapping that names unknown fields, uses one twice, or leaves out a required one."""
    if len(targets) != len(headers):
        raise InvalidInput(
            f"the mapping has {len(targets)} targets for {len(headers)} columns",
            details=[{"loc": ["mapping"], "message": "one target per column"}],
        )
    fields = [t for t in targets if t and not t.startswith(ATTRIBUTE)]
    unknown = sorted({t for t in fields if t not in FIELDS[kind]})
    if unknown or (kind != "customers" and any(t.startswith(ATTRIBUTE) for t in targets)):
        raise InvalidInput(
            f"unknown target(s) in the mapping: {', '.join(unknown) or 'attributes'}",
            details=[{"loc": ["mapping"], "message": "unknown target"}],
        )
    twice = sorted({t for t in fields if fields.count(t) > 1})
    if twice:
        raise InvalidInput(
            f"each field takes one column; mapped more than once: {', '.join(twice)}",
            details=[{"loc": ["mapping"], "message": f"{name} mapped twice"} for name in twice],
        )
    missing = [name for name in REQUIRED[kind] if name not in fields]
    if missing:
        raise InvalidInput(
            f"choose the column that holds: {', '.join(missing)}",
            details=[{"loc": ["mapping"], "message": f"{name} is not mapped"} for name in missing],
        )


# Cells repeat (tiers, yes/no, days): each distinct text is typed once per process.
@functools.lru_cache(maxsize=16_384)
def _csv_value(text: str) -> Any:
    """CSV is all text; attribute columns get the type they look like: numbers, yes/no, dates
    (kept as ISO dates), else text. Leading zeros stay text (a PIN code is no number)."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in {"true", "false", "yes", "no"}:
        return lowered in {"true", "yes"}
    if not (len(stripped) > 1 and stripped.startswith("0") and stripped[1:2].isdigit()):
        try:
            return int(stripped)
        except ValueError:
            pass
        try:
            number = float(stripped)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    day = _date(stripped)
    return day.isoformat() if day is not None else text


def _date(text: str) -> date | None:
    # Every format starts and ends with a digit: most cells (names, tiers, yes/no) are ruled
    # out without strptime, which is slow and was tried five times on each of them.
    if not (text[:1].isdigit() and text[-1:].isdigit()):
        return None
    if _ISO_DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=16_384)
def _timestamp(text: str) -> str:
    """A date-time field given as a bare day ("2024-05-01", "01/05/2024") means its start, UTC."""
    day = _date(text.strip())
    return f"{day.isoformat()}T00:00:00+00:00" if day is not None else text


def read_head(handle: io.TextIOBase, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """The header and the first rows of a CSV (for the mapping step)."""
    reader = csv.reader(handle)
    header = next(reader, [])
    return header, [row for _, row in zip(range(rows), reader, strict=False)]


def _csv_records(
    handle: io.TextIOBase, kind: Kind, targets: list[str] | None = None
) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(handle)
    headers = next(reader, [])
    if targets is None:
        targets = suggest_mapping(kind, headers)
    else:
        check_mapping(kind, headers, targets)
    for row in reader:
        record: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for target, value in zip(targets, row, strict=False):
            if not target or value == "":
                continue
            if target.startswith(ATTRIBUTE):
                attributes[target.removeprefix(ATTRIBUTE)] = _csv_value(value)
            elif target.startswith("consent.") and kind == "customers":
                record.setdefault("consent", {})[target.removeprefix("consent.")] = value
            elif target == "items":
                try:
                    record["items"] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    record["items"] = value  # validation names the field
            elif target in DATE_FIELDS:
                record[target] = _timestamp(value)
            else:
                record[target] = value
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
    mapping: list[str] | None = None,
) -> ImportReport:
    """Import every valid row. `mapping` gives a target per CSV column (see suggest_mapping,
    which is used when it is None); NDJSON records are taken as they are.

    Reading and validating run in a thread, a batch or two ahead of the writes: the database
    works on one batch while the next is parsed, instead of each waiting for the other. On
    PostgreSQL, WRITERS batches are written at once on their own connections, so the database
    uses more than one core. That is safe as the stream's concurrent workers are: each batch
    locks its customers, and a row met twice in the file keeps its later version (a later batch
    is received later), whichever batch commits first."""
    report = ImportReport()
    loop = asyncio.get_running_loop()
    writers = 1 if db.sqlite else WRITERS
    batches: asyncio.Queue[list[Any] | None] = asyncio.Queue(maxsize=writers + 1)
    stopped = threading.Event()  # the writer gave up: the reader stops too

    def hand_over(batch: list[Any] | None) -> bool:
        handed = asyncio.run_coroutine_threadsafe(batches.put(batch), loop)
        while True:
            try:
                handed.result(timeout=0.2)
                return True
            except concurrent.futures.TimeoutError:
                if stopped.is_set():
                    handed.cancel()
                    return False

    def read() -> None:
        try:
            told = None if progress is None else _threadsafe(loop, progress)
            _read(kind, path, mapping, report, hand_over, told)
        finally:
            hand_over(None)

    received = datetime.min.replace(tzinfo=UTC)

    async def write() -> None:
        nonlocal received
        while (batch := await batches.get()) is not None:
            # Strictly later than the batch before, even within a clock tick: the version that
            # makes a row met again later in the file win, whichever batch commits first.
            received = max(utcnow(), received + timedelta(microseconds=1))
            entry = Entry(kind, received, batch, source="import")
            await write_batch(
                db, [entry], default_currency=default_currency, consent_attributes=consent_attributes
            )
            report.written += len(batch)
        batches.put_nowait(None)  # the end, passed on to the next writer

    reader = asyncio.ensure_future(asyncio.to_thread(read))
    try:
        try:
            async with asyncio.TaskGroup() as group:  # one writer's error cancels the others
                for _ in range(writers):
                    group.create_task(write())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the error itself, for the import's report
        await reader  # the reader's own error, if it had one
    except BaseException:
        stopped.set()
        raise
    if progress is not None:
        progress(path.stat().st_size)  # noqa: ASYNC240 - a stat of a file we hold
    return report


def _threadsafe(loop: asyncio.AbstractEventLoop, progress: Callable[[int], None]) -> Callable[[int], None]:
    def told(done: int) -> None:
        loop.call_soon_threadsafe(progress, done)

    return told


def _read(
    kind: Kind,
    path: Path,
    mapping: list[str] | None,
    report: ImportReport,
    hand_over: Callable[[list[Any] | None], bool],
    progress: Callable[[int], None] | None,
) -> None:
    """Validate the file's rows into batches of BATCH and hand each over (in the reader's thread)."""
    model = MODELS[kind]
    pending: list[Any] = []
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        records = (
            _csv_records(handle, kind, mapping) if detect_format(path) == "csv" else _ndjson_records(handle)
        )
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
                if not hand_over(pending):
                    return
                pending = []
            if progress is not None and report.read % 500 == 0:
                # The text layer cannot tell() while iterated; the byte layer under it can.
                progress(handle.buffer.tell())  # type: ignore[attr-defined]
    if pending:
        hand_over(pending)
