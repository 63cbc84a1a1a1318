"""Engagement conditions: received / opened / clicked / converted, by campaign or in the last N
days, with their negations; checked, counted and launched like every other condition, on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from pulsecrm.outcomes import attribution
from pulsecrm.segments import rules as rule_lang
from pulsecrm.segments.compiler import RECEIVED_STATUSES
from tests.conftest import Api
from tests.engagement import EVERYONE, World, add_customers, build_world, cond, group, rules, send_campaign


async def who(api: Api, tree: dict[str, Any]) -> tuple[int, set[str]]:
    response = await api.client.post("/api/v1/segments/preview", json={"rules": tree})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["count"], {c["external_id"] for c in body["sample"]}


async def test_engagement_conditions_count_the_customers_they_say(inline_api: Api) -> None:
    api = inline_api
    w: World = await build_world(api)
    spring = w.spring
    expected: list[tuple[dict[str, Any], set[str]]] = [
        # Received: sent, delivered (or unconfirmed), never failed; c6 was not in the audience.
        (rules(cond("received", "in_campaign", spring)), {"c1", "c2", "c3", "c5"}),
        (rules(cond("received", "not_in_campaign", spring)), {"c4", "c6"}),
        (rules(cond("opened", "in_campaign", spring)), {"c1", "c2"}),
        # "Didn't open Spring": received it and did not open it (not c4, whose bounced; not c6).
        (rules(cond("opened", "not_in_campaign", spring)), {"c3", "c5"}),
        # ... while `not` on a group is the exact complement: everyone but the openers.
        (rules(cond("opened", "in_campaign", spring), negate=True), {"c3", "c4", "c5", "c6"}),
        (rules(cond("clicked", "in_campaign", spring)), {"c1"}),
        (rules(cond("clicked", "not_in_campaign", spring)), {"c2", "c3", "c5"}),
        # c4 bought too, but after a bounced message: no credit.
        (rules(cond("converted", "in_campaign", spring)), {"c2"}),
        (rules(cond("converted", "not_in_campaign", spring)), {"c1", "c3", "c5"}),
        (rules(cond("received", "in_campaign", w.recall)), {"c3"}),
        # In the last N days: among the messages sent then. Recall went out 40 days ago.
        (rules(cond("received", "within_last_days", 30)), {"c1", "c2", "c3", "c5"}),
        (rules(cond("received", "not_within_last_days", 30)), {"c4", "c6"}),
        (rules(cond("opened", "within_last_days", 30)), {"c1", "c2"}),
        (rules(cond("opened", "not_within_last_days", 30)), {"c3", "c5"}),
        (rules(cond("opened", "within_last_days", 60)), {"c1", "c2", "c3"}),
        (rules(cond("opened", "not_within_last_days", 60)), {"c5"}),
        (rules(cond("clicked", "within_last_days", 1)), {"c1"}),
        (rules(cond("converted", "within_last_days", 365)), {"c2"}),
        (rules(cond("converted", "not_within_last_days", 7)), {"c1", "c3", "c5"}),
        # Mixed with customer fields and groups, like any condition.
        (
            rules(
                cond("city", "eq", "pune"),
                group(cond("clicked", "in_campaign", spring), cond("converted", "in_campaign", spring)),
            ),
            {"c1", "c2"},
        ),
        (
            rules(cond("opened", "not_in_campaign", spring), cond("opened", "in_campaign", w.recall)),
            {"c3"},
        ),
    ]
    for tree, customers in expected:
        count, sample = await who(api, tree)
        assert (count, sample) == (len(customers), customers), tree

    # The other queries the same filter goes through: a capped count, and the wizard's reach.
    didnt_open = rules(cond("opened", "not_in_campaign", spring))
    capped = await api.client.post(
        "/api/v1/segments/preview", json={"rules": didnt_open, "exact": False, "cap": 1}
    )
    assert (capped.json()["count"], capped.json()["count_is_lower_bound"]) == (1, True)
    reach = await api.client.post("/api/v1/campaigns/reach", json={"channel": "sms", "rules": didnt_open})
    assert (reach.json()["matched"], reach.json()["reachable"]) == (2, 2)


async def test_previews_with_engagement_are_counted_in_sql(
    inline_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = inline_api
    await add_customers(api, "c1", "c2")
    spring, _ = await send_campaign(api, "Spring", EVERYONE)
    engine = api.services.audience
    await engine.rebuild()
    monkeypatch.setattr(engine, "start", lambda: None)  # no follower: the snapshot stays as built
    plain = (await api.client.post("/api/v1/segments/preview", json={"rules": EVERYONE})).json()
    assert (plain["answered_by"], plain["count"]) == ("memory", 2)
    tree = rules(cond("city", "eq", "pune"), cond("received", "in_campaign", spring))
    body = (await api.client.post("/api/v1/segments/preview", json={"rules": tree})).json()
    # The snapshot holds customers, not their messages: such a tree is counted in SQL.
    assert (body["count"], body["answered_by"], body["fallback"]) == (2, "database", "engagement_condition")
    # Adding engagement fields to the catalog never makes the engine want a rebuild.
    assert not engine.status.rebuild_wanted


async def test_a_launch_messages_exactly_the_engaged_audience(inline_api: Api) -> None:
    api = inline_api
    w = await build_world(api)
    audience = rules(cond("opened", "not_in_campaign", w.spring))
    reminder, sent = await send_campaign(api, "Reminder", audience)
    assert set(sent) == {"c3", "c5"}
    campaign = (await api.client.get(f"/api/v1/campaigns/{reminder}")).json()
    assert campaign["stats"]["audience"] == 2
    # A saved segment keeps the count of its engagement rules too.
    saved = await api.client.post("/api/v1/segments", json={"name": "Openers", "rules": audience})
    assert saved.status_code == 201, saved.text
    assert saved.json()["last_count"] == 2


@pytest.mark.parametrize(
    ("condition", "where", "needle"),
    [
        (cond("opened", "in_campaign", 999_999), "value", "no campaign with id 999999"),
        (cond("opened", "in_campaign", "spring"), "value", "expected a campaign id"),
        (cond("opened", "in_campaign", True), "value", "expected a campaign id"),
        (cond("opened", "not_in_campaign", 0), "value", "expected a campaign id"),
        (cond("opened", "in_campaign", None), "value", "needs a value"),
        (cond("clicked", "within_last_days", 0), "value", "days must be between 1 and 365"),
        (cond("clicked", "within_last_days", 366), "value", "days must be between 1 and 365"),
        (cond("received", "not_within_last_days", 2.5), "value", "expected a number of days"),
        (cond("converted", "gt", 1), "cmp", "does not apply to engagement field 'converted'"),
        (cond("opened", "is_set", None), "cmp", "does not apply"),
    ],
)
async def test_bad_engagement_conditions_are_422_at_their_path(
    inline_api: Api, condition: dict[str, Any], where: str, needle: str
) -> None:
    await add_customers(inline_api, "c1")
    tree = rules(cond("city", "eq", "Pune"), group(condition))
    for path, body in (
        ("/api/v1/segments/preview", {"rules": tree}),
        ("/api/v1/segments", {"name": "bad", "rules": tree}),
        ("/api/v1/campaigns", {"name": "bad", "message": "Hi", "rules": tree}),
    ):
        response = await inline_api.client.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        details = response.json()["error"]["details"]
        assert details[0]["path"] == f"$.rules.rules[1].rules[0].{where}", details
        assert needle in details[0]["message"]


async def test_every_unknown_campaign_is_named(inline_api: Api) -> None:
    await add_customers(inline_api, "c1")
    spring, _ = await send_campaign(inline_api, "Spring", EVERYONE)
    tree = rules(
        cond("opened", "in_campaign", spring),
        cond("clicked", "not_in_campaign", spring + 100),
        cond("received", "in_campaign", spring + 200),
    )
    response = await inline_api.client.post("/api/v1/segments/preview", json={"rules": tree})
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["path"], d["type"]) for d in details] == [
        ("$.rules.rules[1].value", "unknown_campaign"),
        ("$.rules.rules[2].value", "unknown_campaign"),
    ]


def test_negation_flips_only_what_is_an_exact_complement() -> None:
    received = rule_lang.Condition(field="received", cmp="in_campaign", value=3)
    assert rule_lang.negate(received) == received.model_copy(update={"cmp": "not_in_campaign"})
    recent = rule_lang.Condition(field="received", cmp="within_last_days", value=30)
    assert rule_lang.negate(recent) == recent.model_copy(update={"cmp": "not_within_last_days"})
    for field in ("opened", "clicked", "converted"):
        node = rule_lang.Condition(field=field, cmp="in_campaign", value=3)
        negated = rule_lang.negate(node)
        assert isinstance(negated, rule_lang.Group)
        assert negated.negate
        assert negated.rules == [node]


def test_received_means_what_attribution_credits() -> None:
    """A converted message is always a received one."""
    assert set(RECEIVED_STATUSES) == set(attribution.CREDITABLE)


async def test_the_catalog_lists_the_engagement_fields(inline_api: Api) -> None:
    fields = (await inline_api.client.get("/api/v1/segments/fields")).json()["fields"]
    by_name = {f["name"]: f for f in fields}
    for name in ("received", "opened", "clicked", "converted"):
        assert by_name[name]["type"] == "engagement"
        assert by_name[name]["operators"] == [
            "in_campaign",
            "not_in_campaign",
            "within_last_days",
            "not_within_last_days",
        ]
