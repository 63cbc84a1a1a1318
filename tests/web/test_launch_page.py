"""The launch controls as served: the draft's Launch button carries what its confirmation
needs (channel, name, rules as JSON) safely encoded, and the test box shows only before launch."""

from __future__ import annotations

import html
import json
import re

from tests.conftest import Web
from tests.factories import customer

TRICKY = 'Eid \'24 "sale" </script><b>'


async def test_a_drafts_launch_button_carries_its_audience_safely(web: Web) -> None:
    people = [customer(external_id="c1", city="Pune", phone="+91 98000 00001")]
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201
    rules = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pu'ne\"</b>"}]}
    body = {"name": TRICKY, "channel": "sms", "rules": rules, "message": "Hi"}
    created = await web.api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]

    page = (await web.client.get(f"/campaigns/{cid}")).text
    button = re.search(r'<button type="button" id="launch-draft"([^>]*)>Launch</button>', page)
    assert button, "no Launch button on a draft"
    attrs = dict(re.findall(r"""([\w-]+)=(?:"([^"]*)"|'[^']*')""", button.group(1)))
    assert html.unescape(attrs["data-name"]) == TRICKY and attrs["data-channel"] == "sms"
    raw_rules = re.search(r"data-rules='([^']*)'", button.group(1))
    assert raw_rules and json.loads(html.unescape(raw_rules.group(1)))["rules"] == rules["rules"]
    assert "<b>" not in button.group(0) and "data-confirm" not in button.group(0)

    box = page.split('id="test-send-box"', 1)[1].split("</section>", 1)[0]
    assert f'data-campaign="{cid}" data-channel="sms"' in box
    assert re.search(r'<div data-sms-only>\s*<label for="test-phone">Your phone number</label>', box)
    assert re.search(r'<p class="muted small" data-email-only hidden>', box)

    # Once launched, neither the Launch button nor the test box is offered.
    assert (await web.api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    launched = (await web.client.get(f"/campaigns/{cid}")).text
    assert 'id="launch-draft"' not in launched and 'id="test-send-box"' not in launched


async def test_the_wizard_offers_a_test_to_the_signed_in_address(web: Web) -> None:
    wizard = (await web.client.get("/campaigns/new")).text
    box = wizard.split('id="test-send-box"', 1)[1].split("</section>", 1)[0]
    assert "Sends the e-mail once to your address, <strong>marketer@example.com</strong>" in box
    assert "Not part of the campaign: no counter, log or report includes it." in box
    assert 'id="launch"' in wizard and "confirm(" not in wizard
