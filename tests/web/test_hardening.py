"""The web app's defences that need no browser: headers on every answer, templates with no inline
script, and API keys that must say what they may do."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from pulsecrm.web.templating import HERE
from tests.conftest import Web, browser_client

TEMPLATES = sorted((HERE / "templates").glob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_carry_no_inline_script_handler_or_style(template: Path) -> None:
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "an inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), "an inline event handler"
    assert "javascript:" not in text.lower()
    assert not re.search(r"\sstyle\s*=", text), "an inline style (style-src refuses it)"


def _check_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'", csp  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "camera=()" in response.headers["permissions-policy"]


async def test_every_kind_of_answer_carries_the_security_headers(web: Web) -> None:
    for path in ("/", "/customers", "/segments/new", "/campaigns/new", "/settings/api-keys", "/docs"):
        page = await web.client.get(path)
        assert page.status_code == 200, path
        _check_headers(page)
    _check_headers(await web.client.get("/no/such/page"))
    _check_headers(await web.client.get("/static/app.css"))
    _check_headers(await web.api.client.get("/api/v1/customers"))
    _check_headers(await web.api.client.get("/api/v1/customers/nobody"))
    async with browser_client(web.api) as anonymous:
        _check_headers(await anonymous.get("/login"))
        _check_headers(await anonymous.get("/healthz"))


async def test_the_api_reference_runs_no_inline_script(web: Web) -> None:
    docs = await web.client.get("/docs")
    assert re.findall(r"<script[^>]*>", docs.text) == [
        m for m in re.findall(r"<script[^>]*>", docs.text) if "src=" in m
    ]
    assert "swagger-init.js" in docs.text


async def test_a_key_with_no_scope_is_refused(web: Web) -> None:
    before = await web.client.get("/settings/api-keys")
    refused = await web.form("/settings/api-keys", {"name": "Nothing allowed"})
    assert refused.status_code == 422
    assert "Choose at least one thing the key is allowed to do." in refused.text
    assert 'id="new-key"' not in refused.text
    after = await web.client.get("/settings/api-keys")
    assert after.text.count("data-key-id=") == before.text.count("data-key-id=")


async def test_a_key_name_is_text_in_every_context(web: Web) -> None:
    name = """'+(window.__pwned=1)+'" onmouseover="x()"<img src=x>"""
    created = await web.form("/settings/api-keys", {"name": name, "scopes": "read"})
    assert created.status_code == 201
    listing = (await web.client.get("/settings/api-keys")).text
    escaped = "&#39;+(window.__pwned=1)+&#39;&#34; onmouseover=&#34;x()&#34;&lt;img src=x&gt;"
    assert f"<td>{escaped}</td>" in listing
    assert f'data-confirm="Revoke “{escaped}”? Anything using it stops working."' in listing
    assert "<img src=x>" not in listing
