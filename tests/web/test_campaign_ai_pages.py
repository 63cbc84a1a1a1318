"""Issue 14's helpers on the pages: a campaign's tags (shown, edited, a filter on the history),
its performance summary, and the wizard's send-time suggestion."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.ai.receipts import pune_delivered_mumbai_half_failed
from tests.conftest import Web
from tests.factories import customer, order

EVERYONE = {"op": "and", "rules": []}
LAPSED = {"op": "and", "rules": [{"field": "last_order_at", "cmp": "not_within_last_days", "value": 90}]}


def _text(page: str) -> str:
    """What a person reads: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


async def _campaign(web: Web, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "message": "Hi there", "rules": EVERYONE, **fields}
    created = await web.api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def _names(page: str) -> list[str]:
    return re.findall(r'<a href="/campaigns/\d+">([^<]+)</a>', page)


async def test_tags_are_shown_edited_on_the_page_and_filter_the_history(web: Web) -> None:
    win_back = await _campaign(web, "Come back", rules=LAPSED, message="We miss you! 10% off.")
    plain = await _campaign(web, "Store hours")
    assert win_back["tags"] == ["win-back", "festive-sale"] and plain["tags"] == []

    page = (await web.client.get(f"/campaigns/{plain['id']}")).text
    assert 'data-testid="no-tags">No tags.' in page
    # Every tag of the vocabulary is a checkbox, none ticked yet.
    boxes = re.findall(r'<input type="checkbox" name="tags" value="([\w-]+)"( checked)?>', page)
    assert [b[0] for b in boxes] == [
        "win-back",
        "high-value",
        "new-customers",
        "festive-sale",
        "loyalty",
        "reminder",
        "upsell",
    ]
    assert not any(b[1] for b in boxes)

    saved = await web.client.post(
        f"/campaigns/{plain['id']}/tags",
        data={"csrf_token": await web.csrf(), "tags": ["reminder", "loyalty"]},
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/campaigns/{plain['id']}#tags"
    assert (await web.api.client.get(f"/api/v1/campaigns/{plain['id']}")).json()["tags"] == [
        "loyalty",
        "reminder",
    ]
    page = (await web.client.get(f"/campaigns/{plain['id']}")).text
    assert "Tags loyalty reminder Edit tags" in _text(page)
    assert 'value="loyalty" checked' in page and 'value="upsell">' in page

    # The history shows each campaign's tags and filters by one, keeping the status filter.
    history = (await web.client.get("/campaigns")).text
    assert "Come back SMS win-back festive-sale" in _text(history)
    assert 'href="/campaigns?tag=reminder"' in history
    only = (await web.client.get("/campaigns", params={"tag": "reminder"})).text
    assert _names(only) == ["Store hours"]
    assert re.search(r'href="/campaigns\?tag=reminder" aria-current="page"', only)
    assert 'href="/campaigns?status=draft&amp;tag=reminder"' in only  # the status tabs keep the tag
    both = (await web.client.get("/campaigns", params={"tag": "win-back", "status": "draft"})).text
    assert _names(both) == ["Come back"]
    none = (await web.client.get("/campaigns", params={"tag": "upsell", "status": "running"})).text
    assert "No running campaigns tagged upsell." in _text(none)

    # Ticking none clears them.
    cleared = await web.client.post(f"/campaigns/{plain['id']}/tags", data={"csrf_token": await web.csrf()})
    assert cleared.status_code == 303
    assert (await web.api.client.get(f"/api/v1/campaigns/{plain['id']}")).json()["tags"] == []


async def test_bad_tags_are_refused_naming_the_field(web: Web) -> None:
    plain = await _campaign(web, "Store hours", message="Our store hours change")
    bad = await web.client.post(
        f"/campaigns/{plain['id']}/tags", data={"csrf_token": await web.csrf(), "tags": ["loyalty", "spam"]}
    )
    assert bad.status_code == 422 and "tags" in bad.text and "<html" in bad.text
    assert (await web.api.client.get(f"/api/v1/campaigns/{plain['id']}")).json()["tags"] == []
    forged = await web.client.post(f"/campaigns/{plain['id']}/tags", data={"tags": ["loyalty"]})
    assert forged.status_code == 403  # no CSRF token
    missing = await web.client.post("/campaigns/999999/tags", data={"csrf_token": await web.csrf()})
    assert missing.status_code == 404

    listed = await web.client.get("/campaigns", params={"tag": "spam"})
    assert listed.status_code == 422 and "tag" in listed.text
    api = await web.api.client.get("/api/v1/campaigns", params={"tag": "spam"})
    assert api.status_code == 422
    assert [d["loc"] for d in api.json()["error"]["details"]] == [["query", "tag"]]


async def test_a_sent_campaign_page_summarises_it_in_sentences(web: Web) -> None:
    people = [(f"p{i}", "Pune", "20000") for i in range(8)] + [(f"m{i}", "Mumbai", "500") for i in range(8)]
    customers = [
        customer(external_id=e, name=f"N {e}", city=c, phone=f"+9198{n:08}")
        for n, (e, c, _) in enumerate(people)
    ]
    orders = [order(external_id=f"o-{e}", customer_external_id=e, amount=a) for e, _, a in people]
    assert (await web.api.client.post("/api/v1/customers", json=customers)).status_code == 201
    assert (await web.api.client.post("/api/v1/orders", json=orders)).status_code == 201
    campaign = await _campaign(web, "Summarised")

    # A draft has sent nothing: the section says so, and is not polled.
    draft = (await web.client.get(f"/campaigns/{campaign['id']}")).text
    assert "Summary Nothing has been sent yet." in _text(draft)
    assert 'hx-get="/campaigns/{}/summary"'.format(campaign["id"]) not in draft

    assert (await web.api.client.post(f"/api/v1/campaigns/{campaign['id']}/launch")).status_code == 202
    pending = (await web.client.get(f"/campaigns/{campaign['id']}")).text
    assert "None of the 16 messages has been delivered or has failed yet." in _text(pending)
    assert 'hx-get="/campaigns/{}/summary" hx-trigger="every 30s"'.format(campaign["id"]) in pending

    # Receipts as they would land: Pune all delivered, Mumbai half failed.
    await pune_delivered_mumbai_half_failed(web.api.services.db.engine, campaign["id"])
    section = await web.client.get(f"/campaigns/{campaign['id']}/summary")
    assert section.status_code == 200 and "<html" not in section.text  # the section alone, for htmx
    said = re.findall(r"<li>([^<]+)</li>", html.unescape(section.text))
    assert said[0] == "Of 16 messages, 12 were delivered and 4 failed: a 75.0% delivery rate."
    assert "Best: customers with city Pune, 100.0% delivered of 8 settled." in said
    assert any(
        s.startswith("Weakest: customers with") and s.endswith(", 50.0% delivered of 8 settled.")
        for s in said
    )
    assert "Customers with spend of ₹10,000 or more had a 100.0% delivery rate." in said
    assert 3 <= len(said) <= 6
    # The same sentences as the API's, on the campaign page too.
    api = (await web.api.client.post(f"/api/v1/ai/campaigns/{campaign['id']}/summary")).json()
    assert api["sentences"] == said
    page = _text((await web.client.get(f"/campaigns/{campaign['id']}")).text)
    assert " ".join(said) in page

    assert (await web.client.get("/campaigns/999999/summary")).status_code == 404
    assert (await web.client.get("/campaigns/nope/summary")).status_code == 422


async def test_the_wizard_offers_a_send_time_for_the_store_zone(web: Web) -> None:
    wizard = (await web.client.get("/campaigns/new")).text
    assert re.search(r'id="send-time-box" data-timezone="Asia/Kolkata"', wizard)
    assert (
        '<button type="button" class="secondary outline small" id="suggest-time">Suggest a time</button>'
        in wizard
    )
    assert "<script>" not in wizard and "onclick" not in wizard  # the strict CSP: static JS only
    # What its script asks, as it asks it (session cookie and CSRF header): bad input names the field.
    headers = {"X-CSRF-Token": await web.csrf()}
    bad = await web.client.post("/api/v1/ai/send-time", json={"timezone": "Mars/Olympus"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["body", "timezone"]
    unknown = await web.client.post("/api/v1/ai/send-time", json={"segment_id": 999999}, headers=headers)
    assert unknown.status_code == 404 and "segment" in unknown.text
    empty = await web.client.post("/api/v1/ai/send-time", json={"timezone": "Asia/Kolkata"}, headers=headers)
    assert empty.status_code == 200 and empty.json()["next_at"] is None
