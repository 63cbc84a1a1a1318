"""Bodies are authenticated before they are read, and limited app-wide without being buffered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Api, running_api

MB = 1024 * 1024


class Body:
    """A request body that counts how much of it the server read."""

    def __init__(self, size: int, chunk: int = 64 * 1024) -> None:
        self.size = size
        self.chunk = chunk
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.read < self.size:
            n = min(self.chunk, self.size - self.read)
            self.read += n
            yield b" " * n


def _anonymous(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://testserver")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    "path", ["/api/v1/segments", "/api/v1/segments/preview", "/api/v1/campaigns", "/api/v1/customers"]
)
async def test_an_anonymous_body_is_401_without_being_read(
    inline_api: Api, path: str, declared: bool
) -> None:
    body = Body(20 * MB)
    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = str(body.size)
    async with _anonymous(inline_api) as client:
        response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert body.read <= 64 * 1024


async def test_a_wrong_key_with_a_body_is_401_without_being_read(inline_api: Api) -> None:
    body = Body(20 * MB)
    async with _anonymous(inline_api) as client:
        response = await client.post(
            "/api/v1/segments/preview",
            content=body,
            headers={"authorization": "Bearer pk_nope_nope", "content-type": "application/json"},
        )
    assert response.status_code == 401
    assert body.read <= 64 * 1024


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/api/v1/segments/preview", "/api/v1/customers", "/api/v1/campaigns"])
async def test_a_body_over_the_app_wide_limit_is_413_without_being_buffered(
    sqlite_url: str, path: str, declared: bool
) -> None:
    async with running_api(sqlite_url, max_body_bytes=MB) as api:
        body = Body(20 * MB)
        headers = {"content-type": "application/json"}
        if declared:
            headers["content-length"] = str(body.size)
        response = await api.client.post(path, content=body, headers=headers)
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
        assert body.read <= MB + 64 * 1024


async def test_the_bulk_import_has_its_own_larger_limit(sqlite_url: str) -> None:
    async with running_api(sqlite_url, max_body_bytes=4096, max_import_bytes=MB) as api:
        rows = "external_id,name\n" + "".join(f"c{i},Person {i}\n" for i in range(2000))
        assert len(rows) > 4096
        response = await api.client.post(
            "/api/v1/import/customers", content=rows.encode(), headers={"content-type": "text/csv"}
        )
        assert response.status_code == 200, response.text
        assert '"written": 2000' in response.text or '"written":2000' in response.text
        too_big = Body(2 * MB)
        response = await api.client.post(
            "/api/v1/import/customers",
            content=too_big,
            headers={"content-type": "text/csv", "content-length": str(too_big.size)},
        )
        assert response.status_code == 413


async def test_open_routes_and_small_bodies_pass(inline_api: Api) -> None:
    response = await inline_api.client.post(
        "/api/v1/segments/preview", json={"rules": {"op": "and", "rules": []}}
    )
    assert response.status_code == 200
    async with _anonymous(inline_api) as client:
        # The receipts webhook checks its signature itself (503 here: no secret is wrong).
        response = await client.post(
            "/api/v1/receipts", content=b"{}", headers={"x-pulse-signature": "t=1,v1=00"}
        )
        assert response.status_code in (400, 401, 403), response.text
