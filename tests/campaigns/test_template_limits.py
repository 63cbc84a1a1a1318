"""A template cannot make the server allocate without bound: at check, preview or send time."""

from __future__ import annotations

import time

import pytest

from pulsecrm.campaigns import templates
from tests.conftest import Api
from tests.factories import customer

SPENDERS = {"op": "and", "rules": [{"field": "total_spend", "cmp": "gte", "value": 0}]}

HUGE_TEMPLATES = [
    "{{ 'x' * 10**14 }}",
    "{{ 'x' * 300000000 }}",
    "{{ name * 300000000 }}",
    "{{ [1] * 300000000 }}",
    "{{ 300000000 * 'x' }}",
    "{{ 2 ** 100000000 }}",
    "{{ 10.0 ** 1000 }}",
    "{{ 1 / 0 }}",
    "{{ range(10**9) | list }}",
    "{{ '' | center(300000000) }}",
    "{{ 'x' | indent(300000000, true) }}",
    "{{ '{:>300000000}'.format(1) }}",
    "{{ 'x'.ljust(300000000) }}",
    "{{ '%300000000s' | format('x') }}",
    "{{ ('x' * 9000) | replace('', 'y' * 9000) }}",
    "{{ range(1000) | join('y' * 9000) }}",
    "{% set ns = namespace(a='xx') %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}",
    "{% set a = 'x' * 9000 %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a }}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{{ i }}{% endfor %}{% endfor %}",
    "{{ lipsum(300000000) }}",
    "{{ name | nosuchfilter }}",
    "{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}",  # 100,000 characters of output
]


@pytest.mark.parametrize("message", HUGE_TEMPLATES)
async def test_a_template_that_would_allocate_without_bound_is_422(inline_api: Api, message: str) -> None:
    started = time.perf_counter()
    response = await inline_api.client.post(
        "/api/v1/campaigns", json={"name": "c", "message": message, "rules": SPENDERS}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_template"
    assert response.json()["error"]["details"][0]["path"] == "$.message"
    preview = await inline_api.client.post("/api/v1/campaigns/preview-message", json={"message": message})
    assert preview.status_code == 422, preview.text
    assert time.perf_counter() - started < 2.0


async def test_a_preview_whose_output_is_too_long_for_that_customer_is_422(inline_api: Api) -> None:
    await inline_api.client.post("/api/v1/customers", json=[customer(name="N" * 200)])
    message = "{{ name * 90 }}"  # fine for the sample customer, 18,000 characters here
    assert (
        await inline_api.client.post("/api/v1/campaigns/preview-message", json={"message": message})
    ).status_code == 200
    message = "{{ name * 110 }}"  # 880 for the sample, 22,000 here
    created = await inline_api.client.post(
        "/api/v1/campaigns", json={"name": "c", "message": message, "rules": SPENDERS}
    )
    assert created.status_code == 201, created.text
    preview = await inline_api.client.post(
        "/api/v1/campaigns/preview-message", json={"message": message, "customer_external_id": "c1"}
    )
    assert preview.status_code == 422, preview.text
    assert "20,000 characters" in preview.json()["error"]["message"]


def test_at_send_time_a_render_over_the_cap_fails_that_message_only() -> None:
    context = {"name": "N" * 200}
    with pytest.raises(templates.InvalidTemplate, match="20,000 characters"):
        templates.render("{{ name * 110 }}", context)
    with pytest.raises(templates.TemplateTooLong):
        templates.render("{% for i in range(200) %}{{ name }}{% endfor %}", context)
    assert templates.render("{{ name * 10 }}", context) == "N" * 2000


async def test_ordinary_templates_still_render(inline_api: Api) -> None:
    await inline_api.client.post("/api/v1/customers", json=[customer(attributes={"tier": "gold"})])
    message = (
        "{% if city %}Shoppers in {{ city }}{% else %}Hi{% endif %} "
        "{{ first_name | default('there') | upper }} "
        "{% for k, v in attributes | dictsort %}{{ k }}={{ v }} {% endfor %}{{ '-' * 10 }}"
    )
    response = await inline_api.client.post("/api/v1/campaigns/preview-message", json={"message": message})
    assert response.status_code == 200, response.text
