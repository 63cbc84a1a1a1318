"""Every page through a signed-in client: content, empty states, forms, and the uploads stream."""

from __future__ import annotations

import re
from typing import Any

import orjson

from pulsecrm.campaigns import service as campaign_service
from pulsecrm.db import utcnow
from tests.conftest import Web, browser_client, make_user, sign_in
from tests.factories import customer, order, shop


async def _seed(web: Web, n: int = 30) -> None:
    people, orders = shop(n)
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201
    assert (await web.api.client.post("/api/v1/orders", json=orders)).status_code == 201


async def _api(web: Web, method: str, path: str, body: Any = None) -> Any:
    """The JSON API as the pages' scripts call it: session cookie plus the CSRF header."""
    response = await web.client.request(method, path, json=body, headers={"X-CSRF-Token": await web.csrf()})
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_empty_states_say_what_to_do_next(web: Web) -> None:
    home = await web.client.get("/")
    assert "No customers yet" in home.text and 'href="/uploads"' in home.text
    assert "No customers yet" in (await web.client.get("/customers")).text
    assert "No segments yet" in (await web.client.get("/segments")).text
    assert "No campaigns yet" in (await web.client.get("/campaigns")).text
    assert "No keys yet" not in (await web.client.get("/settings/api-keys")).text  # the tests' key is there


async def test_dashboard_and_customers(web: Web) -> None:
    await _seed(web)
    home = await web.client.get("/")
    assert 'data-testid="customers-total">30<' in home.text
    assert "₹46,500" in home.text  # revenue: 100 + 200 + … + 3,000
    listing = await web.client.get("/customers", params={"sort": "-total_spend"})
    names = re.findall(r">(Person \d+)</a>", listing.text)
    assert names[:2] == ["Person 029", "Person 028"] and len(names) == 25
    more = re.search(r'hx-get="(/customers\?[^"]+)"', listing.text)
    assert more
    page2 = await web.client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert re.findall(r">(Person \d+)</a>", page2.text) == [f"Person {i:03}" for i in range(4, -1, -1)]
    assert "<html" not in page2.text  # htmx gets rows only
    found = await web.client.get("/customers", params={"q": "person 007"})
    assert re.findall(r">(Person \d+)</a>", found.text) == ["Person 007"]
    nothing = await web.client.get("/customers", params={"q": "zzz"})
    assert "No customer matches" in nothing.text
    detail = await web.client.get("/customers/c007")
    assert (
        "Person 007" in detail.text
        and "o7" in detail.text
        and "₹800" in detail.text
        and "₹800.00" not in detail.text
    )
    assert (await web.client.get("/customers/nope")).status_code == 404


async def test_segments_pages(web: Web) -> None:
    await _seed(web)
    new = await web.client.get("/segments/new")
    assert 'data-catalog="{' in new.text and "total_spend" in new.text
    rules = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}
    saved = await _api(web, "POST", "/api/v1/segments", {"name": "Pune", "rules": rules})
    listing = await web.client.get("/segments")
    assert "Pune" in listing.text and ">15<" in listing.text
    edit = await web.client.get(f"/segments/{saved['id']}")
    assert "data-rules=" in edit.text and "Save changes" in edit.text
    deleted = await web.form(f"/segments/{saved['id']}/delete")
    assert deleted.status_code == 303
    assert (await web.client.get(f"/segments/{saved['id']}")).status_code == 404


async def test_campaign_pages_and_actions(web: Web) -> None:
    await _seed(web)
    wizard = await web.client.get("/campaigns/new")
    assert "Who should get it?" in wizard.text and "first_name" in wizard.text
    campaign = await _api(
        web,
        "POST",
        "/api/v1/campaigns",
        {
            "name": "Hello Pune",
            "rules": {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]},
            "message": "Hi {{ first_name }}",
        },
    )
    assert campaign["created_by"] == "marketer@example.com"
    await _api(web, "POST", f"/api/v1/campaigns/{campaign['id']}/launch")
    page = await web.client.get(f"/campaigns/{campaign['id']}")
    assert "Hello Pune" in page.text and 'data-stat="audience">15<' in page.text
    assert 'hx-trigger="every 2s"' in page.text  # live while running
    live = await web.client.get(f"/campaigns/{campaign['id']}/live")
    assert 'data-stat="pending">15<' in live.text and "<svg" in live.text
    log = await web.client.get(f"/campaigns/{campaign['id']}/log", params={"status": "pending"})
    assert log.text.count("badge-pending") == 15
    assert (
        "No delivered messages"
        in (await web.client.get(f"/campaigns/{campaign['id']}/log", params={"status": "delivered"})).text
    )
    async with web.api.services.db.engine.begin() as conn:  # as the error policy would
        paused = await campaign_service.pause_for_errors(
            conn, campaign["id"], reason="vendor unreachable: ConnectError (3 batches in a row)", now=utcnow()
        )
    assert paused
    live = await web.client.get(f"/campaigns/{campaign['id']}/live")
    assert "vendor unreachable: ConnectError (3 batches in a row), since" in live.text
    assert "it resumes by itself when the vendor answers again" in live.text
    assert (await web.form(f"/campaigns/{campaign['id']}/resume")).status_code == 303
    for action, status in (("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")):
        response = await web.form(f"/campaigns/{campaign['id']}/{action}")
        assert response.status_code == 303
        assert (await _api(web, "GET", f"/api/v1/campaigns/{campaign['id']}"))["status"] == status
    refused = await web.form(f"/campaigns/{campaign['id']}/resume")
    assert refused.status_code == 409 and "<html" in refused.text  # a page, in plain words
    history = await web.client.get("/campaigns")
    assert "Hello Pune" in history.text and 'class="bar"' in history.text


async def test_api_keys_are_shown_once_and_revocable(web: Web) -> None:
    created = await web.form("/settings/api-keys", {"name": "Shop backend", "scopes": "read"})
    assert created.status_code == 201
    key = re.search(r'id="new-key" type="text" readonly value="(pk_[^"]+)"', created.text)
    assert key
    secret = key.group(1)
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await web.api.client.get("/api/v1/customers", headers=headers)).status_code == 200
    assert (
        await web.api.client.post("/api/v1/customers", json=customer(), headers=headers)
    ).status_code == 403
    listing = await web.client.get("/settings/api-keys")
    assert secret not in listing.text and "Shop backend" in listing.text
    key_id = re.search(r'data-key-id="(\d+)">\s*<td>Shop backend', listing.text)
    assert key_id
    assert (await web.form(f"/settings/api-keys/{key_id.group(1)}/revoke")).status_code == 303
    assert (await web.api.client.get("/api/v1/customers", headers=headers)).status_code == 401
    empty_name = await web.form("/settings/api-keys", {"name": " "})
    assert empty_name.status_code == 422 and "a key needs a name" in empty_name.text


async def test_users_can_be_added(web: Web) -> None:
    added = await web.form(
        "/settings/users", {"email": "new@example.com", "name": "New", "password": "long enough"}
    )
    assert added.status_code == 201 and "new@example.com" in added.text
    again = await web.form(
        "/settings/users", {"email": "NEW@example.com", "name": "New", "password": "long enough"}
    )
    assert again.status_code == 409 and "already exists" in again.text
    short = await web.form("/settings/users", {"email": "x@example.com", "name": "X", "password": "short"})
    assert short.status_code == 422 and "at least 8 characters" in short.text
    async with browser_client(web.api) as client:
        assert (await sign_in(client, "new@example.com", "long enough")).status_code == 303


async def test_upload_streams_progress_and_reports_bad_rows(web: Web) -> None:
    lines = ["external_id,name,city,attributes.tier"]
    lines += [f"u{i},Uploaded {i},Pune,gold" for i in range(1500)]
    lines.append("u-bad,,Pune,gold")  # no name
    csv = ("\n".join(lines) + "\n").encode()
    response = await web.client.post(
        "/uploads",
        data={"csrf_token": await web.csrf(), "kind": "customers"},
        files={"file": ("people.csv", csv, "text/csv")},
    )
    assert response.status_code == 200
    updates = [orjson.loads(line) for line in response.text.splitlines()]
    assert updates[0]["phase"] == "importing" and updates[0]["total"] == len(csv)
    assert any(u["phase"] == "importing" and u["done"] > 0 for u in updates[1:-1])
    done = updates[-1]
    assert (
        done["phase"] == "done" and done["read"] == 1501 and done["written"] == 1500 and done["rejected"] == 1
    )
    assert done["errors"][0]["line"] == 1502 and "name" in done["errors"][0]["reason"]
    listed = await web.api.client.get("/api/v1/customers/u42")
    assert listed.json()["attributes"] == {"tier": "gold"}
    orders = b"".join(
        orjson.dumps(order(external_id=f"uo{i}", customer_external_id=f"u{i}")) + b"\n" for i in range(10)
    )
    response = await web.client.post(
        "/uploads",
        data={"csrf_token": await web.csrf(), "kind": "orders"},
        files={"file": ("orders.ndjson", orders, "application/x-ndjson")},
    )
    assert orjson.loads(response.text.splitlines()[-1])["written"] == 10
    wrong = await web.client.post(
        "/uploads",
        data={"csrf_token": await web.csrf(), "kind": "customers"},
        files={"file": ("people.xlsx", b"x", "application/octet-stream")},
        headers={"Accept": "application/json"},
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["loc"] == ["file"]


async def test_unknown_pages_get_a_page_not_json(web: Web) -> None:
    missing = await web.client.get("/nothing-here")
    assert missing.status_code == 404 and "Not found" in missing.text
    bad = await web.client.get("/segments/not-a-number")
    assert bad.status_code == 422 and "<html" in bad.text


async def test_a_second_user_sees_the_same_data(web: Web) -> None:
    await _seed(web, 3)
    await make_user(web.api, "second@example.com", "Sam")
    async with browser_client(web.api) as client:
        await sign_in(client, "second@example.com", "correct horse battery")
        assert "Person 002" in (await client.get("/customers")).text
