"""Customers as CSV, streamed a page at a time, with cells a spreadsheet will not run.

A cell that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip
before reading one of those) is a formula to Excel, LibreOffice and Google Sheets, so it is
written with a leading apostrophe: "'=HYPERLINK(…)" reads as text. Phone numbers such as
"+91 98…" get one too, which the spreadsheet shows without the apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from pulsecrm.customers import service
from pulsecrm.customers.models import Customer
from pulsecrm.db import Database

PAGE = 1_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


COLUMNS: list[tuple[str, Callable[[Customer], Any]]] = [
    ("external_id", lambda c: c.external_id),
    ("name", lambda c: c.name),
    ("email", lambda c: c.email or ""),
    ("phone", lambda c: c.phone or ""),
    ("city", lambda c: c.city or ""),
    ("created_at", lambda c: _iso(c.created_at)),
    ("order_count", lambda c: c.order_count),
    ("total_spend", lambda c: f"{Decimal(c.total_spend):.2f}"),
    ("last_order_at", lambda c: _iso(c.last_order_at)),
    ("email_consent", lambda c: c.email_consent),
    ("sms_consent", lambda c: c.sms_consent),
    ("unsubscribed_at", lambda c: _iso(c.unsubscribed_at)),
]


def safe_cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _lines(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


async def csv_lines(
    db: Database, *, q: str | None, where: sa.ColumnElement[bool] | None
) -> AsyncIterator[str]:
    """The header, then every matching customer by id. Each page is its own short read, so a
    slow download holds no transaction open; a customer added meanwhile with a higher id
    than the last page's still appears, one changed in a page already sent does not."""
    yield _lines([[name for name, _ in COLUMNS]])
    after = 0
    while True:
        async with db.read() as session:
            page = await service.customers_by_id(session, q=q, where=where, after_id=after, limit=PAGE)
        if not page:
            return
        yield _lines([[safe_cell(read(c)) for _, read in COLUMNS] for c in page])
        after = page[-1].id
        if len(page) < PAGE:
            return
