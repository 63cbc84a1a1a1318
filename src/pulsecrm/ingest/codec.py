"""The ingest stream's entries: what the API appends and what a worker reads back.

An entry (format `v` = 1) is one request's records of one kind, or a slice of them:
`kind`, `received_at` (ISO 8601 with offset), `n` (record count) and `records` (a JSON
array of records as the API takes them), and optionally `rid`, the id of the request that
brought it (added later within v1: an entry without it reads as before). Decoding validates
the records again -- the stream may hold entries from an older producer or a foreign
writer -- and a record that fails is rejected on its own, so the rest of its entry is still
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from pulsecrm.broker import Item, Reject, StreamMessage, raw_fields
from pulsecrm.customers.schemas import CustomerIn, OrderIn
from pulsecrm.errors import validation_text
from pulsecrm.failures import BadEntry
from pulsecrm.ingest.parsing import LIST_ADAPTERS, MODELS
from pulsecrm.ingest.writer import Entry, Kind

VERSION = b"1"
KINDS: dict[bytes, Kind] = {b"customers": "customers", b"orders": "orders"}


class IngestCodec:
    def __init__(self, entry_records: int) -> None:
        self.entry_records = entry_records
        # Running average of records per entry, to size reads (see Ingestor.read_count).
        self.records_per_entry = float(entry_records)

    def encode(
        self,
        kind: Kind,
        received_at: datetime,
        records: Sequence[CustomerIn | OrderIn],
        request_id: str | None = None,
    ) -> list[dict[str, bytes]]:
        """Entries of at most `entry_records` records each."""
        size = self.entry_records
        adapter = LIST_ADAPTERS[kind]
        stamp = received_at.isoformat().encode()
        extra = {"rid": request_id.encode()} if request_id else {}
        return [
            {
                "v": VERSION,
                "kind": kind.encode(),
                "received_at": stamp,
                "n": str(len(records[i : i + size])).encode(),
                "records": adapter.dump_json(list(records[i : i + size]), exclude_none=True),
                **extra,
            }
            for i in range(0, len(records), size)
        ]

    def weight(self, message: StreamMessage) -> int:
        raw = message.fields.get(b"n", b"1")
        size = int(raw) if raw.isdigit() and len(raw) < 7 else 1
        self.records_per_entry = 0.9 * self.records_per_entry + 0.1 * size
        return size

    def decode(self, message: StreamMessage) -> tuple[list[Item[Entry]], list[Reject]]:
        fields = message.fields
        try:
            kind = KINDS.get(fields.get(b"kind", b""))
            if kind is None:
                raise BadEntry(f"unknown entry kind {fields.get(b'kind', b'')!r}")
            received_at = datetime.fromisoformat(fields[b"received_at"].decode())
            if received_at.tzinfo is None:
                raise BadEntry("received_at has no UTC offset")
            body = fields[b"records"]
            rid = fields[b"rid"].decode(errors="replace")[:64] if b"rid" in fields else None
        except (BadEntry, KeyError, ValueError) as exc:
            reason = f"missing field {exc.args[0].decode()!r}" if isinstance(exc, KeyError) else str(exc)
            return [], [Reject(message.id, "entry", None, raw_fields(message), f"BadEntry: {reason}", 1)]
        try:  # the fast path: the whole entry at once, in Rust
            records = LIST_ADAPTERS[kind].validate_json(body)
            return [Item(message.id, Entry(kind, received_at, [r], request_id=rid)) for r in records], []
        except ValidationError:
            pass
        try:
            raw = orjson.loads(body)
            if not isinstance(raw, list):
                raise BadEntry("records is not a JSON array")
        except (BadEntry, orjson.JSONDecodeError) as exc:
            return [], [Reject(message.id, "entry", None, raw_fields(message), f"BadEntry: {exc}", 1)]
        items: list[Item[Entry]] = []
        rejects: list[Reject] = []
        for record in raw:
            try:
                items.append(
                    Item(
                        message.id,
                        Entry(kind, received_at, [MODELS[kind].model_validate(record)], request_id=rid),
                    )
                )
            except ValidationError as exc:
                label = record.get("external_id") if isinstance(record, dict) else None
                rejects.append(Reject(message.id, kind, _text(label), record, _validation_text(exc), 1))
        return items, rejects

    def describe(self, value: Entry) -> tuple[str, str | None, Any]:
        record = value.records[0]
        return value.kind, record.external_id, record.model_dump(mode="json", exclude_none=True)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _validation_text(exc: ValidationError) -> str:
    text = validation_text(exc.errors(include_url=False, include_context=True), subject="record")
    return "invalid record: " + text
