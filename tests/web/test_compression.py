"""Stylesheets and scripts go out gzipped to a client that takes gzip, whole and unchanged once
unpacked; pages never do (BREACH: the CSRF token sits beside text a visitor can reflect)."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from pulsecrm.web import static
from pulsecrm.web.templating import HERE
from tests.conftest import Web

STATIC = HERE / "static"


async def _raw(client: httpx.AsyncClient, path: str, encoding: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as it came over the wire (not unpacked)."""
    request = client.build_request("GET", path, headers={"Accept-Encoding": encoding})
    response = await client.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response, raw


async def test_assets_are_gzipped_for_a_client_that_takes_it(web: Web) -> None:
    for name in ("vendor/pico.min.css", "vendor/htmx.min.js", "app.css", "builder.js"):
        path = STATIC / name
        if not path.exists():
            continue
        packed, raw = await _raw(web.client, f"/static/{name}", "gzip, br")
        assert packed.status_code == 200, name
        assert packed.headers["content-encoding"] == "gzip", name
        assert "accept-encoding" in packed.headers["vary"].lower()
        assert gzip.decompress(raw) == path.read_bytes(), name
        assert len(raw) < 0.5 * path.stat().st_size, name
        plain, body = await _raw(web.client, f"/static/{name}", "identity")
        assert "content-encoding" not in plain.headers and body == path.read_bytes(), name


async def test_pages_are_never_compressed(web: Web) -> None:
    for path in ("/", "/customers?q=abc", "/segments/new"):
        page, raw = await _raw(web.client, path, "gzip")
        assert page.status_code == 200, path
        assert "content-encoding" not in page.headers, path
        assert b"<html" in raw.lower(), path


async def test_each_asset_is_compressed_once_and_ranges_come_plain(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed: list[str] = []
    real = static._gzip

    def counting(path: Path) -> bytes:
        packed.append(path.name)
        return real(path)

    monkeypatch.setattr(static, "_gzip", counting)
    bodies = [(await _raw(web.client, "/static/builder.js", "gzip"))[1] for _ in range(3)]
    assert packed == ["builder.js"] and bodies[0] == bodies[1] == bodies[2]
    assert gzip.decompress(bodies[0]) == (STATIC / "builder.js").read_bytes()

    ranged = await web.client.get(
        "/static/builder.js", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"}
    )
    assert ranged.status_code == 206 and "content-encoding" not in ranged.headers
    assert ranged.content == (STATIC / "builder.js").read_bytes()[:10]
