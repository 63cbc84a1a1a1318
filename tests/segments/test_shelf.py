"""Several processes share the audience snapshot's base through the shelf (an Arrow file each
maps read-only). Two apps on one database stand in for two `serve` processes: each has its own
engine and its own handles on the files, as separate processes would (flock locks belong to
an open file, not to a process)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pulsecrm.models import metadata
from pulsecrm.segments import engine as engine_module
from tests.conftest import running_api
from tests.segments.test_engine import _preview, _until

SPENDERS = {"op": "and", "rules": [{"field": "total_spend", "cmp": "gte", "value": 100}]}


def _customers(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"external_id": f"{prefix}{i}", "name": f"Name {i}", "city": "Pune"} for i in range(n)]


def _order(n: int, customer: str, amount: str) -> dict[str, Any]:
    return {
        "external_id": f"o{n}",
        "customer_external_id": customer,
        "amount": amount,
        "ordered_at": "2026-11-01T10:00:00+00:00",
    }


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.arrow"))


async def test_a_second_process_maps_the_base_the_first_published(database_url: str, tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    options = {"audience_share_dir": str(shelf), "audience_poll_seconds": 0.05}
    async with running_api(database_url, **options) as first:
        assert (await first.client.post("/api/v1/customers", json=_customers("c", 5))).status_code == 201
        await first.services.audience.rebuild()
        published = first.services.audience.describe()["shared_file"]
        assert published is not None and _files(shelf) == [published]
        # Customers' names and addresses: the owner's alone.
        assert stat.S_IMODE(shelf.stat().st_mode) == 0o700
        assert stat.S_IMODE((shelf / published).stat().st_mode) == 0o600

        async with running_api(database_url, **options) as second:
            await second.services.audience.rebuild()
            assert second.services.audience.describe()["shared_file"] == published  # mapped, not built
            assert _files(shelf) == [published]

            # Each follows the feed from the file's position on its own.
            orders = [_order(1, "c3", "150.00")]
            assert (await second.client.post("/api/v1/orders", json=orders)).status_code == 201
            for api in (first, second):

                async def applied(client: Any = api.client) -> bool:
                    body = await _preview(client, SPENDERS)
                    return body["answered_by"] == "memory" and body["count"] == 1

                await _until(applied)
                sample = (await _preview(api.client, SPENDERS))["sample"]
                assert [(s["external_id"], s["total_spend"]) for s in sample] == [("c3", "150.00")]

        assert _files(shelf) == [published]  # the first still maps it
    assert _files(shelf) == []  # the last one out removed it


async def test_a_file_of_the_database_before_it_was_emptied_is_not_taken(
    database_url: str, tmp_path: Path
) -> None:
    shelf = tmp_path / "shelf"
    options = {"audience_share_dir": str(shelf)}
    async with running_api(database_url, **options) as first:
        assert (await first.client.post("/api/v1/customers", json=_customers("old", 4))).status_code == 201
        assert (
            await first.client.post("/api/v1/orders", json=[_order(1, "old1", "500.00")])
        ).status_code == 201
        await first.services.audience.rebuild()
        stale = first.services.audience.describe()["shared_file"]
        assert stale is not None

        # Emptied and filled again (as a restore would): the feed starts over, so the file's
        # feed row is gone or carries another time.
        async with first.services.db.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name not in ("api_keys", "users"):
                    await conn.execute(sa.delete(table))
        assert (await first.client.post("/api/v1/customers", json=_customers("new", 3))).status_code == 201

        async with running_api(database_url, **options) as second:
            await second.services.audience.rebuild()
            own = second.services.audience.describe()["shared_file"]
            assert own not in (None, stale)  # built from the database and published anew
            body = await _preview(second.client, {"op": "and", "rules": []})
            assert (body["answered_by"], body["count"]) == ("memory", 3)
            assert (await _preview(second.client, SPENDERS))["count"] == 0


async def test_a_merge_publishes_a_new_base_that_the_other_process_takes(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "MERGE_MIN", 0)  # every applied batch is a merge
    shelf = tmp_path / "shelf"
    options = {"audience_share_dir": str(shelf)}
    async with running_api(database_url, **options) as first, running_api(database_url, **options) as second:
        assert (await first.client.post("/api/v1/customers", json=_customers("c", 6))).status_code == 201
        engines = [first.services.audience, second.services.audience]
        for engine in engines:
            monkeypatch.setattr(engine, "start", lambda: None)  # the test drives the followers
            await engine.rebuild()
        built = engines[0].describe()["shared_file"]
        assert engines[1].describe()["shared_file"] == built

        orders = [_order(1, "c2", "120.00"), _order(2, "c5", "300.00")]
        assert (await first.client.post("/api/v1/orders", json=orders)).status_code == 201
        await engines[0].catch_up()  # merges, and publishes in the background
        await engines[0].settled()
        merged = engines[0].describe()["shared_file"]
        assert merged not in (None, built)
        await engines[1].catch_up()  # due to merge too: takes the published base instead
        assert engines[1].describe()["shared_file"] == merged
        assert _files(shelf) == [merged]  # nobody maps the first base any more

        for api in (first, second):
            body = await _preview(api.client, SPENDERS)
            assert body["answered_by"] == "memory"
            assert [s["external_id"] for s in body["sample"]] == ["c2", "c5"]


async def test_a_directory_others_can_read_is_not_used(database_url: str, tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    os.chmod(shelf, 0o755)  # noqa: S103 - the unsafe directory under test
    async with running_api(database_url, audience_share_dir=str(shelf)) as api:
        assert (await api.client.post("/api/v1/customers", json=_customers("c", 2))).status_code == 201
        await api.services.audience.rebuild()
        assert api.services.audience.describe()["shared_file"] is None  # a snapshot of its own
        assert (await _preview(api.client, {"op": "and", "rules": []}))["answered_by"] == "memory"
    assert list(shelf.iterdir()) == []


async def test_a_full_directory_leaves_each_process_its_own_snapshot(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container's /dev/shm holds 64 MB by default: a base that does not fit is kept in the
    process, which stops trying to share."""
    monkeypatch.setattr(engine_module, "MERGE_MIN", 0)
    async with running_api(database_url, audience_share_dir=str(tmp_path / "shelf")) as api:
        engine = api.services.audience
        monkeypatch.setattr(engine, "start", lambda: None)
        attempts = []

        def full(*args: Any) -> None:
            attempts.append(args)
            raise OSError(28, "No space left on device")

        assert engine.shelf is not None
        monkeypatch.setattr(engine.shelf, "publish", full)
        assert (await api.client.post("/api/v1/customers", json=_customers("c", 3))).status_code == 201
        await engine.rebuild()
        assert engine.describe()["shared_file"] is None
        assert (await api.client.post("/api/v1/orders", json=[_order(1, "c1", "900.00")])).status_code == 201
        await engine.catch_up()  # a merge: not published again
        await engine.settled()
        assert len(attempts) == 1
        body = await _preview(api.client, SPENDERS)
        assert (body["answered_by"], body["count"]) == ("memory", 1)
    assert _files(tmp_path / "shelf") == []


async def test_a_base_taken_from_the_shelf_never_shows_an_older_state(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that merges may find a newer base than its own that is still behind what it
    answers from (another process published it while lagging): it answers from it only once
    that base has caught up."""
    options = {"audience_share_dir": str(tmp_path / "shelf")}
    async with running_api(database_url, **options) as first, running_api(database_url, **options) as second:
        ahead, behind = first.services.audience, second.services.audience
        for engine in (ahead, behind):
            monkeypatch.setattr(engine, "start", lambda: None)  # the test drives the followers

        async def batch(n: int) -> None:
            order = [_order(n, f"c{n % 6}", "50.00")]
            assert (await first.client.post("/api/v1/orders", json=order)).status_code == 201

        assert (await first.client.post("/api/v1/customers", json=_customers("c", 6))).status_code == 201
        await ahead.rebuild()
        await behind.rebuild()  # the same base
        for n in range(1, 4):
            await batch(n)
        monkeypatch.setattr(engine_module, "MERGE_MIN", 0)
        await behind.catch_up()  # merges and publishes a base three batches along
        await behind.settled()
        lagging = behind.describe()["shared_file"]
        monkeypatch.setattr(engine_module, "MERGE_MIN", 10**9)
        for n in range(4, 8):
            await batch(n)
        await ahead.catch_up()  # answers from seven batches along, with its first base
        assert ahead.snapshot is not None
        seen = ahead.snapshot.seq

        shown: list[int] = []
        real = engine_module.changes.since

        async def since(conn: Any, seq: int, *, limit: int) -> Any:
            assert ahead.snapshot is not None
            shown.append(ahead.snapshot.seq)
            return await real(conn, seq, limit=limit)

        monkeypatch.setattr(engine_module.changes, "since", since)
        monkeypatch.setattr(engine_module, "MERGE_MIN", 0)
        await batch(8)
        await ahead.catch_up()  # merges: takes the lagging base, then catches it up
        await ahead.settled()
        assert ahead.describe()["shared_file"] != lagging  # caught up, merged, published anew
        assert shown and min(shown) >= seen
        body = await _preview(
            first.client, {"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": 1}]}
        )
        assert (body["answered_by"], body["count"]) == ("memory", 6)


async def test_a_file_that_is_not_arrow_is_passed_over(database_url: str, tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    options = {"audience_share_dir": str(shelf)}
    async with running_api(database_url, **options) as first:
        assert (await first.client.post("/api/v1/customers", json=_customers("c", 2))).status_code == 201
        await first.services.audience.rebuild()
        published = first.services.audience.describe()["shared_file"]
        assert published is not None
        key, seq, _ = published.split("-")
        garbage = f"{key}-{int(seq) + 1:015d}-1.arrow"  # the newest, and not an Arrow file
        (shelf / garbage).write_bytes(b"ARROW1" + b"\0" * 64)
        async with running_api(database_url, **options) as second:
            await second.services.audience.rebuild()
            assert second.services.audience.describe()["shared_file"] not in (None, garbage)
            body = await _preview(second.client, {"op": "and", "rules": []})
            assert (body["answered_by"], body["count"]) == ("memory", 2)
