"""The Jinja2 environment of the pages: autoescaped, with the filters the templates share."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from pulsecrm import formatting
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


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def attribute_name(key: str) -> str:
    """`marketing_opt_in` reads "Marketing opt in"."""
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def attribute_value(value: Any) -> str:
    """Yes/No for flags, grouped numbers, lists joined: never Python's `True` or `['a']`."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float | Decimal):
        return formatting.number(value)
    if isinstance(value, list):
        return ", ".join(attribute_value(v) for v in value) or formatting.EMPTY
    if value is None or value == "":
        return formatting.EMPTY
    return str(value)


def number_format() -> str:
    """The locale and currency for the scripts' own formatting (builder counts and samples)."""
    currency = formatting.store_currency()
    return json.dumps(
        {"locale": formatting.LOCALE_BY_CURRENCY.get(currency, "en").replace("_", "-"), "currency": currency}
    )


def rate(value: float | None) -> str:
    """A delivery rate (0..1) as a percentage; none yet while nothing has settled."""
    return "—" if value is None else f"{100 * value:.1f}%"


env.filters.update(
    number=formatting.number,
    money=formatting.money,
    date=formatting.date_,
    datetime=formatting.datetime_,
    store_datetime=formatting.store_datetime,
    ago=ago,
    rate=rate,
    attribute_name=attribute_name,
    attribute_value=attribute_value,
)
env.globals.update(static_url=static_url, number_format=number_format)


def render(request: Request, template: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "user", None))
    context["csrf_token"] = csrf_token(request)
    context["nav"] = request.url.path.split("/")[1] or "dashboard"
    return templates.TemplateResponse(request, template, context, status_code=status_code)
