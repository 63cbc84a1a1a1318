"""The OpenAPI document: complete, and true of the API, as schemathesis checks it on both databases."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events
from schemathesis.engine import from_schema as engine_for
from schemathesis.engine.run import PhaseName

from pulsecrm.delivery import receipts
from pulsecrm.openapi import SIGNATURE
from tests.conftest import WEBHOOK_SECRET, Api, running_api

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The run: 50 examples an operation (per phase), here with a seed so a failure repeats.
# About 35 s a database on 2 cores.
SEED = 20261130
MAX_EXAMPLES = 50


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


async def test_every_reference_resolves_and_every_error_is_documented(sqlite_url: str) -> None:
    async with running_api(sqlite_url) as api:
        document = api.app.openapi()
        served = (await api.client.get("/openapi.json")).json()
    assert served == document
    schemas = document["components"]["schemas"]
    missing = {r for r in _refs(document) if r.removeprefix("#/components/schemas/") not in schemas}
    assert missing == set()
    assert {"CustomerIn", "OrderIn", "ErrorBody"} <= set(schemas)
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 shape, which the API never answers
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    segment = document["paths"]["/api/v1/segments/{segment_id}"]
    for method in ("get", "put", "delete"):
        responses = segment[method]["responses"]
        assert {"401", "403", "404", "422", "503"} <= set(responses), method
        assert all(responses[status]["content"] == error for status in ("401", "403", "404", "422", "503"))
    assert {"400", "409", "413"} <= set(segment["put"]["responses"])
    # 415 only where a route reads the body itself and takes several media types.
    assert "415" not in segment["put"]["responses"]
    assert "415" in document["paths"]["/api/v1/import/{kind}"]["post"]["responses"]
    assert "WWW-Authenticate" in segment["get"]["responses"]["401"]["headers"]
    # Open routes: no 401 where no key is asked for, 401 where a signature is.
    assert set(document["paths"]["/healthz"]["get"]["responses"]) == {"200", "422"}  # 422: a NUL
    assert "401" in document["paths"]["/api/v1/receipts"]["post"]["responses"]


async def test_an_unsupported_method_is_405_with_every_allowed_method(sqlite_url: str) -> None:
    async with running_api(sqlite_url) as api:
        # GET and POST of this path are declared in two routers (customers and ingestion).
        response = await api.client.patch("/api/v1/customers")
        page = await api.client.post("/healthz", headers={"Accept": "text/html"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert (page.status_code, page.headers["allow"]) == (405, "GET")
    assert page.headers["content-type"].startswith("text/html")


class _OnTestLoop:
    """An ASGI app that serves each request with `app` on the test's event loop.

    Schemathesis calls an ASGI app from an event loop of its own, in another thread; the app's
    database pools and Redis connections belong to the loop they were opened on. Each request
    is read whole, handled on the test's loop, and its answer replayed to schemathesis.
    """

    def __init__(self, app: Callable[[Message, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.loop = asyncio.get_running_loop()

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # The fixture ran the real lifespan already; answer schemathesis's startup and shutdown.
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        scope = {**scope, "headers": [_signed(name, value, body) for name, value in scope["headers"]]}
        sent: list[Message] = []
        handled = asyncio.run_coroutine_threadsafe(self._handle(scope, body, sent), self.loop)
        await asyncio.wrap_future(handled)
        for message in sent:
            await send(message)

    async def _handle(self, scope: Message, body: bytes, sent: list[Message]) -> None:
        done = asyncio.Event()
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done.set()

        try:
            await self.app(dict(scope), receive, send)
        except Exception:
            # Starlette re-raises after its 500 answer, for the server to log; as a server does,
            # answer 500 if nothing was sent yet, and let schemathesis judge the answer.
            if not sent:
                sent.append({"type": "http.response.start", "status": 500, "headers": []})
                sent.append({"type": "http.response.body", "body": b"Internal Server Error"})
        finally:
            done.set()


def _signed(name: bytes, value: bytes, body: bytes) -> tuple[bytes, bytes]:
    """A receipts signature schemathesis made up in the documented form, made valid for the body,
    as the vendor's would be, so the receipts themselves are tested. Malformed ones stay as sent."""
    if name.lower() == b"x-pulse-signature" and re.fullmatch(SIGNATURE, value.decode("latin-1")):
        return name, receipts.sign(WEBHOOK_SECRET, body).encode()
    return name, value


# NDJSON and JSON Lines bodies are text; schemathesis sends them as such.
schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl"], "text/plain")


@dataclass
class Run:
    failures: dict[str, str] = field(default_factory=dict)  # a kind of failure: its first example
    operations: set[str] = field(default_factory=set)
    checks: set[str] = field(default_factory=set)
    seconds: float = 0.0


def _run(api: Api, app: _OnTestLoop, document: dict[str, Any]) -> Run:
    """Every phase schemathesis has and every check, over every operation of `document`.

    Runs in a worker thread: schemathesis is synchronous, and the test's loop must stay free
    to serve the requests it sends (see `_OnTestLoop`).
    """
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Bearer {api.key}"},
            "base-url": "http://testserver",
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                "enabled": True,  # every check schemathesis has: `--checks all`
                # A 422 also answers input the document cannot describe: a rule tree naming a
                # field the catalog lacks, a cursor this API did not issue, a template that does
                # not compile. Every other check still holds for those answers.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
                },
                # Too many records is refused with 413, which schemathesis does not count as a refusal.
                "negative_data_rejection": {
                    "expected-statuses": [
                        *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428"),
                        *("429", "5xx"),
                    ]
                },
            },
            "operations": [
                {
                    # An NDJSON body can only be described as a string; a line that is not JSON is a 400.
                    "include-path-regex": "^/api/v1/(customers|orders)$",
                    "include-method": "POST",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [
                                *("2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx")
                            ]
                        }
                    },
                },
                {
                    # An import takes any text: bad rows are reported in its 200 progress stream.
                    "include-path": "/api/v1/import/{kind}",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                },
            ],
        }
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.app = app
    run = Run()
    failures, operations = run.failures, run.operations
    started = time.monotonic()
    for event in engine_for(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.phase != PhaseName.STATEFUL_TESTING:
                operations.add(event.recorder.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    run.checks.add(check.name)
                    if check.failure_info is None:
                        continue
                    case = event.recorder.cases[case_id].value
                    failure = check.failure_info.failure
                    key = f"{check.name}: {case.operation.label}: {failure.title}"
                    failures.setdefault(
                        key, f"{key}\n    {failure.message}\n    {check.failure_info.code_sample}"
                    )
        elif isinstance(event, events.NonFatalError):
            failures.setdefault(f"error: {event.label}", f"error: {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            failures.setdefault("fatal", f"fatal: {event.exception!r}")
    run.seconds = time.monotonic() - started
    return run


@pytest.fixture
async def fuzzed_api(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Api]:
    """SQLite with inline ingestion, PostgreSQL with Redis streams: the two ways Pulse runs."""
    prefix = None if database_url.startswith("sqlite") else request.getfixturevalue("redis_prefix")
    async with running_api(database_url, prefix) as api:
        yield api


@pytest.mark.slow
async def test_schemathesis_finds_nothing(fuzzed_api: Api) -> None:
    document = fuzzed_api.app.openapi()
    run = await asyncio.to_thread(_run, fuzzed_api, _OnTestLoop(fuzzed_api.app), document)
    assert run.failures == {}, f"{len(run.failures)} kinds of failure:\n" + "\n".join(
        sorted(run.failures.values())
    )
    assert run.operations == {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
    assert {
        *("not_a_server_error", "status_code_conformance", "content_type_conformance"),
        *("response_schema_conformance", "response_headers_conformance", "negative_data_rejection"),
        *("positive_data_acceptance", "ignored_auth", "unsupported_method", "allow_header_conformance"),
    } <= run.checks
    print(f"schemathesis: {len(run.operations)} operations, checks {sorted(run.checks)}, {run.seconds:.0f} s")


async def test_the_run_reports_a_server_error(sqlite_url: str) -> None:
    async with running_api(sqlite_url) as api:

        @api.app.get("/api/v1/divide")
        async def divide(by: int) -> dict[str, int]:
            return {"result": 100 // by}

        document = api.app.openapi()
        document = {**document, "paths": {"/api/v1/divide": document["paths"]["/api/v1/divide"]}}
        run = await asyncio.to_thread(_run, api, _OnTestLoop(api.app), document)
    assert run.operations == {"GET /api/v1/divide"}
    assert any(kind.startswith("not_a_server_error: GET /api/v1/divide") for kind in run.failures), (
        run.failures
    )
