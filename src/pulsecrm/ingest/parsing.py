"""Parsing an ingest request: a JSON object, a JSON array or NDJSON, validated all or nothing."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.errors import (
    InvalidInput,
    MalformedBody,
    PayloadTooLarge,
    UnsupportedMediaType,
    validation_details,
)
from pulsecrm.ingest.writer import Kind

MODELS: dict[Kind, type[CustomerIn] | type[OrderIn]] = {"customers": CustomerIn, "orders": OrderIn}
LIST_ADAPTERS: dict[Kind, TypeAdapter[Any]] = {
    "customers": TypeAdapter(list[CustomerIn]),
    "orders": TypeAdapter(list[OrderIn]),
}


def parse_records(kind: Kind, body: bytes, content_type: str, *, max_records: int) -> list[Any]:
    """Decode a JSON object, a JSON array or NDJSON and validate every record, all or nothing."""
    media = content_type.split(";")[0].strip().lower()
    if media in {"application/x-ndjson", "application/ndjson", "application/jsonl"}:
        raw = _parse_ndjson(body, max_records)
    elif media in {"application/json", ""} or media.endswith("+json"):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedBody(
                f"body is not valid JSON: {exc}", details=[{"loc": [], "message": str(exc)}]
            ) from None
        if isinstance(document, dict):
            raw = [document]
        elif isinstance(document, list):
            raw = document
        else:
            raise InvalidInput(
                "body must be a JSON object or an array of objects",
                details=[{"loc": [], "message": f"got {type(document).__name__}"}],
            )
    else:
        raise UnsupportedMediaType(
            f"unsupported content type {media!r}: send application/json or application/x-ndjson"
        )
    if not raw:
        raise InvalidInput("no records in the body", details=[{"loc": [], "message": "empty"}])
    if len(raw) > max_records:
        raise PayloadTooLarge(
            f"{len(raw)} records in one request; the limit is {max_records}",
            details=[{"loc": [], "message": f"at most {max_records} records per request"}],
        )
    try:
        return list(LIST_ADAPTERS[kind].validate_python(raw))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=True, include_input=False)
        details, count = validation_details(errors)
        for detail in details:
            _name_record(detail)
        records = len({e["loc"][0] for e in errors if e["loc"] and isinstance(e["loc"][0], int)})
        raise InvalidInput(
            f"{records} of {len(raw)} records are invalid; nothing was written", details=details, count=count
        ) from None


def _parse_ndjson(body: bytes, max_records: int) -> list[Any]:
    raw: list[Any] = []
    errors: list[dict[str, Any]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        if len(raw) >= max_records:
            raise PayloadTooLarge(
                f"more than {max_records} records in one request",
                details=[{"loc": [], "message": f"at most {max_records} records per request"}],
            )
        try:
            raw.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            errors.append({"loc": [len(raw)], "line": number, "message": f"invalid JSON: {exc}"})
            raw.append(None)
    if errors:
        raise MalformedBody(f"{len(errors)} NDJSON lines are not valid JSON", details=errors)
    return raw


def _name_record(detail: dict[str, Any]) -> None:
    loc = detail["loc"]
    if loc and isinstance(loc[0], int):
        detail["index"] = loc[0]
        detail["field"] = ".".join(str(p) for p in loc[1:]) or None
