"""Consent per channel, through the API: ingestion (fields and mapped attributes), CSV import,
the unsubscribe endpoint, setting it explicitly, and the one-click unsubscribe link."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pulsecrm.customers.links import read_token, unsubscribe_token, unsubscribe_url
from tests.conftest import Api, running_api
from tests.factories import customer

T1 = "2026-05-01T10:00:00+00:00"
T2 = "2026-06-01T10:00:00+00:00"
T3 = "2026-07-01T10:00:00+00:00"


async def _ingest(api: Api, *records: dict[str, Any]) -> None:
    response = await api.client.post("/api/v1/customers", json=list(records))
    assert response.status_code in (201, 202), response.text
    await api.drain()


async def _consent(api: Api, external_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/v1/customers/{external_id}")
    assert response.status_code == 200, response.text
    consent: dict[str, Any] = response.json()["consent"]
    return consent


def _statuses(consent: dict[str, Any]) -> tuple[str, str]:
    return consent["email"]["status"], consent["sms"]["status"]


# --- ingestion ------------------------------------------------------------------------------


async def test_ingested_consent_is_dated_by_the_record_and_kept_when_a_record_says_nothing(api: Api) -> None:
    await _ingest(api, customer(external_id="c1", updated_at=T1, consent={"email": "opted_in"}))
    consent = await _consent(api, "c1")
    assert consent["email"] == {"status": "opted_in", "at": "2026-05-01T10:00:00Z", "source": "ingest"}
    assert consent["sms"] == {"status": "unknown", "at": None, "source": None}

    # A newer record without consent changes the rest of the customer and leaves consent alone.
    await _ingest(api, customer(external_id="c1", name="Asha R.", updated_at=T2))
    detail = (await api.client.get("/api/v1/customers/c1")).json()
    assert detail["name"] == "Asha R." and detail["consent"]["email"]["status"] == "opted_in"

    # A newer statement replaces it; an older one, arriving late, does not.
    await _ingest(
        api, customer(external_id="c1", updated_at=T3, consent={"email": "opted_out", "sms": "opted_in"})
    )
    await _ingest(
        api, customer(external_id="c1", updated_at=T2, consent={"email": "opted_in", "sms": "unknown"})
    )
    consent = await _consent(api, "c1")
    assert _statuses(consent) == ("opted_out", "opted_in")
    assert consent["email"]["at"] == "2026-07-01T10:00:00Z"


async def test_out_of_order_and_redelivered_records_converge(api: Api) -> None:
    """The same two versions in either order, or twice over, end in the same consent."""
    older = customer(external_id="a", updated_at=T1, consent={"sms": "opted_out"})
    newer = customer(external_id="a", name="Newer", updated_at=T2)  # says nothing about consent
    await _ingest(api, newer)
    await _ingest(api, older)
    await _ingest(api, older, newer)  # replayed, and both in one batch
    forwards = customer(external_id="b", updated_at=T1, consent={"sms": "opted_out"})
    await _ingest(api, forwards, customer(external_id="b", name="Newer", updated_at=T2))
    for external_id in ("a", "b"):
        detail = (await api.client.get(f"/api/v1/customers/{external_id}")).json()
        assert detail["name"] == "Newer"
        assert detail["consent"]["sms"] == {
            "status": "opted_out",
            "at": "2026-05-01T10:00:00Z",
            "source": "ingest",
        }


async def test_a_mapped_attribute_states_consent_and_an_explicit_field_wins(api: Api) -> None:
    await _ingest(
        api,
        customer(external_id="yes", attributes={"marketing_opt_in": True}),
        customer(external_id="no", attributes={"marketing_opt_in": False}),
        customer(external_id="mixed", attributes={"marketing_opt_in": False}, consent={"email": "opted_in"}),
        customer(external_id="text", attributes={"marketing_opt_in": "maybe"}),
    )
    assert _statuses(await _consent(api, "yes")) == ("opted_in", "opted_in")
    assert _statuses(await _consent(api, "no")) == ("opted_out", "opted_out")
    assert _statuses(await _consent(api, "mixed")) == ("opted_in", "opted_out")
    assert _statuses(await _consent(api, "text")) == ("unknown", "unknown")  # not a boolean: says nothing


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [({}, ("unknown", "unknown")), ({"sms_ok": ["sms"]}, ("unknown", "opted_out"))],
)
async def test_the_attribute_mapping_is_a_setting(
    database_url: str, mapping: dict[str, list[str]], expected: tuple[str, str]
) -> None:
    async with running_api(database_url, consent_attributes=mapping) as api:
        await _ingest(
            api, customer(external_id="c1", attributes={"marketing_opt_in": False, "sms_ok": False})
        )
        assert _statuses(await _consent(api, "c1")) == expected


@pytest.mark.parametrize(
    ("consent", "field"),
    [
        ({"email": "yes"}, "consent.email"),
        ({"sms": True}, "consent.sms"),
        ({"fax": "opted_in"}, "consent.fax"),
        ("opted_in", "consent"),
    ],
)
async def test_bad_consent_is_refused_naming_the_field(inline_api: Api, consent: Any, field: str) -> None:
    response = await inline_api.client.post(
        "/api/v1/customers", json=[customer(external_id="ok"), customer(external_id="bad", consent=consent)]
    )
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["index"] == 1 and d["field"] == field for d in details), details
    assert (await inline_api.client.get("/api/v1/customers/ok")).status_code == 404  # nothing written


# --- CSV import -----------------------------------------------------------------------------


async def test_csv_import_reads_consent_columns_and_mapped_attributes(inline_api: Api) -> None:
    body = (
        b"external_id,name,phone,consent.email,consent.sms,attributes.marketing_opt_in\n"
        b"i1,One,+919800000001,opted_in,opted_out,\n"
        b"i2,Two,+919800000002,,,false\n"
        b"i3,Three,+919800000003,,opted_in,false\n"
        b"i4,Four,+919800000004,sure,,\n"
    )
    response = await inline_api.client.post(
        "/api/v1/import/customers", content=body, headers={"Content-Type": "text/csv"}
    )
    done = orjson.loads(response.text.splitlines()[-1])
    assert (done["written"], done["rejected"]) == (3, 1)
    assert done["errors"][0]["line"] == 5 and "consent.email" in done["errors"][0]["reason"]
    one = await _consent(inline_api, "i1")
    assert _statuses(one) == ("opted_in", "opted_out") and one["sms"]["source"] == "import"
    assert _statuses(await _consent(inline_api, "i2")) == ("opted_out", "opted_out")
    assert _statuses(await _consent(inline_api, "i3")) == ("opted_out", "opted_in")


# --- unsubscribe and explicit consent -------------------------------------------------------


async def test_unsubscribe_from_everything_or_from_one_channel(api: Api) -> None:
    await _ingest(
        api,
        customer(external_id="all", consent={"email": "opted_in", "sms": "opted_in"}),
        customer(external_id="one", consent={"email": "opted_in", "sms": "opted_in"}),
    )
    everything = await api.client.post("/api/v1/customers/all/unsubscribe")
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["unsubscribed_at"] is not None
    assert {c: body["consent"][c]["source"] for c in ("email", "sms")} == {
        "email": "unsubscribe",
        "sms": "unsubscribe",
    }
    assert _statuses(body["consent"]) == ("opted_out", "opted_out")

    sms_only = await api.client.post("/api/v1/customers/one/unsubscribe", params={"channel": "sms"})
    assert sms_only.status_code == 200
    assert sms_only.json()["unsubscribed_at"] is None
    assert _statuses(sms_only.json()["consent"]) == ("opted_in", "opted_out")

    # A record received before the unsubscribe, written after it, does not opt them back in.
    await _ingest(api, customer(external_id="one", updated_at=T1, consent={"sms": "opted_in"}))
    assert _statuses(await _consent(api, "one")) == ("opted_in", "opted_out")

    bad = await api.client.post("/api/v1/customers/one/unsubscribe", params={"channel": "fax"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == ["query", "channel"]
    assert (await api.client.post("/api/v1/customers/nobody/unsubscribe")).status_code == 404


async def test_consent_set_by_hand_records_who(inline_api: Api) -> None:
    await _ingest(inline_api, customer(external_id="c1"))
    response = await inline_api.client.put("/api/v1/customers/c1/consent", json={"email": "opted_in"})
    assert response.status_code == 200, response.text
    consent = response.json()["consent"]
    assert consent["email"]["status"] == "opted_in" and consent["email"]["source"] == "api_key:tests"
    assert consent["email"]["at"] is not None and consent["sms"]["status"] == "unknown"

    for body, loc in [
        ({"email": "yes"}, ["body", "email"]),
        ({"sms": "opted_in", "push": "opted_in"}, ["body", "push"]),
        ({}, ["body"]),
        ([], ["body"]),
    ]:
        refused = await inline_api.client.put("/api/v1/customers/c1/consent", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert loc in [d["loc"] for d in refused.json()["error"]["details"]], (body, refused.text)
    missing = await inline_api.client.put("/api/v1/customers/nobody/consent", json={"sms": "opted_out"})
    assert missing.status_code == 404
    assert _statuses(await _consent(inline_api, "c1")) == ("opted_in", "unknown")


# --- the one-click link ---------------------------------------------------------------------


async def _customer_id(api: Api, external_id: str) -> int:
    from pulsecrm.customers import repository

    async with api.services.db.sessions() as session:
        found = await repository.get_customer(session, external_id)
        assert found is not None
        return found.id


async def test_the_unsubscribe_link_needs_no_sign_in_and_says_nothing_else(inline_api: Api) -> None:
    await _ingest(
        inline_api,
        customer(
            external_id="c1", name="Secret Name", email="secret@example.com", consent={"email": "opted_in"}
        ),
    )
    settings = inline_api.services.settings
    customer_id = await _customer_id(inline_api, "c1")
    url = unsubscribe_url(settings, customer_id, "email")
    assert url.startswith(settings.public_url.rstrip("/") + "/u/")
    path = url.removeprefix(settings.public_url.rstrip("/"))
    anonymous = {"Authorization": "", "Accept": "text/html"}

    # Opening the link only asks: scanners and previews fetch links too.
    page = await inline_api.client.get(path, headers=anonymous)
    assert page.status_code == 200 and "Unsubscribe?" in page.text
    assert "marketing e-mails" in page.text
    assert "Secret Name" not in page.text and "secret@example.com" not in page.text
    assert page.headers["cache-control"] == "no-store" and "set-cookie" not in page.headers
    assert _statuses(await _consent(inline_api, "c1")) == ("opted_in", "unknown")

    # The button, or a mail client's RFC 8058 one-click POST.
    done = await inline_api.client.post(path, headers=anonymous, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    assert "You won't get marketing e-mails from us any more." in done.text.replace("&#39;", "'")
    assert "Secret Name" not in done.text and "secret@example.com" not in done.text
    consent = await _consent(inline_api, "c1")
    assert consent["email"]["status"] == "opted_out" and consent["email"]["source"] == "unsubscribe_link"
    assert consent["sms"]["status"] == "unknown"
    assert (await inline_api.client.get("/api/v1/customers/c1")).json()["unsubscribed_at"] is None
    # Again: the same answer, nothing new.
    assert (await inline_api.client.post(path, headers=anonymous)).status_code == 200
    assert (await _consent(inline_api, "c1"))["email"]["at"] == consent["email"]["at"]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "9" + t,  # another customer
        lambda t: t.replace(".email.", ".sms."),  # another channel
        lambda t: t.split(".", 1)[1],  # a part missing
        lambda t: "x",
    ],
)
async def test_a_forged_link_is_a_plain_404(inline_api: Api, mangle: Any) -> None:
    await _ingest(inline_api, customer(external_id="c1", consent={"email": "opted_in"}))
    token = unsubscribe_token(inline_api.services.settings, await _customer_id(inline_api, "c1"), "email")
    forged = mangle(token)
    for method in ("GET", "POST"):
        response = await inline_api.client.request(method, f"/u/{forged}", headers={"Authorization": ""})
        assert response.status_code == 404, (method, forged)
        assert "This link does not work" in response.text
    assert _statuses(await _consent(inline_api, "c1")) == ("opted_in", "unknown")


async def test_links_survive_a_restart_when_the_session_secret_is_set(database_url: str) -> None:
    async with running_api(database_url, session_secret="one") as first:
        token = unsubscribe_token(first.services.settings, 42, "sms")
    async with running_api(database_url, session_secret="one") as again:
        assert read_token(again.services.settings, token) is not None
    async with running_api(database_url, session_secret="other") as other:
        assert read_token(other.services.settings, token) is None
