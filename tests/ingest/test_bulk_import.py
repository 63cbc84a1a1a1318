"""Bulk import through the API: a file of any size, row-by-row rejects, progress streamed back."""

from __future__ import annotations

import orjson

from pulsecrm.auth import service as auth_service
from tests.conftest import Api


def _csv(n: int, *, bad_line: bool = True) -> bytes:
    lines = ["external_id,name,city,attributes.tier"] + [f"b{i},Bulk {i},Pune,gold" for i in range(n)]
    if bad_line:
        lines.append("b-bad,,Pune,gold")
    return ("\n".join(lines) + "\n").encode()


async def test_csv_import_streams_progress_and_skips_bad_rows(inline_api: Api) -> None:
    body = _csv(2500)
    response = await inline_api.client.post(
        "/api/v1/import/customers", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
    updates = [orjson.loads(line) for line in response.text.splitlines()]
    assert updates[0] == {"phase": "importing", "done": 0, "total": len(body)}
    done = [u["done"] for u in updates if u["phase"] == "importing"]
    assert done == sorted(done) and len(done) >= 3 and done[-1] == len(body)
    assert updates[-1]["phase"] == "done"
    assert (updates[-1]["read"], updates[-1]["written"], updates[-1]["rejected"]) == (2501, 2500, 1)
    assert updates[-1]["errors"] == [{"line": 2502, "reason": "name: is required"}]
    customer = (await inline_api.client.get("/api/v1/customers/b1234")).json()
    assert customer["attributes"] == {"tier": "gold"} and customer["city"] == "Pune"
    # Importing the same file again changes nothing.
    again = await inline_api.client.post(
        "/api/v1/import/customers", content=body, headers={"Content-Type": "text/csv"}
    )
    assert orjson.loads(again.text.splitlines()[-1])["written"] == 2500
    listed = await inline_api.client.get("/api/v1/customers", params={"limit": 200, "q": "Bulk 12"})
    assert len(listed.json()["items"]) == 111  # Bulk 12, 120…129 and 1200…1299, once each


async def test_ndjson_orders_import(inline_api: Api) -> None:
    await inline_api.client.post(
        "/api/v1/import/customers", content=_csv(3, bad_line=False), headers={"Content-Type": "text/csv"}
    )
    lines = [
        {
            "external_id": f"bo{i}",
            "customer_external_id": "b1",
            "amount": "10.50",
            "ordered_at": "2026-11-01T10:00:00Z",
        }
        for i in range(4)
    ]
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines) + b"{not json\n"
    response = await inline_api.client.post(
        "/api/v1/import/orders", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    final = orjson.loads(response.text.splitlines()[-1])
    assert (final["written"], final["rejected"]) == (4, 1) and final["errors"][0]["line"] == 5
    customer = (await inline_api.client.get("/api/v1/customers/b1")).json()
    assert customer["order_count"] == 4 and customer["total_spend"] == "42.00"


async def test_import_refuses_what_it_cannot_read(inline_api: Api) -> None:
    wrong_type = await inline_api.client.post(
        "/api/v1/import/customers", content=b"x", headers={"Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415 and wrong_type.json()["error"]["details"][0]["loc"] == [
        "header",
        "content-type",
    ]
    wrong_kind = await inline_api.client.post(
        "/api/v1/import/people", content=b"x", headers={"Content-Type": "text/csv"}
    )
    assert wrong_kind.status_code == 422
    async with inline_api.services.db.sessions() as session:
        reader = (await auth_service.create_key(session, name="reader", scopes=["read"])).secret
        await session.commit()
    refused = await inline_api.client.post(
        "/api/v1/import/customers",
        content=_csv(1),
        headers={"Content-Type": "text/csv", "Authorization": f"Bearer {reader}"},
    )
    assert refused.status_code == 403
    assert (await inline_api.client.get("/api/v1/customers")).json()["items"] == []
