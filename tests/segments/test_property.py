"""Property: the audience of any rule tree equals the reference evaluator's, on both databases
and both backends: SQL, and the in-memory audience engine (built from part of the data, the
rest applied from the change feed, sometimes merged into its base)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulsecrm.db import metadata
from pulsecrm.segments import engine as audience_engine
from pulsecrm.segments.catalog import COMPARATORS
from tests.conftest import Api, running_api
from tests.segments.reference import FIELD_TYPES, matches

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
# Unicode whose lower() is one character on both Python and PostgreSQL (C.UTF-8).
ALPHABET = "abcxyzABCXYZ éÉüÜñÑçÇßøØдДжЖλΛमुंबई_%-'0123456789"
CITIES = ["Pune", "PUNE", "pune", "Mumbai", "Zürich", "ZÜRICH", "São Paulo", "दिल्ली", "New_York", "50%Off"]
AMOUNTS = ["0.00", "100.00", "250.50"]
# Totals and averages the amounts above add up to, so boundaries are hit exactly and often.
MONEY = [0, 100, 200, "250.5", 300, "350.50", 451, 501, "601.5", "751.50", "125.25", 99.99, 175.25]
TIERS = ["gold", "Gold", "silver", "platinum", "GÖLD"]
TYPES = FIELD_TYPES | {
    "attributes.tier": "text",
    "attributes.visits": "number",
    "attributes.vip": "boolean",
    "attributes.score": "number",
}
texts = st.text(ALPHABET, min_size=1, max_size=6).filter(lambda s: s.strip() == s)


def day(offset: int) -> str:
    """A moment `offset` days before NOW, at midday, far from any relative-date cutoff."""
    return (NOW - timedelta(days=offset, hours=12)).isoformat()


@st.composite
def people(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    customers, orders = [], []
    for i in range(draw(st.integers(1, 25))):
        everything = i == 0  # so every attribute is in the catalog, with its type
        attributes: dict[str, Any] = {}
        if everything or draw(st.booleans()):
            attributes["tier"] = draw(st.sampled_from(TIERS))
        if everything or draw(st.booleans()):
            attributes["visits"] = draw(st.integers(0, 12))
        if everything or draw(st.booleans()):
            attributes["vip"] = draw(st.booleans())
        if everything or draw(st.booleans()):
            attributes["score"] = draw(st.sampled_from([0, 1, 2.5, -3, 10.25]))
        if not everything and draw(st.integers(0, 6)) == 0:
            # Another JSON type in a number attribute (a string would make the key text).
            attributes["visits"] = draw(st.booleans())
        customers.append(
            {
                "external_id": f"c{i:03d}",
                "name": draw(texts),
                "email": draw(st.none() | st.sampled_from(["a@x.example", "B@Y.example", "zé@köln.example"])),
                "city": draw(st.none() | st.sampled_from(CITIES)),
                "attributes": attributes,
                "created_at": day(draw(st.integers(0, 400))),
            }
        )
        for k in range(draw(st.integers(0, 3))):
            orders.append(
                {
                    "external_id": f"o{i}-{k}",
                    "customer_external_id": f"c{i:03d}",
                    "amount": draw(st.sampled_from(AMOUNTS)),
                    "ordered_at": day(draw(st.integers(0, 400))),
                }
            )
    return customers, orders


def values_for(field_type: str, cmp: str) -> st.SearchStrategy[Any]:
    if cmp in ("is_set", "is_not_set"):
        return st.none()
    if cmp in ("within_last_days", "not_within_last_days"):
        return st.integers(0, 400)
    scalar: st.SearchStrategy[Any] = {
        "money": st.sampled_from(MONEY),
        "integer": st.integers(0, 4),
        "number": st.sampled_from([0, 1, 2.5, -3, 10.25, 6]),
        "boolean": st.booleans(),
        "text": st.sampled_from([*CITIES, *TIERS, "a", "É", "x.example", "%", "_", "ü"]) | texts,
        "date": st.integers(0, 400).map(lambda d: (NOW - timedelta(days=d)).date().isoformat())
        | st.integers(0, 400).map(day),
    }[field_type]
    if cmp == "between":
        return st.lists(scalar, min_size=2, max_size=2).filter(lambda p: _ordered(field_type, p))
    if cmp in ("in", "not_in"):
        return st.lists(scalar, min_size=1, max_size=4)
    if cmp in ("contains", "starts_with"):
        return st.text(ALPHABET, min_size=1, max_size=2)
    return scalar


def _ordered(field_type: str, pair: list[Any]) -> bool:
    from tests.segments.reference import _scalar, _when

    if field_type == "date":
        return _when(pair[0], upper=False) <= _when(pair[1], upper=True)
    return bool(_scalar(field_type, pair[0]) <= _scalar(field_type, pair[1]))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(TYPES)))
    cmp = draw(st.sampled_from(COMPARATORS[TYPES[field]]))
    node = {"field": field, "cmp": cmp}
    value = draw(values_for(TYPES[field], cmp))
    if value is not None:
        node["value"] = value
    return node


def trees(depth: int = 4) -> st.SearchStrategy[dict[str, Any]]:
    leaf = conditions()
    group = st.recursive(
        leaf,
        lambda children: st.fixed_dictionaries(
            {"op": st.sampled_from(["and", "or"]), "rules": st.lists(children, max_size=4)},
            optional={"not": st.booleans()},
        ),
        max_leaves=10,
    )
    return st.fixed_dictionaries(
        {"op": st.sampled_from(["and", "or"]), "rules": st.lists(group, max_size=4)},
        optional={"not": st.booleans()},
    ).filter(lambda t: _depth(t) <= depth)


def _depth(node: dict[str, Any]) -> int:
    if "rules" not in node:
        return 0
    return 1 + max((_depth(n) for n in node["rules"]), default=0)


async def _reset(api: Api) -> None:
    async with api.services.db.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name not in ("api_keys", "users"):
                await conn.execute(sa.delete(table))


async def _post(api: Api, path: str, records: list[dict[str, Any]]) -> None:
    if records:
        assert (await api.client.post(path, json=records)).status_code == 201


@pytest.mark.parametrize("backend", ["database", "memory"])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=people(),
    tree_list=st.lists(trees(), min_size=1, max_size=6),
    split=st.floats(0, 1),
    merge=st.booleans(),
)
async def test_audience_equals_the_reference(
    database_url: str,
    backend: str,
    data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    tree_list: list[dict[str, Any]],
    split: float,
    merge: bool,
) -> None:
    customers, orders = data
    memory = backend == "memory"
    async with running_api(database_url, audience_engine=memory) as api:
        await _reset(api)
        # The engine is built after the first part of the data and follows the change feed
        # for the rest: re-read customers replace base rows, new ones join the delta. The
        # first customer has every attribute, so the catalog (and the snapshot's columns)
        # does not change after the build.
        first = max(1, round(len(customers) * split)) if memory else len(customers)
        await _post(api, "/api/v1/customers", customers[:first])
        engine = api.services.audience
        merge_min = audience_engine.MERGE_MIN
        audience_engine.MERGE_MIN = 0 if merge else merge_min
        try:
            if memory:
                await engine.rebuild()
            await _post(api, "/api/v1/customers", customers[first:])
            await _post(api, "/api/v1/orders", orders)
            if memory:
                await engine.catch_up()
        finally:
            audience_engine.MERGE_MIN = merge_min
        stored = (await api.client.get("/api/v1/customers", params={"limit": 500, "sort": "name"})).json()[
            "items"
        ]
        stored.sort(key=lambda c: c["external_id"])
        for tree in tree_list:
            response = await api.client.post("/api/v1/segments/preview", json={"rules": tree})
            assert response.status_code == 200, (tree, response.text)
            expected = [c["external_id"] for c in stored if matches(tree, c, now=NOW, types=TYPES)]
            body = response.json()
            assert body["answered_by"] == backend, (body["fallback"], tree)
            assert body["count"] == len(expected), tree
            assert [s["external_id"] for s in body["sample"]] == expected[:10], tree
