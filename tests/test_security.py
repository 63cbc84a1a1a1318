"""Every route needs a credential, except the few documented as open."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.routing import BaseRoute, Route

from pulsecrm.app import OPEN_PATHS
from tests.conftest import Api


def all_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) in the app, descending into included routers."""
    for route in routes:
        nested: Any = getattr(route, "original_router", None)  # FastAPI keeps includes lazy
        if nested is not None:
            extra = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from all_routes(nested.routes, prefix + extra)
        elif isinstance(route, Route):
            yield prefix + route.path, set(route.methods or {"GET"})


async def test_every_route_refuses_anonymous_callers(inline_api: Api) -> None:
    checked = 0
    for route_path, methods in all_routes(inline_api.app.routes):
        if route_path in OPEN_PATHS:
            continue
        path = re.sub(r"\{[^}]+\}", "x", route_path)
        for method in sorted(methods):
            if method == "HEAD":
                continue
            response = await inline_api.client.request(method, path, headers={"Authorization": ""})
            assert response.status_code in (401, 302), f"{method} {route_path} -> {response.status_code}"
            checked += 1
    assert checked >= 7


async def test_open_routes_answer_without_credentials(inline_api: Api) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        response = await inline_api.client.get(path, headers={"Authorization": ""})
        assert response.status_code == 200, path
