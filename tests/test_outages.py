"""Outages: a service away is a 503 with Retry-After, logged once, and keys stay valid for a while."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from pulsecrm import broker
from pulsecrm.app import create_app
from pulsecrm.auth.service import CachedPrincipals, Principal
from pulsecrm.config import Settings
from tests.cli_helpers import free_port, pulsecrm
from tests.conftest import REDIS_URL, running_api


async def test_a_database_away_is_a_503_with_retry_after_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nobody = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone"
    app = create_app(Settings(database_url=nobody, background_work=False, outage_retry_after_seconds=7))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with caplog.at_level(logging.INFO):
                answers = [
                    await client.get("/api/v1/customers", headers={"Authorization": "Bearer pk_x_y"})
                    for _ in range(20)
                ]
            page = await client.get("/customers", headers={"Accept": "text/html"})
    for response in answers:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert response.json()["error"]["code"] == "unavailable"
        assert "database is unavailable" in response.json()["error"]["message"]
    assert page.status_code == 302  # to the sign-in page, which needs no database
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1, [r.getMessage() for r in caplog.records]
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks


async def test_readyz_names_the_missing_database() -> None:
    nobody = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone"
    app = create_app(Settings(database_url=nobody, background_work=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")


async def test_verified_keys_outlive_a_database_outage_for_the_grace_period() -> None:
    cache: CachedPrincipals[str] = CachedPrincipals(ttl=0.0, grace=60.0)
    someone = Principal("api_key", 1, "k", frozenset({"ingest"}))
    calls = {"n": 0}

    async def load_ok() -> Principal | None:
        calls["n"] += 1
        return someone

    async def load_down() -> Principal | None:
        raise ConnectionRefusedError("database is away")

    async def load_bug() -> Principal | None:
        raise KeyError("ours")

    assert await cache._lookup("good", load_ok) == someone
    assert await cache._lookup("good", load_down) == someone  # within the grace
    with pytest.raises(ConnectionRefusedError):
        await cache._lookup("never-seen", load_down)  # never verified: no grace
    with pytest.raises(KeyError):
        await cache._lookup("good", load_bug)  # not an outage: no grace

    async def load_refused() -> Principal | None:
        return None

    assert await cache._lookup("revoked", load_refused) is None
    with pytest.raises(ConnectionRefusedError):
        await cache._lookup("revoked", load_down)  # a refused key stays refused

    expired: CachedPrincipals[str] = CachedPrincipals(ttl=0.0, grace=0.0)
    assert await expired._lookup("good", load_ok) == someone
    with pytest.raises(ConnectionRefusedError):
        await expired._lookup("good", load_down)


@pytest.mark.redis
async def test_readyz_reports_redis_persistence_and_the_streams(database_url: str, redis_prefix: str) -> None:
    async with running_api(database_url, redis_prefix) as api:
        body = (await api.client.get("/readyz")).json()
    assert body["status"] == "ok"
    persistence = body["redis_persistence"]
    assert persistence["appendonly"] in ("yes", "no")
    if persistence["appendonly"] == "no":  # the shared test Redis
        assert persistence["durable"] is False and persistence["allowed_volatile"] is True
        assert "loses" in persistence["promise"]
    assert set(body["streams"]) == {"ingest", "receipts"}
    assert body["streams"]["ingest"] == {"backlog": 0, "held": 0, "redis_state_lost_at": None}


@pytest.mark.redis
async def test_a_volatile_redis_is_refused_unless_allowed(
    sqlite_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    client = broker.connect(REDIS_URL)
    try:
        config = await client.config_get("appendonly")
        appendonly = config.get("appendonly") or config.get(b"appendonly")
    finally:
        await client.aclose()
    if appendonly not in ("no", b"no"):
        pytest.skip("this Redis keeps an AOF; tests/faults covers a volatile one")
    app = create_app(Settings(database_url=sqlite_url, redis_url=REDIS_URL, redis_prefix=redis_prefix))
    with pytest.raises(broker.VolatileRedis, match="appendonly"):
        async with app.router.lifespan_context(app):
            pass
    done = pulsecrm("worker", cwd=tmp_path, timeout=60, database_url=sqlite_url, redis_url=REDIS_URL)
    assert done.returncode == 2
    assert "appendonly" in done.stdout and "PULSECRM_REDIS_ALLOW_VOLATILE" in done.stdout


@pytest.mark.redis
async def test_the_dashboard_warns_when_redis_keeps_nothing_on_disk(
    database_url: str, redis_prefix: str
) -> None:
    from tests.conftest import PASSWORD, browser_client, make_user, sign_in

    async with running_api(database_url, redis_prefix) as api:
        assert api.services.persistence is not None
        await make_user(api)
        async with browser_client(api) as browser:
            await sign_in(browser, "marketer@example.com", PASSWORD)
            page = (await browser.get("/")).text
        durable = api.services.persistence.durable
    assert ("Queued records are not safe from a Redis restart" in page) is (not durable)
    if not durable:
        assert "appendonly yes" in page
