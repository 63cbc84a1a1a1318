"""`pulsecrm import customers|orders FILE`: CSV and NDJSON, row-level rejects with line numbers."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from pulsecrm.db import Database
from pulsecrm.ingest import importer
from tests.cli_helpers import pulsecrm
from tests.conftest import running_api
from tests.factories import order


async def test_import_csv_customers_and_ndjson_orders(database_url: str, tmp_path: Path) -> None:
    customers_csv = tmp_path / "customers.csv"
    customers_csv.write_text(
        "external_id,name,email,city,attributes.tier,attributes.visits,attributes.vip\n"
        "c1,Asha Rao,asha@example.com,Pune,gold,12,true\n"
        "c2,Bad Mail,not-an-email,Mumbai,silver,3,false\n"
        '"c3","Chen, Li",,Delhi,,,\n'
    )
    result = pulsecrm("import", "customers", str(customers_csv), cwd=tmp_path, database_url=database_url)
    assert result.returncode == 1, result.stdout + result.stderr  # some rows were rejected
    assert "rows read: 3, written: 2, rejected: 1" in result.stdout
    assert "line 3: email" in result.stdout

    orders_file = tmp_path / "orders.ndjson"
    lines = [
        orjson.dumps(order(external_id=f"o{i}", customer_external_id="c1", amount="12.50")) for i in range(4)
    ]
    lines.insert(2, b'{"external_id": "broken",')
    lines.append(orjson.dumps(order(external_id="neg", amount="-1")))
    orders_file.write_bytes(b"\n".join(lines) + b"\n")
    result = pulsecrm("import", "orders", str(orders_file), cwd=tmp_path, database_url=database_url)
    assert "rows read: 6, written: 4, rejected: 2" in result.stdout, result.stdout + result.stderr
    assert "line 3: invalid JSON" in result.stdout and "line 6: amount" in result.stdout

    async with running_api(database_url) as api:
        c1 = (await api.client.get("/api/v1/customers/c1")).json()
        assert c1["attributes"] == {"tier": "gold", "visits": 12, "vip": True}
        assert (c1["order_count"], Decimal(c1["total_spend"])) == (4, Decimal("50.00"))
        c3 = (await api.client.get("/api/v1/customers/c3")).json()
        assert (c3["name"], c3["email"], c3["attributes"]) == ("Chen, Li", None, {})
        assert (await api.client.get("/api/v1/customers/c2")).status_code == 404


async def test_import_refuses_unknown_formats_and_missing_files(sqlite_url: str, tmp_path: Path) -> None:
    odd = tmp_path / "customers.xlsx"
    odd.write_text("x")
    result = pulsecrm("import", "customers", str(odd), cwd=tmp_path, database_url=sqlite_url)
    assert result.returncode == 2 and "use .csv or .ndjson" in result.stdout
    result = pulsecrm(
        "import", "customers", str(tmp_path / "nope.csv"), cwd=tmp_path, database_url=sqlite_url
    )
    assert result.returncode == 2 and "no such file" in result.stdout


async def test_reading_runs_ahead_of_writing_and_either_failing_stops_both(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader thread parses ahead of the writes (two writers at once on PostgreSQL); a
    write that fails ends the import with its error, and a file that cannot be read ends it
    with the reader's, never a hang."""
    rows = 5 * importer.BATCH + 7
    big = tmp_path / "big.csv"
    big.write_text(
        "external_id,name\n" + "".join(f"c{i},Person {i}\n" for i in range(rows)), encoding="utf-8"
    )
    db = Database(database_url)
    try:
        report = await importer.import_file(
            db, "customers", big, default_currency="INR", consent_attributes={}
        )
        assert (report.read, report.written, report.rejected) == (rows, rows, [])

        writes = 0
        real = importer.write_batch

        async def failing(*args: Any, **kwargs: Any) -> int:
            nonlocal writes
            writes += 1
            if writes == 2:
                raise RuntimeError("the database went away")
            return await real(*args, **kwargs)

        monkeypatch.setattr(importer, "write_batch", failing)
        with pytest.raises(RuntimeError, match="went away"):
            await asyncio.wait_for(
                importer.import_file(db, "customers", big, default_currency="INR", consent_attributes={}), 30
            )
        assert writes in (2, 3)  # the failing one, and perhaps the other writer's started batch

        monkeypatch.setattr(importer, "write_batch", real)
        broken = tmp_path / "broken.csv"
        broken.write_bytes(b"external_id,name\n" + b"ok1,Fine\n" * (2 * importer.BATCH) + b"bad,\xff\xfe\n")
        reading = importer.import_file(db, "customers", broken, default_currency="INR", consent_attributes={})
        with pytest.raises(UnicodeDecodeError):
            await asyncio.wait_for(reading, 30)
    finally:
        await db.dispose()


async def test_a_customer_met_in_several_batches_keeps_its_last_row(
    database_url: str, tmp_path: Path
) -> None:
    """Batches are written at once on PostgreSQL and may commit in any order; a customer whose
    rows fall in different batches still ends with the file's last row, and every row counts."""
    customers = 50
    rounds = 6  # each customer once per round, rounds spread over several batches
    per_round = importer.BATCH  # padding rows push each round into a batch of its own
    lines = ["external_id,name,city"]
    for r in range(rounds):
        lines += [f"c{i},Round {r},City {r}" for i in range(customers)]
        lines += [f"pad{r}-{i},Padding,Nowhere" for i in range(per_round - customers)]
    path = tmp_path / "repeated.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = Database(database_url)
    try:
        report = await importer.import_file(
            db, "customers", path, default_currency="INR", consent_attributes={}
        )
    finally:
        await db.dispose()
    assert (report.read, report.written, report.rejected) == (rounds * per_round,) * 2 + ([],)
    async with running_api(database_url) as api:
        for i in (0, customers // 2, customers - 1):
            got = (await api.client.get(f"/api/v1/customers/c{i}")).json()
            assert (got["name"], got["city"]) == (f"Round {rounds - 1}", f"City {rounds - 1}")
        everyone = {"rules": {"op": "and", "rules": []}}
        counted = (await api.client.post("/api/v1/segments/preview", json=everyone)).json()
        assert counted["count"] == customers + rounds * (per_round - customers)


@pytest.mark.parametrize(
    ("cell", "typed"),
    [
        ("2025-01-05", "2025-01-05"),
        ("05/01/2025", "2025-01-05"),
        ("05-01-2025", "2025-01-05"),
        ("05 Jan 2025", "2025-01-05"),
        ("5 January 2025", "2025-01-05"),
        ("2025-1-5", "2025-01-05"),
        ("2025-13-01", "2025-13-01"),  # no such month: kept as text
        ("31/02/2025", "31/02/2025"),
        ("gold", "gold"),
        ("Jan 2025", "Jan 2025"),
        ("yes", True),
        ("0042", "0042"),  # a PIN-like code keeps its zeros
        ("12.5", 12.5),
        ("7", 7),
    ],
)
def test_attribute_cells_are_typed_by_what_they_look_like(cell: str, typed: object) -> None:
    assert importer._csv_value(cell) == typed
