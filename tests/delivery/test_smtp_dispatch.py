"""The dispatcher sending e-mail campaigns through the SMTP channel to a real aiosmtpd, in-process,
on both databases: what each SMTP outcome does to a delivery and to the campaign."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from pulsecrm.delivery.dispatcher import Dispatcher
from tests.cli_helpers import free_port
from tests.conftest import Api, running_api
from tests.delivery.smtp_server import Recorder, smtp_server
from tests.delivery.test_dispatcher import make_due


async def _email_campaign(api: Api, people: int) -> int:
    customers = [
        {"external_id": f"c{i}", "name": f"Person{i} X", "email": f"person{i}@example.com"}
        for i in range(people)
    ]
    assert (await api.client.post("/api/v1/customers", json=customers)).status_code == 201
    body = {
        "name": "Mail",
        "channel": "email",
        "subject": "For {{ first_name }}",
        "message": "Hi {{ first_name }}",
        "rules": {"op": "and", "rules": []},
    }
    created = await api.client.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    cid = int(created.json()["id"])
    assert (await api.client.post(f"/api/v1/campaigns/{cid}/launch")).status_code == 202
    return cid


@asynccontextmanager
async def smtp_api(database_url: str, port: int, **overrides: Any) -> AsyncIterator[tuple[Api, Dispatcher]]:
    """The API and a dispatcher that both know e-mail goes over SMTP to `port` (launch decides
    from the settings that `sent` is final on this channel)."""
    smtp = {
        "email_transport": "smtp",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "Shop <news@shop.example>",
        "smtp_pool_size": 2,
    }
    async with running_api(database_url, **smtp, **overrides) as api:
        d = Dispatcher.build(api.services.db, api.services.settings, None)
        try:
            yield api, d
        finally:
            await d.close()


@pytest.fixture
async def mail(database_url: str) -> AsyncIterator[tuple[Api, Dispatcher, Recorder]]:
    recorder = Recorder()
    with smtp_server(recorder) as server:
        async with smtp_api(database_url, server.port) as (api, d):
            yield api, d, recorder


async def _campaign(api: Api, cid: int) -> dict[str, Any]:
    body = (await api.client.get(f"/api/v1/campaigns/{cid}")).json()
    return dict(body)


async def _log(api: Api, cid: int) -> list[dict[str, Any]]:
    return list((await api.client.get(f"/api/v1/campaigns/{cid}/deliveries")).json()["items"])


async def test_an_email_campaign_goes_out_once_and_sent_is_final(mail: Any) -> None:
    inline_api, d, recorder = mail
    cid = await _email_campaign(inline_api, 12)
    assert await d.run_once() == 12
    assert await d.run_once() == 0
    assert sorted(r.rcpt_tos[0] for r in recorder.received) == sorted(
        f"person{i}@example.com" for i in range(12)
    )
    log = await _log(inline_api, cid)
    # The delivery's message id is the Message-ID the customer's mailbox holds.
    assert {x["vendor_message_id"] for x in log} == set(recorder.message_ids)
    assert {x["status"] for x in log} == {"sent"}
    assert {str(r.message["Subject"]) for r in recorder.received} == {f"For Person{i}" for i in range(12)}
    await d.sweep()
    campaign = await _campaign(inline_api, cid)
    # No receipts will come over SMTP: `sent` is final and the campaign completes.
    assert campaign["status"] == "completed" and campaign["stats"]["sent"] == 12


async def test_a_refused_mailbox_fails_alone(mail: Any) -> None:
    inline_api, d, recorder = mail
    recorder.refuse["person3@example.com"] = "550 5.1.1 no such mailbox"
    cid = await _email_campaign(inline_api, 6)
    assert await d.run_once() == 6
    log = {
        x["customer_external_id"] if "customer_external_id" in x else x["id"]: x
        for x in await _log(inline_api, cid)
    }
    failed = [x for x in log.values() if x["status"] == "failed"]
    assert len(failed) == 1 and "550 5.1.1 no such mailbox" in failed[0]["error"]
    assert sum(x["status"] == "sent" for x in log.values()) == 5
    assert len(recorder.received) == 5


async def test_a_connection_lost_after_data_is_unknown_and_never_resent(mail: Any) -> None:
    inline_api, d, recorder = mail
    recorder.drop_after_data = True
    cid = await _email_campaign(inline_api, 4)
    await d.run_once()
    assert len(recorder.received) == 4  # the server has them all; Pulse cannot know that
    recorder.drop_after_data = False
    for _ in range(3):
        await d.run_once()
    assert len(recorder.received) == 4, "an e-mail that may have been sent was sent again"
    campaign = await _campaign(inline_api, cid)
    assert campaign["stats"]["unknown"] == 4 and campaign["stats"]["pending"] == 0
    assert all("after DATA" in (x["error"] or "") for x in await _log(inline_api, cid))


async def test_a_server_that_is_down_pauses_the_campaign_and_it_resumes_when_back(database_url: str) -> None:
    port = free_port()  # nothing listens there yet
    async with smtp_api(database_url, port, delivery_batch_size=2, delivery_concurrency=1) as (api, d):
        cid = await _email_campaign(api, 6)
        for _ in range(3):  # three batches deferred in a row: the policy pauses the campaign
            assert await d.run_once() == 2
        campaign = await _campaign(api, cid)
        assert campaign["status"] == "paused", campaign
        assert "unreachable" in campaign["pause"]["reason"] and campaign["pause"]["by_policy"]
        assert campaign["stats"]["failed"] == 0 and campaign["stats"]["pending"] == 6
        assert await d.probe_paused() == 0  # still down: stays paused
        with smtp_server(port=port) as server:
            assert await d.probe_paused() == 1  # probe() answered: resumed
            await make_due(api)
            while await d.run_once():
                pass
        campaign = await _campaign(api, cid)
    assert campaign["status"] == "completed" and campaign["stats"]["sent"] == 6
    assert len(server.recorder.received) == 6
