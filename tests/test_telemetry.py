"""/metrics (who may read it, what it says), request ids through the API into the stream and
the worker's log line, and the logging configuration (JSON, quiet, one traceback)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import orjson
import pytest

from pulsecrm import logs
from pulsecrm.auth import service as auth_service
from pulsecrm.broker import StreamMessage
from pulsecrm.ingest.codec import IngestCodec
from tests.cli_helpers import pulsecrm
from tests.conftest import Api, running_api


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text, None when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? ([0-9.e+-]+)$" if labels else None
    for line in text.splitlines():
        if pattern is None:
            if line.startswith(name + " "):
                return float(line.split()[1])
        elif re.match(pattern, line):
            return float(line.rsplit(" ", 1)[1])
    return None


async def metrics_key(api: Api, scopes: list[str]) -> dict[str, str]:
    async with api.services.db.write_session() as session:
        key = (await auth_service.create_key(session, name="prometheus", scopes=scopes)).secret
        await session.commit()
    return {"Authorization": f"Bearer {key}"}


async def test_metrics_need_the_metrics_scope(inline_api: Api) -> None:
    api = inline_api
    anonymous = await api.client.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    # The default key (ingest, read, segments, campaigns) does not read metrics.
    assert (await api.client.get("/metrics")).status_code == 403
    assert "metrics" not in auth_service.DEFAULT_SCOPES
    ok = await api.client.get("/metrics", headers=await metrics_key(api, ["metrics"]))
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain")


async def test_metrics_count_requests_records_and_deliveries(api: Api) -> None:
    """Process counters live as long as the process (here: the whole test run), so compare
    before and after; the shared state is read fresh at each scrape."""
    headers = await metrics_key(api, ["metrics"])
    before = (await api.client.get("/metrics", headers=headers)).text

    def grew(text: str, name: str, **labels: str) -> float:
        return (sample(text, name, **labels) or 0.0) - (sample(before, name, **labels) or 0.0)

    customers = [
        {"external_id": f"m-{i}", "name": f"M {i}", "phone": f"+9190000000{i:02d}"} for i in range(7)
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code in (201, 202)
    assert (await api.client.get("/api/v1/campaigns/999999")).status_code == 404
    if api.services.redis is not None:
        queued = (await api.client.get("/metrics", headers=headers)).text
        assert sample(queued, "pulsecrm_stream_length", stream="ingest") == 1
        assert sample(queued, "pulsecrm_stream_oldest_pending_age_seconds", stream="ingest") is not None
    await api.drain()
    campaign = await api.client.post(
        "/api/v1/campaigns",
        json={"name": "m", "rules": {"op": "and", "rules": []}, "message": "hi", "channel": "sms"},
    )
    assert campaign.status_code == 201, campaign.text
    assert (await api.client.post(f"/api/v1/campaigns/{campaign.json()['id']}/launch")).status_code == 202

    text = (await api.client.get("/metrics", headers=headers)).text
    assert grew(text, "pulsecrm_records_accepted_total", kind="customers") == 7
    assert grew(text, "pulsecrm_records_written_total", kind="customers") == 7
    assert sample(text, "pulsecrm_deliveries", channel="sms", status="pending") == 7
    assert sample(text, "pulsecrm_dead_letters", stream="ingest") == 0
    assert sample(text, "pulsecrm_campaigns_paused", by="policy") == 0
    assert sample(text, "pulsecrm_scrape_source_up", source="database") == 1
    # Counted by route template, never by raw path.
    route = "/api/v1/campaigns/{campaign_id:int}"
    assert grew(text, "pulsecrm_http_requests_total", route=route, status="404") == 1
    assert "campaigns/999999" not in text
    assert grew(text, "pulsecrm_http_request_duration_seconds_count", route="/api/v1/customers") == 1
    assert sample(text, "pulsecrm_db_pool_connections_in_use") is not None
    if api.services.redis is not None:
        assert sample(text, "pulsecrm_stream_length", stream="ingest") == 0
        assert sample(text, "pulsecrm_stream_pending", stream="ingest") == 0
        assert sample(text, "pulsecrm_scrape_source_up", source="redis") == 1

    assert (await api.client.post(f"/api/v1/campaigns/{campaign.json()['id']}/pause")).status_code == 200
    paused = (await api.client.get("/metrics", headers=headers)).text
    assert sample(paused, "pulsecrm_campaigns_paused", by="person") == 1
    assert grew(paused, "pulsecrm_campaign_pauses_total", reason="person") == 1


async def test_metrics_api_key_cli_scope(sqlite_url: str, tmp_path: Path) -> None:
    made = pulsecrm(
        "apikey", "create", "--name", "prom", "--scope", "metrics", cwd=tmp_path, database_url=sqlite_url
    )
    assert made.returncode == 0, made.stdout + made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    async with running_api(sqlite_url) as api:
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await api.client.get("/metrics", headers=headers)).status_code == 200
        # A metrics key reads metrics only.
        assert (await api.client.get("/api/v1/customers", headers=headers)).status_code == 403


async def test_request_id_is_answered_and_sane(inline_api: Api) -> None:
    fresh = await inline_api.client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    offered = await inline_api.client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert offered.headers["x-request-id"] == "lb-1234.abc"
    # Anything that is not a plain token is replaced, so log lines cannot be forged through it.
    forged = await inline_api.client.get("/healthz", headers={"X-Request-ID": 'x" level=error'})
    assert forged.headers["x-request-id"] != 'x" level=error'


@pytest.mark.redis
async def test_request_id_reaches_the_stream_and_the_worker_log(
    sqlite_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_api(sqlite_url, redis_prefix) as api:
        answer = await api.client.post(
            "/api/v1/customers",
            json=[{"external_id": "r-1", "name": "R"}],
            headers={"X-Request-ID": "req-trace-42"},
        )
        assert answer.status_code == 202
        assert answer.headers["x-request-id"] == "req-trace-42"
        assert api.services.redis is not None
        entries = await api.services.redis.xrange(api.services.ingestor.stream)
        assert entries[0][1][b"rid"] == b"req-trace-42"
        with caplog.at_level(logging.INFO, logger="pulsecrm.ingest.service"):
            await api.drain()
        lines = [
            r for r in caplog.records if r.name == "pulsecrm.ingest.service" and "wrote" in r.getMessage()
        ]
        assert lines and lines[0].request_ids == ["req-trace-42"]  # type: ignore[attr-defined]


def test_entries_without_a_request_id_still_decode() -> None:
    """Entries appended before `rid` existed (format v1 as first shipped) read as before."""
    old = {
        b"v": b"1",
        b"kind": b"customers",
        b"received_at": b"2026-11-01T10:00:00+00:00",
        b"n": b"1",
        b"records": b'[{"external_id":"old-1","name":"Old"}]',
    }
    items, rejects = IngestCodec(1000).decode(StreamMessage("1-0", old, 1))
    assert not rejects and items[0].value.request_id is None
    assert items[0].value.records[0].external_id == "old-1"


def test_json_logs_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    config = logs.config("json", "INFO")
    formatter = logging.config.DictConfigurator(config).configure_custom(  # type: ignore[attr-defined]
        dict(config["formatters"]["default"])
    )
    record = logging.LogRecord("pulsecrm.x", logging.INFO, __file__, 1, "wrote %d", (3,), None)
    token = logs.request_id.set("rid-7")
    try:
        logs.RequestIdFilter().filter(record)
    finally:
        logs.request_id.reset(token)
    line = orjson.loads(formatter.format(record))
    assert line["message"] == "wrote 3" and line["request_id"] == "rid-7"
    assert line["level"] == "INFO" and line["logger"] == "pulsecrm.x" and "time" in line


def test_quiet_loggers_and_one_traceback() -> None:
    config = logs.config("plain", "INFO")
    assert config["loggers"]["httpx"]["level"] == "WARNING"  # no line per vendor call or receipt
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        logs.mark_logged(exc)
        record = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception", (), (RuntimeError, exc, None)
        )
    assert logs.OnceOnly().filter(record) is False
    other = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "x", (), None)
    assert logs.OnceOnly().filter(other) is True
