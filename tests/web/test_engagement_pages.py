"""Engagement in the pages: the rules sentence names the campaigns, and a customer's page lists
the messages sent to them."""

from __future__ import annotations

import html

import pytest

from pulsecrm.segments import catalog as segment_catalog
from pulsecrm.web import rules_text
from tests.conftest import Web
from tests.engagement import EVERYONE, build_world, cond, group, rules, send_campaign

CATALOG = segment_catalog.build({})
NAMES = {12: "Spring sale"}


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (cond("received", "in_campaign", 12), "Received “Spring sale”"),
        (cond("received", "not_in_campaign", 12), "Did not receive “Spring sale”"),
        (cond("opened", "in_campaign", 12), "Opened “Spring sale”"),
        (cond("opened", "not_in_campaign", 12), "Received “Spring sale” but did not open it"),
        (cond("clicked", "in_campaign", 12), "Clicked in “Spring sale”"),
        (cond("converted", "not_in_campaign", 12), "Received “Spring sale” but did not buy after it"),
        (cond("opened", "in_campaign", 99), "Opened campaign #99"),
        (cond("received", "within_last_days", 30), "Received a message in the last 30 days"),
        (cond("received", "not_within_last_days", 1), "Received no message in the last day"),
        (cond("clicked", "within_last_days", 7), "Clicked in a message in the last 7 days"),
        (cond("opened", "not_within_last_days", 30), "Received messages in the last 30 days but opened none"),
    ],
)
def test_engagement_conditions_read_as_sentences(condition: dict[str, object], text: str) -> None:
    assert rules_text.sentence(rules(condition), CATALOG, NAMES) == text


def test_campaigns_are_found_anywhere_in_the_tree() -> None:
    tree = rules(
        cond("opened", "in_campaign", 3),
        group(cond("clicked", "not_in_campaign", 4), cond("received", "within_last_days", 5)),
        cond("order_count", "eq", 6),
    )
    assert rules_text.campaign_ids(tree) == {3, 4}
    assert (
        rules_text.sentence(tree, CATALOG, {3: "A", 4: "B"})
        == "Opened “A” and (received “B” but did not click in it or received a message in the last 5 days) "
        "and number of orders of 6"
    )


async def test_the_campaign_page_names_the_campaign_its_rules_refer_to(web: Web) -> None:
    api = web.api
    await build_world(api)
    spring = (await api.client.get("/api/v1/campaigns", params={"status": "running"})).json()["items"]
    spring_id = next(c["id"] for c in spring if c["name"] == "Spring sale")
    body = {"name": "Nudge", "message": "Hi", "rules": rules(cond("opened", "not_in_campaign", spring_id))}
    created = (await api.client.post("/api/v1/campaigns", json=body)).json()
    page = html.unescape((await web.client.get(f"/campaigns/{created['id']}")).text)
    assert "Received “Spring sale” but did not open it" in page


async def test_the_customer_page_lists_their_messages(web: Web) -> None:
    api = web.api
    await build_world(api)
    page = html.unescape((await web.client.get("/customers/c2")).text)
    messages = page[page.index('id="messages"') : page.index('id="consent-heading"')]
    assert "Spring sale" in messages and "delivered" in messages
    assert "o-c2: ₹1,499.50 on" in messages
    assert "no clicks" in messages
    c3 = html.unescape((await web.client.get("/customers/c3")).text)
    assert c3.index("Recall") < c3.index("Spring sale")  # newest first
    assert "No messages yet" in (await web.client.get("/customers/c6")).text


async def test_a_control_group_membership_reads_as_such(web: Web) -> None:
    api = web.api
    people = [
        {"external_id": f"c{i}", "name": f"P {i}", "phone": f"+91 90000 4{i:04d}"} for i in range(1, 21)
    ]
    assert (await api.client.post("/api/v1/customers", json=people)).status_code == 201
    await send_campaign(api, "Half", EVERYONE, holdout_percent=50)
    texts = [(await web.client.get(f"/customers/c{i}")).text for i in range(1, 21)]
    held = [t for t in texts if "control group" in t]
    assert held and len(held) < 20
    assert all("sent nothing" in t for t in held)
