"""Every route needs a credential, except the few documented as open."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import BaseRoute, Route

from pulsecrm.app import OPEN_PATHS
from tests.conftest import PASSWORD, Api, Web, browser_client, make_user, sign_in


def all_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) in the app, descending into included routers."""
    for route in routes:
        nested: Any = getattr(route, "original_router", None)  # FastAPI keeps includes lazy
        if nested is not None:
            extra = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from all_routes(nested.routes, prefix + extra)
        elif isinstance(route, Route):
            yield prefix + route.path, set(route.methods or {"GET"})


def _open(path: str) -> bool:
    """Open as `RequestLimits` reads OPEN_PATHS: the path itself or anything under it."""
    return path in OPEN_PATHS or any(path.startswith(f"{p}/") for p in OPEN_PATHS)


async def test_every_route_refuses_anonymous_callers(inline_api: Api) -> None:
    checked = 0
    for route_path, methods in all_routes(inline_api.app.routes):
        if _open(route_path):
            continue
        # An id (`{campaign_id:int}`) only matches digits; anything else may be any text.
        path = re.sub(r"\{[^}]+\}", "x", re.sub(r"\{[^}]+:int\}", "1", route_path))
        for method in sorted(methods):
            if method == "HEAD":
                continue
            response = await inline_api.client.request(method, path, headers={"Authorization": ""})
            assert response.status_code in (401, 302), f"{method} {route_path} -> {response.status_code}"
            checked += 1
    assert checked >= 7


async def test_open_routes_answer_without_credentials(inline_api: Api) -> None:
    for path in ("/healthz", "/readyz", "/login", "/static/vendor/htmx.min.js"):
        response = await inline_api.client.get(path, headers={"Authorization": ""})
        assert response.status_code == 200, path


async def test_the_api_reference_needs_a_user_or_key(inline_api: Api) -> None:
    anonymous = await inline_api.client.get("/docs", headers={"Authorization": ""})
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/login?next=%2Fdocs")
    assert (await inline_api.client.get("/openapi.json", headers={"Authorization": ""})).status_code == 401
    assert (await inline_api.client.get("/openapi.json")).status_code == 200  # with the API key


async def test_forms_without_a_csrf_token_are_refused(web: Web) -> None:
    """Every state-changing page route, signed in, with no token and with a wrong one."""
    posts = [
        path
        for path, methods in all_routes(web.api.app.routes)
        if "POST" in methods and not path.startswith("/api/") and path != "/login" and not _open(path)
    ]
    assert len(posts) >= 7, posts
    for route_path in posts:
        path = re.sub(r"\{[^}]+\}", "1", route_path)
        for data in ({}, {"csrf_token": "forged"}):
            response = await web.client.post(path, data=data)
            assert response.status_code == 403, f"POST {route_path} {data} -> {response.status_code}"
    # The session still works: only the forged requests were refused.
    assert (await web.client.get("/")).status_code == 200


async def test_the_api_with_a_session_cookie_needs_the_csrf_header(web: Web) -> None:
    body = {"rules": {"op": "and", "rules": []}}
    refused = await web.client.post("/api/v1/segments/preview", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]["message"]
    accepted = await web.client.post(
        "/api/v1/segments/preview", json=body, headers={"X-CSRF-Token": await web.csrf()}
    )
    assert accepted.status_code == 200
    assert (await web.client.get("/api/v1/customers")).status_code == 200  # reads need no token


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
async def test_sign_in_does_not_follow_next_off_site(inline_api: Api, target: str) -> None:
    await make_user(inline_api)
    async with browser_client(inline_api) as client:
        page = await client.get("/login", params={"next": target})
        assert "evil.example" not in page.text and "javascript:" not in page.text
        response = await sign_in(client, "marketer@example.com", PASSWORD, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_a_kept_next_leads_back_to_the_page(inline_api: Api) -> None:
    await make_user(inline_api)
    async with browser_client(inline_api) as client:
        redirect = await client.get("/campaigns?status=running")
        assert redirect.status_code == 302
        assert redirect.headers["location"] == "/login?next=%2Fcampaigns%3Fstatus%3Drunning"
        response = await sign_in(client, "marketer@example.com", PASSWORD, next="/campaigns?status=running")
        assert response.headers["location"] == "/campaigns?status=running"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie


async def test_customer_data_renders_as_text(web: Web) -> None:
    hostile = "<script>alert(1)</script>"
    created = await web.api.client.post(
        "/api/v1/customers",
        json={
            "external_id": "x<b>1",
            "name": hostile,
            "city": "<img src=x onerror=alert(2)>",
            "attributes": {"tier": hostile},
        },
    )
    assert created.status_code in (201, 202)
    for path in ("/customers", "/customers/x%3Cb%3E1", "/segments/new"):
        response = await web.client.get(path)
        assert response.status_code == 200, path
        assert hostile not in response.text and "<img src=x" not in response.text, path
    detail = await web.client.get("/customers/x%3Cb%3E1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
