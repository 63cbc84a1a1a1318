"""The Jinja2 environment of the pages: autoescaped, with the filters the templates share."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from pulsecrm.web.security import csrf_token

HERE = Path(__file__).parent
STATIC = HERE / "static"

templates = Jinja2Templates(directory=HERE / "templates")
env = templates.env
env.trim_blocks = True
env.lstrip_blocks = True


@cache
def _asset_version(path: str) -> str:
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    # The content hash in the query lets browsers cache assets for good and still see changes.
    return f"/static/{path}?v={_asset_version(path)}"


def number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,}"


def money(value: Any) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    return f"₹{amount:,.0f}" if amount >= 1000 else f"₹{amount:,.2f}"


def money_short(value: Any) -> str:
    """Large sums the way Indian retail reads them: ₹15.9 L, ₹2.4 Cr."""
    if value is None:
        return "—"
    amount = Decimal(value)
    if amount >= 10_000_000:
        return f"₹{amount / 10_000_000:,.2f} Cr"
    if amount >= 100_000:
        return f"₹{amount / 100_000:,.1f} L"
    return money(amount)


def date(value: datetime | None, fmt: str = "%d %b %Y") -> str:
    return value.astimezone(UTC).strftime(fmt) if value else "—"


def datetime_(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC") if value else "—"


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def rate(value: float | None) -> str:
    """A delivery rate (0..1) as a percentage; none yet while nothing has settled."""
    return "—" if value is None else f"{100 * value:.1f}%"


env.filters.update(
    number=number, money=money, money_short=money_short, date=date, datetime=datetime_, ago=ago, rate=rate
)
env.globals.update(static_url=static_url)


def render(request: Request, template: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "user", None))
    context["csrf_token"] = csrf_token(request)
    context["nav"] = request.url.path.split("/")[1] or "dashboard"
    return templates.TemplateResponse(request, template, context, status_code=status_code)
