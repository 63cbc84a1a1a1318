"""The campaign performance summary: facts in SQL by slice, sentences whose every number is a fact."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

from pulsecrm.ai import summary
from tests.ai.receipts import pune_delivered_mumbai_half_failed
from tests.conftest import Api

NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def generated(seed: int) -> summary.Facts:
    """A campaign's facts as delivery might leave them: any mix of sizes, cities and outcomes."""
    rng = random.Random(seed)
    slices = []
    for dimension, labels in (
        ("city", ["Pune", "Mumbai", "Delhi", "no city on file"]),
        ("spend", list(summary.spend_labels().values())),
        ("recency", list(summary.RECENCY_LABELS.values())),
    ):
        for label in rng.sample(labels, rng.randint(1, len(labels))):
            size = rng.randint(0, 5000)
            delivered = rng.randint(0, size)
            failed = rng.randint(0, size - delivered)
            slices.append(summary.Slice(dimension, label, size, delivered, failed))
    messages = rng.randint(0, 20000)
    delivered = rng.randint(0, messages)
    failed = rng.randint(0, messages - delivered)
    pending = rng.randint(0, messages - delivered - failed)
    return summary.Facts(seed, messages, delivered, failed, pending, slices)


def test_every_number_in_fifty_generated_summaries_is_a_fact() -> None:
    for seed in range(50):
        facts = generated(seed)
        said = summary.sentences(facts)
        assert 3 <= len(said) <= 6, said
        text = " ".join(said)
        assert summary.ungrounded(text, facts) == [], text
        # Independently of `ungrounded`: each number parsed out of the text is in the facts' JSON.
        known = _numbers(facts.as_json()) | {
            Decimal(n) for n in (*summary.SPEND_BANDS, *summary.RECENCY_DAYS)
        }
        for n in NUMBER.findall(text):
            value = Decimal(n.replace(",", ""))
            settled = {Decimal(s["delivered"] + s["failed"]) for s in facts.as_json()["slices"]}
            assert value in known | settled, (n, text)


def test_numbers_are_written_as_the_pages_write_them() -> None:
    # A rupee store groups by lakh, like the pages' `number` filter; rates have one decimal.
    spend = summary.spend_labels()
    facts = summary.Facts(
        1,
        123_456,
        120_000,
        3_000,
        456,
        [summary.Slice("spend", spend["high"], 123_456, 120_000, 3_000)],
    )
    said = summary.checked_sentences(facts)
    assert said[0] == "Of 1,23,456 messages, 1,20,000 were delivered and 3,000 failed: a 97.6% delivery rate."
    assert said[1] == "456 are still pending, so these figures can still change."
    assert "Customers with spend of ₹10,000 or more had a 97.6% delivery rate." in said


def test_a_number_not_in_the_facts_is_caught() -> None:
    facts = generated(7)
    assert summary.ungrounded("Delivery rose 12345.6% thanks to magic.", facts) == ["12345.6"]


def _numbers(node: Any) -> set[Decimal]:
    if isinstance(node, dict):
        return set().union(*(_numbers(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_numbers(v) for v in node)) if node else set()
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return set()
    return {Decimal(str(node)).normalize()} | {Decimal(str(node))}


async def test_summary_through_the_api(inline_api: Api) -> None:
    client = inline_api.client
    people = [(f"p{i}", "Pune", "20000") for i in range(8)] + [(f"m{i}", "Mumbai", "500") for i in range(8)]
    customers = [
        {"external_id": i, "name": f"N {i}", "city": c, "phone": f"+91 90000 2{n:04d}"}
        for n, (i, c, _) in enumerate(people)
    ]
    orders = [
        {
            "external_id": f"o-{i}",
            "customer_external_id": i,
            "amount": a,
            "ordered_at": "2026-10-01T10:00:00Z",
        }
        for i, _, a in people
    ]
    assert (await client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    assert (await client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    everyone = {"op": "and", "rules": []}
    campaign = (
        await client.post("/api/v1/campaigns", json={"name": "s", "message": "Hi", "rules": everyone})
    ).json()
    empty = (await client.post(f"/api/v1/ai/campaigns/{campaign['id']}/summary")).json()
    assert empty["sentences"][0] == "This campaign has sent no messages yet."
    assert (await client.post(f"/api/v1/campaigns/{campaign['id']}/launch")).status_code == 202
    # Outcomes as the receipts would leave them: Pune all delivered, Mumbai half failed.
    await pune_delivered_mumbai_half_failed(inline_api.services.db.engine, campaign["id"])
    response = await client.post(f"/api/v1/ai/campaigns/{campaign['id']}/summary")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sentences"][0] == "Of 16 messages, 12 were delivered and 4 failed: a 75.0% delivery rate."
    assert "Best: customers with city Pune, 100.0% delivered of 8 settled." in body["sentences"]
    assert "Customers with spend of ₹10,000 or more had a 100.0% delivery rate." in body["sentences"]
    assert any(
        s.startswith("Weakest: customers with") and "50.0% delivered of 8 settled" in s
        for s in body["sentences"]
    )
    cities = {s["label"]: s for s in body["facts"]["slices"] if s["dimension"] == "city"}
    assert cities["Mumbai"]["delivery_rate_percent"] == 50.0 and cities["Mumbai"]["size"] == 8
    known = _numbers(body["facts"]) | {Decimal(n) for n in (*summary.SPEND_BANDS, *summary.RECENCY_DAYS)}
    known |= {Decimal(s["delivered"] + s["failed"]) for s in body["facts"]["slices"]}
    for n in NUMBER.findall(body["text"]):
        assert Decimal(n.replace(",", "")) in known, n
    assert (await client.post("/api/v1/ai/campaigns/999999/summary")).status_code == 404
