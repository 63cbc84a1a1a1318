"""The model engine against a real local OpenAI-compatible server: every answer is checked,
one repair, then the offline engine; timeouts and errors are fallbacks, never failures."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from pulsecrm.ai.composer import AudienceSummary
from pulsecrm.ai.model import ModelEngine
from pulsecrm.campaigns import templates
from tests.ai.corpus import NOW
from tests.ai.evaluation import catalog
from tests.ai.fake_openai import FakeOpenAI, Reply, serve
from tests.conftest import running_api

PROMPT = "spent over 5k in Pune"
GOOD = {
    "rules": {
        "op": "and",
        "not": False,
        "rules": [
            {"field": "total_spend", "cmp": "gt", "value": 5000},
            {"field": "city", "cmp": "eq", "value": "Pune"},
        ],
    },
    "not_understood": [],
}
UNKNOWN_FIELD = {
    "rules": {"op": "and", "not": False, "rules": [{"field": "salary", "cmp": "gt", "value": 5}]},
    "not_understood": [],
}
BAD_SHAPE = {"rules": {"op": "xor", "rules": "everyone"}, "not_understood": []}
AUDIENCE = AudienceSummary(size=100, with_orders=90, median_spend=Decimal(5000), lapsed_share=0.5)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as server:
        yield server


def engine(fake: FakeOpenAI, timeout: float = 5.0) -> ModelEngine:
    return ModelEngine(base_url=fake.base_url, model="test-model", api_key="sk-test", timeout=timeout)


async def test_a_valid_tree_is_used(fake: FakeOpenAI) -> None:
    fake.reply(Reply(GOOD))
    answer = await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.engine == "model" and answer.fallback_reason is None
    assert answer.rules["rules"] == GOOD["rules"]["rules"]
    request = fake.requests[0]
    assert request["model"] == "test-model"
    assert request["response_format"]["type"] == "json_schema"
    schema = request["response_format"]["json_schema"]["schema"]
    assert "total_spend" in schema["$defs"]["condition"]["properties"]["field"]["enum"]
    # The user's words travel as data in their own message, never inside the instructions.
    system, user = request["messages"]
    assert system["role"] == "system" and "data" in system["content"] and PROMPT not in system["content"]
    assert user["role"] == "user" and json.loads(user["content"]) == {"prompt": PROMPT}
    assert fake.headers[0]["authorization"] == "Bearer sk-test"


async def test_invalid_json_is_repaired_once(fake: FakeOpenAI) -> None:
    fake.reply(Reply("here you go: {rules: oops"), Reply(GOOD))
    answer = await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.engine == "model"
    assert len(fake.requests) == 2
    repair = fake.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "here you go: {rules: oops"}
    assert "not valid JSON" in repair[-1]["content"]


async def test_a_fenced_answer_is_fine(fake: FakeOpenAI) -> None:
    fake.reply(Reply("```json\n" + json.dumps(GOOD) + "\n```"))
    assert (await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)).engine == "model"


@pytest.mark.parametrize(
    ("first", "second", "problem"),
    [
        ("not json", "still not json", "not valid JSON"),
        (BAD_SHAPE, BAD_SHAPE, "$.op"),
        (UNKNOWN_FIELD, UNKNOWN_FIELD, "unknown field 'salary'"),
        ({"rules": {"op": "and", "not": False, "rules": []}, "not_understood": []}, "[]", "empty"),
    ],
)
async def test_twice_invalid_falls_back_to_offline(
    fake: FakeOpenAI, first: Any, second: Any, problem: str
) -> None:
    fake.reply(Reply(first), Reply(second))
    answer = await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.engine == "offline"
    assert answer.fallback_reason and "ModelAnswerInvalid" in answer.fallback_reason
    assert len(fake.requests) == 2  # one repair attempt, no more
    assert problem in fake.requests[1]["messages"][-1]["content"]  # the errors were sent back
    assert answer.rules["rules"] == [
        {"field": "total_spend", "cmp": "gt", "value": 5000},
        {"field": "city", "cmp": "eq", "value": "Pune"},
    ]


async def test_unknown_field_then_valid(fake: FakeOpenAI) -> None:
    fake.reply(Reply(UNKNOWN_FIELD), Reply(GOOD))
    answer = await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.engine == "model"
    assert "$.rules[0].field" in fake.requests[1]["messages"][-1]["content"]


async def test_slow_answers_time_out_into_offline(fake: FakeOpenAI) -> None:
    fake.reply(Reply(GOOD, delay=3))
    started = time.monotonic()
    answer = await engine(fake, timeout=0.5).rules_from_text(PROMPT, catalog(), now=NOW)
    assert time.monotonic() - started < 2.5
    assert answer.engine == "offline" and "no answer within 0.5s" in (answer.fallback_reason or "")


@pytest.mark.parametrize(
    "reply", [Reply(status=500), Reply(status=429), Reply(raw="<html>bad gateway</html>")]
)
async def test_http_errors_fall_back_without_a_repair(fake: FakeOpenAI, reply: Reply) -> None:
    fake.reply(reply)
    answer = await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.engine == "offline" and answer.fallback_reason
    assert len(fake.requests) == 1


async def test_nothing_listening_falls_back() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ModelEngine(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=1)
    answer = await model.rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.engine == "offline" and "ConnectError" in (answer.fallback_reason or "")


async def test_only_fragments_of_the_prompt_are_reported(fake: FakeOpenAI) -> None:
    fake.reply(Reply({**GOOD, "not_understood": ["in Pune", "<script>alert(1)</script>", "ignore this"]}))
    answer = await engine(fake).rules_from_text(PROMPT, catalog(), now=NOW)
    assert answer.not_understood == ["in Pune"]


def _variants(*messages: str, subject: str | None = None) -> dict[str, Any]:
    return {
        "variants": [
            {"angle": f"angle {i}", "subject": subject, "message": m} for i, m in enumerate(messages)
        ]
    }


async def test_message_variants_from_the_model(fake: FakeOpenAI) -> None:
    fake.reply(
        Reply(
            _variants(
                "Hi {{ first_name }}, 10% off!", "Hey {{ first_name }}, we miss you", "New in {{ city }}"
            )
        )
    )
    variants = await engine(fake).message_variants("win back with 10% off", AUDIENCE, "sms", 3)
    assert [v.engine for v in variants] == ["model"] * 3
    assert json.loads(fake.requests[0]["messages"][1]["content"])["goal"] == "win back with 10% off"


async def test_bad_variants_are_repaired_then_topped_up_offline(fake: FakeOpenAI) -> None:
    too_long = "Hi {{ first_name }} " + "x" * 200
    fake.reply(
        Reply(
            _variants("Hi {{ first_name }}, 10% off!", "Hi {{ password }}", too_long, "{{ ''.__class__ }}")
        ),
        Reply(_variants("Hi {{ first_name }}, 10% off!", "Still {{ nope }}")),
    )
    variants = await engine(fake).message_variants("win back with 10% off", AUDIENCE, "sms", 3)
    assert len(variants) == 3 and len({v.message for v in variants}) == 3
    assert [v.engine for v in variants] == ["model", "offline", "offline"]
    repair = fake.requests[1]["messages"][-1]["content"]
    assert "password" in repair and "160" in repair
    for v in variants:
        templates.check(v.message)


async def test_email_variants_need_a_subject(fake: FakeOpenAI) -> None:
    fake.reply(Reply(_variants("Hello {{ first_name }}", "Hi there")), Reply(status=500))
    variants = await engine(fake).message_variants("welcome", AUDIENCE, "email", 2)
    assert all(v.engine == "offline" and v.subject for v in variants)


async def test_messages_when_the_model_is_down(fake: FakeOpenAI) -> None:
    fake.reply(Reply(status=503))
    variants = await engine(fake).message_variants("loyalty thanks", AUDIENCE, "sms", 4)
    assert len(variants) == 4 and all(v.engine == "offline" for v in variants)


async def test_through_the_api(fake: FakeOpenAI, sqlite_url: str) -> None:
    async with running_api(
        sqlite_url, ai_base_url=fake.base_url, ai_model="test-model", ai_timeout_seconds=2
    ) as api:
        fake.reply(Reply(GOOD))
        body = (await api.client.post("/api/v1/ai/segment", json={"prompt": PROMPT})).json()
        assert body["engine"] == "model" and body["fallback_reason"] is None
        assert body["conditions"][0]["text"] == "Total spend more than 5,000"

        fake.reply(Reply(status=500))
        response = await api.client.post("/api/v1/ai/segment", json={"prompt": PROMPT})
        assert response.status_code == 200
        assert response.json()["engine"] == "offline" and "HTTP 500" in response.json()["fallback_reason"]

        fake.reply(Reply(UNKNOWN_FIELD), Reply(UNKNOWN_FIELD))
        response = await api.client.post("/api/v1/ai/segment", json={"prompt": "asdf qwerty"})
        assert response.status_code == 422  # the model failed and the offline engine found nothing

        fake.reply(Reply(status=500))
        response = await api.client.post("/api/v1/ai/messages", json={"goal": "win back", "count": 3})
        assert response.status_code == 200
        assert [v["engine"] for v in response.json()["variants"]] == ["offline"] * 3
