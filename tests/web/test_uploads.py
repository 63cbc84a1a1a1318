"""Imports that take real files: header spellings, typed attributes, the mapping step."""

from __future__ import annotations

import orjson

from pulsecrm.ingest import importer
from tests.conftest import Web

EXPORT = (
    b"Customer ID,Full Name,E-mail,Phone Number,City,Signup Date,tier,marketing_opt_in,Loyalty Points,PIN\n"
    b"X1,Asha Rao,asha@example.com,+91 98765 43210,Pune,2024-05-01,gold,true,1200,0411\n"
    b"X2,Ravi Iyer,not-an-email,+91 98765 43211,Mumbai,01/06/2024,silver,no,30,0412\n"
    b"X3,Meera Nair,meera@example.com,,Kochi,15/07/2024,gold,yes,5,0413\n"
)


def test_common_spellings_map_to_fields_and_the_rest_to_attributes() -> None:
    headers = EXPORT.decode().splitlines()[0].split(",")
    assert importer.suggest_mapping("customers", headers) == [
        "external_id",
        "name",
        "email",
        "phone",
        "city",
        "created_at",
        "attributes.tier",
        "attributes.marketing_opt_in",
        "attributes.loyalty_points",
        "attributes.pin",
    ]
    assert importer.suggest_mapping("orders", ["Order ID", "Customer ID", "Total", "Order Date", "Note"]) == [
        "external_id",
        "customer_external_id",
        "amount",
        "ordered_at",
        "",
    ]


async def test_the_mapping_step_shows_the_first_rows_and_writes_nothing(web: Web) -> None:
    response = await web.client.post(
        "/uploads/preview",
        data={"csrf_token": await web.csrf(), "kind": "customers"},
        files={"file": ("export.csv", EXPORT, "text/csv")},
    )
    assert response.status_code == 200
    preview = response.json()
    email = preview["columns"][2]
    assert email == {
        "header": "E-mail",
        "target": "email",
        "attribute": "attributes.e_mail",
        "samples": ["asha@example.com", "not-an-email", "meera@example.com"],
    }
    assert (await web.api.client.get("/api/v1/customers")).json()["items"] == []


async def _upload(web: Web, mapping: list[str] | None) -> tuple[int, list[dict[str, object]]]:
    data = {"csrf_token": await web.csrf(), "kind": "customers"}
    if mapping is not None:
        data["mapping"] = orjson.dumps(mapping).decode()
    response = await web.client.post(
        "/uploads",
        data=data,
        files={"file": ("export.csv", EXPORT, "text/csv")},
        headers={"Accept": "application/x-ndjson"},  # as the page's script asks
    )
    lines = [orjson.loads(line) for line in response.text.splitlines()] if response.status_code == 200 else []
    return response.status_code, lines or [response.json()]


async def test_an_export_imports_with_typed_attributes_and_line_numbers(web: Web) -> None:
    mapping = importer.suggest_mapping("customers", EXPORT.decode().splitlines()[0].split(","))
    mapping[6] = ""  # the user leaves "tier" out
    status, lines = await _upload(web, mapping)
    assert status == 200
    done = lines[-1]
    assert (done["read"], done["written"], done["rejected"]) == (3, 2, 1)
    assert done["errors"][0]["line"] == 3 and "email" in str(done["errors"][0]["reason"])
    asha = (await web.api.client.get("/api/v1/customers/X1")).json()
    assert asha["attributes"] == {"marketing_opt_in": True, "loyalty_points": 1200, "pin": "0411"}
    assert asha["created_at"].startswith("2024-05-01T00:00:00")
    meera = (await web.api.client.get("/api/v1/customers/X3")).json()
    assert meera["created_at"].startswith("2024-07-15") and meera["attributes"]["marketing_opt_in"] is True


async def test_a_mapping_that_cannot_work_is_refused_before_anything_is_written(web: Web) -> None:
    for mapping, needle in (
        (["", "name", "email", "", "", "", "", "", "", ""], "choose the column that holds: external_id"),
        (["external_id", "external_id", "", "", "", "", "", "", "", ""], "mapped more than once"),
        (["external_id", "name", "salary", "", "", "", "", "", "", ""], "unknown target"),
        (["external_id", "name"], "2 targets for 10 columns"),
    ):
        status, body = await _upload(web, mapping)
        assert status == 422 and needle in body[0]["error"]["message"], body  # type: ignore[index]
    assert (await web.api.client.get("/api/v1/customers")).json()["items"] == []
