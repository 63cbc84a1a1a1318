"""The customer page lists the saved segments the customer is in now."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.conftest import Web
from tests.factories import customer, order


def _member_of(page: str) -> str:
    section = page.split('<section aria-labelledby="segments-heading" id="segments">', 1)[1].split(
        "</section>", 1
    )[0]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", section))).strip()


async def _segment(web: Web, name: str, *rules: dict[str, Any]) -> int:
    body = {"name": name, "rules": {"op": "and", "rules": list(rules)}}
    created = await web.api.client.post("/api/v1/segments", json=body)
    assert created.status_code == 201
    return int(created.json()["id"])


async def test_the_customer_page_names_the_segments_they_are_in(web: Web) -> None:
    people = [
        customer(external_id="asha", city="Pune"),
        customer(external_id="ravi", name="Ravi", city="Mumbai"),
    ]
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201
    orders = [order(external_id="o1", customer_external_id="asha", amount="2500.00")]
    assert (await web.api.client.post("/api/v1/orders", json=orders)).status_code == 201

    page = await web.client.get("/customers/asha")
    assert "No saved segments yet" in _member_of(page.text)

    ids = [
        await _segment(web, "Pune", {"field": "city", "cmp": "eq", "value": "Pune"}),
        await _segment(web, "Big spenders", {"field": "total_spend", "cmp": "gt", "value": 1000}),
        await _segment(web, "Mumbai", {"field": "city", "cmp": "eq", "value": "Mumbai"}),
        await _segment(web, "Everyone"),
    ]
    asha = _member_of((await web.client.get("/customers/asha")).text)
    assert asha.startswith("Segments Everyone Big spenders Pune Checked now")  # newest first
    assert "Mumbai" not in asha and "against the rules of all 4 saved segments." in asha
    ravi = _member_of((await web.client.get("/customers/ravi")).text)
    assert ravi.startswith("Segments Everyone Mumbai Checked now")

    await _segment(web, "Nobody", {"field": "city", "cmp": "eq", "value": "Goa"})
    for sid in ids:
        assert (await web.api.client.delete(f"/api/v1/segments/{sid}")).status_code == 204
    assert "In none of the saved segments." in _member_of((await web.client.get("/customers/asha")).text)
