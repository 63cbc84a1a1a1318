"""Rule values the database could not hold, and trees too big to compile, are 422 with the path."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pulsecrm.segments import rules as rule_lang
from pulsecrm.segments.catalog import build
from pulsecrm.segments.compiler import compile_rules
from tests.conftest import Api


def cond(field: str, cmp: str, value: Any) -> dict[str, Any]:
    return {"field": field, "cmp": cmp, "value": value}


def tree(*rules: Any) -> dict[str, Any]:
    return {"version": 1, "op": "and", "rules": list(rules)}


@pytest.mark.parametrize(
    ("condition", "needle"),
    [
        (cond("order_count", "gt", 2**63), "whole number between"),
        (cond("order_count", "gt", 2**31), "whole number between -2147483648 and 2147483647"),
        (cond("order_count", "lt", -(2**63) - 1), "whole number between"),
        (cond("order_count", "between", [0, 10**30]), "whole number between"),
        (cond("total_spend", "gt", "100.005"), "2 decimal places"),
        (cond("total_spend", "gt", "1e-999999"), "2 decimal places"),
        (cond("total_spend", "gt", 10**12), "out of range"),
        (cond("created_at", "after", "0001-01-01T00:00:00+05:30"), "1900"),
        (cond("created_at", "before", "9999-12-31"), "1900"),
        (cond("last_order_at", "between", ["2020-01-01", "9999-12-31"]), "1900"),
        (cond("name", "eq", "a\x00"), "NUL"),
    ],
)
async def test_rule_values_the_database_cannot_hold_are_422_with_the_path(
    inline_api: Api, condition: dict[str, Any], needle: str
) -> None:
    response = await inline_api.client.post(
        "/api/v1/segments/preview", json={"rules": tree({"op": "or", "rules": [condition]})}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_rules"
    assert error["details"][0]["path"] == "$.rules.rules[0].rules[0].value"
    assert needle in error["details"][0]["message"]


async def test_the_largest_value_the_column_holds_is_accepted(inline_api: Api) -> None:
    for value in (2**31 - 1, -(2**31)):
        response = await inline_api.client.post(
            "/api/v1/segments/preview", json={"rules": tree(cond("order_count", "lt", value))}
        )
        assert response.status_code == 200, response.text


def _wide(groups: int, per_group: int) -> dict[str, Any]:
    return tree(
        *(
            {"op": "or", "rules": [cond("order_count", "eq", i) for i in range(per_group)]}
            for _ in range(groups)
        )
    )


@pytest.mark.parametrize(
    ("rules", "kind"),
    [
        (_wide(3, 200), "too_many_conditions"),  # each group under its cap, 600 in all
        (_wide(200, 200), "too_many_conditions"),  # 40,000 conditions
        (
            tree(*(cond("city", "in", [f"c{j}" for j in range(1000)]) for _ in range(6))),
            "too_many_values",
        ),
    ],
    ids=["600 conditions", "40k conditions", "6000 in values"],
)
async def test_a_tree_over_the_total_caps_is_refused_quickly(
    inline_api: Api, rules: dict[str, Any], kind: str
) -> None:
    started = time.perf_counter()
    response = await inline_api.client.post("/api/v1/segments/preview", json={"rules": rules})
    took = time.perf_counter() - started
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["type"] == kind
    assert error["details"][0]["path"] == "$.rules"
    assert took < 2.0


def _largest_allowed() -> dict[str, Any]:
    """The costliest tree the caps allow: every condition on a custom attribute, with all the
    list values the tree may hold, spread over the fewest groups."""
    per_condition = rule_lang.MAX_TOTAL_VALUES // rule_lang.MAX_CONDITIONS
    conditions = [
        cond("attributes.tier", "in", [f"t{i}-{j}" for j in range(per_condition)])
        for i in range(rule_lang.MAX_CONDITIONS)
    ]
    per_group = rule_lang.MAX_NODES
    return tree(
        *({"op": "or", "rules": conditions[i : i + per_group]} for i in range(0, len(conditions), per_group))
    )


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_the_largest_allowed_tree_compiles_in_well_under_100_ms(dialect: str) -> None:
    raw = _largest_allowed()
    catalog = build({"tier": {"string"}})
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        checked = rule_lang.check(rule_lang.parse(raw), catalog)
        compile_rules(checked, dialect=dialect, now=datetime.now(UTC))
        best = min(best, time.perf_counter() - started)
    assert best < 0.05, f"{best * 1000:.0f} ms"


async def test_the_largest_allowed_tree_previews(inline_api: Api) -> None:
    customers = [{"external_id": "c1", "name": "A", "attributes": {"tier": "t3-1"}}]
    assert (await inline_api.client.post("/api/v1/customers", json=customers)).status_code == 201
    response = await inline_api.client.post("/api/v1/segments/preview", json={"rules": _largest_allowed()})
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 1
