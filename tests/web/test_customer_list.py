"""The customer list: its total, filters from the segment builder (a saved segment or rules
passed through) and the CSV export of what it shows."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import orjson
import pytest

from pulsecrm.customers import export
from tests.conftest import Web
from tests.factories import customer, shop

PUNE_RULES = {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Pune"}]}


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def _names(page: str) -> list[str]:
    return re.findall(r">(Person \d+)</a>", page)


def _total(page: str) -> str:
    found = re.search(r'data-testid="customer-total">(.*?)</p>', page, flags=re.S)
    assert found, "no total on the page"
    return _text(found.group(1))


async def _seed(web: Web, n: int = 30) -> None:
    people, orders = shop(n, email=True)
    assert (await web.api.client.post("/api/v1/customers", json=people)).status_code == 201
    assert (await web.api.client.post("/api/v1/orders", json=orders)).status_code == 201


async def _segment(web: Web, name: str, rules: dict[str, Any]) -> int:
    created = await web.api.client.post("/api/v1/segments", json={"name": name, "rules": rules})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def test_the_list_says_how_many_and_filters_by_segment_or_rules(web: Web) -> None:
    await _seed(web)
    sid = await _segment(web, "Pune", PUNE_RULES)
    everyone = await web.client.get("/customers")
    assert _total(everyone.text) == "30 customers"
    assert f'<option value="{sid}">In segment: Pune</option>' in everyone.text
    assert 'href="/customers/export.csv"' in everyone.text

    pune = await web.client.get("/customers", params={"segment": str(sid), "sort": "-total_spend"})
    assert _total(pune.text) == "15 customers · City is Pune"
    assert _names(pune.text)[:3] == ["Person 029", "Person 027", "Person 025"]
    assert f'href="/customers/export.csv?segment={sid}"' in pune.text
    assert f'<option value="{sid}" selected>' in pune.text

    # Rules straight from the builder, unsaved, and a search within them.
    rules = orjson.dumps(PUNE_RULES).decode()
    found = await web.client.get("/customers", params={"rules": rules, "q": "person 00"})
    assert _total(found.text) == "5 customers · City is Pune · matching “person 00” · clear the rules"
    assert _names(found.text) == ["Person 009", "Person 007", "Person 005", "Person 003", "Person 001"]
    hidden = re.search(r'<input type="hidden" name="rules" value="([^"]+)">', found.text)
    assert hidden and html.unescape(hidden.group(1)) == rules  # so the next search keeps them

    # Search-as-you-type swaps the total and the export link with the rows.
    typed = await web.client.get(
        "/customers", params={"segment": str(sid), "q": "person 01"}, headers={"HX-Request": "true"}
    )
    assert typed.text.startswith('<div id="customer-results">') and "<html" not in typed.text
    assert _total(typed.text) == "5 customers · City is Pune · matching “person 01”"

    # "Show more" keeps the filter: 15 in Pune, 25 a page, so no second page; everyone has one.
    assert "Show more" not in pune.text
    more = re.search(r'hx-get="(/customers\?[^"]+)"', everyone.text)
    assert more
    page2 = await web.client.get(html.unescape(more.group(1)), headers={"HX-Request": "true"})
    assert len(_names(page2.text)) == 5 and 'id="customer-results"' not in page2.text

    empty = await web.client.get(
        "/customers",
        params={
            "rules": orjson.dumps(
                {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "Goa"}]}
            ).decode()
        },
    )
    assert _total(empty.text).startswith("0 customers") and "No customer is in this audience." in empty.text


@pytest.mark.parametrize(
    ("params", "status", "field", "words"),
    [
        ({"segment": "abc"}, 422, "segment", "must be a segment's id"),
        ({"segment": "99999"}, 404, None, "no segment with id 99999"),
        ({"rules": "{not json"}, 422, "rules", "must be a rule tree as JSON"),
        ({"rules": '{"op": "and", "rules": []}', "segment": "1"}, 422, "rules", "not both"),
        (
            {"rules": '{"op": "and", "rules": [{"field": "shoe_size", "cmp": "eq", "value": 1}]}'},
            422,
            None,
            "shoe_size",
        ),
    ],
)
async def test_bad_filters_are_refused_naming_the_field(
    web: Web, params: dict[str, str], status: int, field: str | None, words: str
) -> None:
    for path in ("/customers", "/customers/export.csv"):
        page = await web.client.get(path, params=params)
        assert page.status_code == status, page.text
        assert words in _text(page.text)
        if field:
            answer = await web.client.get(path, params=params, headers={"Accept": "application/json"})
            assert answer.json()["error"]["details"][0]["loc"] == ["query", field]


async def test_export_streams_the_filtered_list_with_safe_cells(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(web)
    risky = [
        customer(external_id="x1", name='=HYPERLINK("http://evil.example","click")', city="Pune"),
        customer(external_id="x2", name="@SUM(A1:A9)", city="Pune", phone="+91 98000 00000"),
        customer(external_id="x3", name="-2+3", city="Pune", email="plain@example.com"),
    ]
    assert (await web.api.client.post("/api/v1/customers", json=risky)).status_code == 201
    monkeypatch.setattr(export, "PAGE", 7)  # several pages for 18 rows
    sid = await _segment(web, "Pune", PUNE_RULES)

    answer = await web.client.get("/customers/export.csv", params={"segment": str(sid)})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="customers-\d{8}-\d{4}\.csv"', answer.headers["content-disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 18  # 15 seeded in Pune and the 3 risky ones
    assert [r["external_id"] for r in rows[:2]] == ["c001", "c003"]
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["x1"]["name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert by_id["x2"]["name"] == "'@SUM(A1:A9)" and by_id["x2"]["phone"] == "'+91 98000 00000"
    assert by_id["x3"]["name"] == "'-2+3" and by_id["x3"]["email"] == "plain@example.com"
    assert by_id["c001"]["total_spend"] == "200.00" and by_id["c001"]["order_count"] == "1"
    assert by_id["c001"]["city"] == "Pune" and by_id["c001"]["email_consent"] == "unknown"

    searched = await web.client.get("/customers/export.csv", params={"q": "person 02"})
    assert [r["name"] for r in csv.DictReader(io.StringIO(searched.text))] == [
        f"Person {i:03}" for i in range(20, 30)
    ]


def test_a_cell_that_a_spreadsheet_would_run_is_written_as_text() -> None:
    for value in ("=1+1", "+1", "-1", "@x", "\t=1", "\r=1"):
        assert export.safe_cell(value) == "'" + value
    for value in ("Asha", "1-2", "a=b", "", 42):
        assert export.safe_cell(value) == str(value)
