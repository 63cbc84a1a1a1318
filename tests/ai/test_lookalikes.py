"""Lookalike audiences through the API: the planted cluster is found, the ranking is explained,
and a saved lookalike is a list segment that previews, builds and launches like any other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from pulsecrm.ai.lookalike import fields_for, rank
from pulsecrm.segments.models import SegmentMember
from tests.ai import planted as p
from tests.conftest import Api
from tests.outcomes.test_report import _catch_up, _send_all

PRECISION = 0.8  # issue 14's figure


async def _ingest(api: Api, data: p.Planted) -> None:
    customers = p.customer_payloads(data.records)
    orders = p.order_payloads(data.records)
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    assert (await api.client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    await api.drain()


def _ids_rule(external_ids: list[str]) -> dict[str, Any]:
    return {"op": "and", "rules": [{"field": "external_id", "cmp": "in", "value": external_ids}]}


async def _seed_segment(api: Api, data: p.Planted) -> int:
    body = {"name": "Seed", "rules": _ids_rule(data.seed)}
    created = await api.client.post("/api/v1/segments", json=body)
    assert created.status_code == 201, created.text
    segment_id: int = created.json()["id"]
    return segment_id


def test_ranking_finds_the_planted_cluster_without_a_database() -> None:
    data = p.planted(background=3000, cluster=400, seed=150)
    frame = p.frame(data.records)
    seed = pl.Series([r.external_id in set(data.seed) for r in data.records])
    ranking = rank(frame.filter(seed), frame.filter(~seed), fields_for(p.catalog()), now=p.NOW, size=250)
    external = {i + 1: r.external_id for i, r in enumerate(data.records)}
    assert p.precision([external[i] for i in ranking.ids], data.hidden) >= PRECISION
    assert ranking.similarity == sorted(ranking.similarity, reverse=True)
    assert {d.feature for d in ranking.drivers} >= {"attributes.loyalty_points", "city", "order_count"}


def test_a_seed_like_everyone_has_no_drivers_and_still_ranks() -> None:
    data = p.planted(background=400, cluster=0, seed=0)
    frame = p.frame(data.records)
    seed = frame["id"] % 4 == 0  # an arbitrary quarter: it looks like everyone
    ranking = rank(frame.filter(seed), frame.filter(~seed), fields_for(p.catalog()), now=p.NOW, size=10)
    assert len(ranking.ids) == 10 and ranking.drivers == []


async def test_a_lookalike_of_a_segment_finds_the_cluster_and_saves_a_list_segment(inline_api: Api) -> None:
    api, client = inline_api, inline_api.client
    data = p.planted(background=500, cluster=150, seed=50)
    await _ingest(api, data)
    seed_id = await _seed_segment(api, data)

    found = await client.post(
        "/api/v1/ai/lookalikes", json={"segment_id": seed_id, "size": 100, "preview": 100}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["seed"] == {"kind": "segment", "id": seed_id, "name": "Seed", "customers": 50}
    assert (body["size"], body["scanned"], body["sampled"]) == (100, 600, False)
    names = [c["external_id"] for c in body["customers"]]
    assert len(names) == 100 and not set(names) & set(data.seed)
    assert p.precision(names, data.hidden) >= PRECISION
    similarity = [c["similarity"] for c in body["customers"]]
    assert similarity == sorted(similarity, reverse=True) and body["min_similarity"] == similarity[-1]
    drivers = {d["feature"]: d for d in body["drivers"]}
    assert "city" in drivers and "Pune" in drivers["city"]["text"]
    assert drivers["attributes.loyalty_points"]["difference"] > 1
    assert 0 < sum(d["weight"] for d in body["drivers"]) <= 1

    saved = await client.post(
        "/api/v1/ai/lookalikes/save",
        json={"segment_id": seed_id, "size": 100, "preview": 5, "name": "Like seed"},
    )
    assert saved.status_code == 201, saved.text
    segment = saved.json()["segment"]
    list_id = segment["id"]
    assert (segment["kind"], segment["last_count"]) == ("list", 100)
    assert segment["description"] == "100 customers most like segment “Seed”"
    assert segment["rules"]["rules"] == [{"field": "segment", "cmp": "in_segment", "value": list_id}]
    assert [c["external_id"] for c in saved.json()["customers"]] == names[:5]  # the same ranking

    # In the builder: alone, combined, and negated; counted in SQL (members are not in memory).
    member = {"field": "segment", "cmp": "in_segment", "value": list_id}
    alone = (await client.post("/api/v1/segments/preview", json={"rules": segment["rules"]})).json()
    assert alone["count"] == 100 and alone["answered_by"] == "database"
    assert alone["fallback"] in ("list_segment_condition", "building", "stale")
    pune = {"op": "and", "rules": [member, {"field": "city", "cmp": "eq", "value": "Pune"}]}
    in_pune = (await client.post("/api/v1/segments/preview", json={"rules": pune})).json()["count"]
    pune_found = sum(r.city == "Pune" for r in data.records if r.external_id in set(names))
    assert in_pune == pune_found
    outside = {"op": "and", "rules": [{**member, "cmp": "not_in_segment"}]}
    assert (await client.post("/api/v1/segments/preview", json={"rules": outside})).json()["count"] == 550

    # Its members are fixed: renaming is fine, other rules are refused.
    rename = {"name": "Like seed (renamed)", "rules": segment["rules"]}
    assert (await client.put(f"/api/v1/segments/{list_id}", json=rename)).status_code == 200
    changed = {"name": "Like seed", "rules": pune}
    refused = await client.put(f"/api/v1/segments/{list_id}", json=changed)
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["loc"] == ["body", "rules"]

    # A campaign to it freezes exactly its members.
    campaign = await client.post(
        "/api/v1/campaigns",
        json={"name": "To lookalikes", "message": "Hi {{ first_name }}", "segment_id": list_id},
    )
    assert campaign.status_code == 201, campaign.text
    launched = await client.post(f"/api/v1/campaigns/{campaign.json()['id']}/launch")
    assert launched.status_code == 202, launched.text
    assert launched.json()["stats"]["audience"] == 100

    # The name is taken now; and asking for more than there is returns everyone outside the seed.
    taken = await client.post(
        "/api/v1/ai/lookalikes/save", json={"segment_id": seed_id, "size": 10, "name": "Like seed (renamed)"}
    )
    assert taken.status_code == 409
    everyone = await client.post("/api/v1/ai/lookalikes", json={"segment_id": seed_id, "size": 10_000})
    assert everyone.json()["size"] == 600

    # Deleting the list takes its members along; the launched campaign keeps its audience, and
    # a tree that still names the list is told so at the condition.
    assert (await client.delete(f"/api/v1/segments/{list_id}")).status_code == 204
    gone = await client.post("/api/v1/segments/preview", json={"rules": segment["rules"]})
    assert gone.status_code == 422 and gone.json()["error"]["details"][0]["type"] == "unknown_segment"
    kept = await client.get(f"/api/v1/campaigns/{campaign.json()['id']}")
    assert kept.json()["stats"]["audience"] == 100
    async with api.services.db.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(SegmentMember)) == 0


async def test_a_lookalike_of_a_campaigns_converters(inline_api: Api) -> None:
    api, client = inline_api, inline_api.client
    data = p.planted(background=300, cluster=100, seed=40, rng_seed=7)
    await _ingest(api, data)
    await _catch_up(api)  # the attribution pass's cursor starts before this test's orders
    # Message the whole cluster's seed part and some of the background; only the seed buys.
    audience = data.seed + [r.external_id for r in data.records if not r.cluster][:40]
    campaign = await client.post(
        "/api/v1/campaigns", json={"name": "Spring", "message": "Hi", "rules": _ids_rule(audience)}
    )
    campaign_id = campaign.json()["id"]
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/launch")).status_code == 202
    sent_at = datetime.now(UTC) - timedelta(hours=2)
    await _send_all(api, campaign_id, sent_at)
    bought = (sent_at + timedelta(hours=1)).isoformat()
    orders = [
        {"external_id": f"buy-{e}", "customer_external_id": e, "amount": "2500.00", "ordered_at": bought}
        for e in data.seed
    ]
    assert (await client.post("/api/v1/orders", json=orders)).status_code in (201, 202)
    await api.drain()
    await _catch_up(api)

    found = await client.post(
        "/api/v1/ai/lookalikes", json={"campaign_id": campaign_id, "size": 60, "preview": 60}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["seed"] == {"kind": "campaign", "id": campaign_id, "name": "Spring", "customers": 40}
    names = [c["external_id"] for c in body["customers"]]
    assert not set(names) & set(data.seed)
    assert p.precision(names, data.hidden) >= PRECISION


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": 10}, "segment_id"),
        ({"segment_id": 1, "campaign_id": 1}, "segment_id"),
        ({"segment_id": 999}, "segment_id"),
        ({"campaign_id": 999}, "campaign_id"),
        ({"segment_id": 1, "size": 0}, "size"),
        ({"segment_id": 1, "size": 10_001}, "size"),
        ({"segment_id": 1, "preview": 101}, "preview"),
        ({"segment_id": 1, "seed": 3}, "seed"),
        ({"segment_id": "one"}, "segment_id"),
    ],
)
async def test_bad_requests_are_422_naming_the_field(
    inline_api: Api, body: dict[str, Any], field: str
) -> None:
    client = inline_api.client
    await client.post("/api/v1/customers", json=[{"external_id": "c1", "name": "A", "city": "Pune"}])
    created = await client.post("/api/v1/segments", json={"name": "Pune", "rules": _ids_rule(["c1"])})
    assert created.json()["id"] == 1
    answer = await client.post("/api/v1/ai/lookalikes", json=body)
    assert answer.status_code == 422, answer.text
    assert field in [d["loc"][-1] for d in answer.json()["error"]["details"]], answer.text


async def test_empty_seeds_bad_list_references_and_auth(inline_api: Api) -> None:
    client = inline_api.client
    await client.post("/api/v1/customers", json=[{"external_id": "c1", "name": "A"}])
    nobody = await client.post("/api/v1/segments", json={"name": "Nobody", "rules": _ids_rule(["zz"])})
    empty = await client.post("/api/v1/ai/lookalikes", json={"segment_id": nobody.json()["id"]})
    assert empty.status_code == 422 and "the seed is empty" in empty.json()["error"]["message"]

    # "in segment" names a list segment that exists; a rule segment is refused at its path.
    for value, kind in ((nobody.json()["id"], "not_a_list_segment"), (12345, "unknown_segment")):
        tree = {"op": "and", "rules": [{"field": "segment", "cmp": "in_segment", "value": value}]}
        bad = await client.post("/api/v1/segments/preview", json={"rules": tree})
        assert bad.status_code == 422
        detail = bad.json()["error"]["details"][0]
        assert (detail["path"], detail["type"]) == ("$.rules.rules[0].value", kind)

    anonymous = await client.post(
        "/api/v1/ai/lookalikes", json={"segment_id": 1}, headers={"Authorization": "Bearer nope"}
    )
    assert anonymous.status_code == 401
