"""The mock vendor's HTTP service: sends (single and batched), stats, keys, health."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from pulsecrm.vendor.config import VendorSettings
from pulsecrm.vendor.errors import VendorError, read_body
from pulsecrm.vendor.schemas import MAX_BATCH, Message, MessageBatch, SendResult
from pulsecrm.vendor.sender import ReceiptSender
from pulsecrm.vendor.state import Fault, VendorState

# The largest request body taken: a full batch of 1,000 long e-mails fits with room to spare.
MAX_BODY = 16 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)


def create_app(settings: VendorSettings | None = None) -> FastAPI:
    settings = settings or VendorSettings()
    if settings.webhook_secret is None:
        # Unsigned receipts would be refused by the webhook and retried forever: fail at start.
        raise ValueError("the mock vendor needs PULSECRM_WEBHOOK_SECRET to sign receipts")
    state = VendorState(settings)
    sender = ReceiptSender(
        url=settings.webhook_url,
        secret=settings.webhook_secret.get_secret_value(),
        stats=state.stats,
        batch_size=settings.receipt_batch_size,
        linger=settings.receipt_linger_ms / 1000,
        retry_initial=settings.retry_initial_ms / 1000,
        retry_max=settings.retry_max_ms / 1000,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(sender.run(), name="vendor-receipts")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            state.close()

    app = FastAPI(
        title="Pulse CRM mock vendor",
        description="A pretend SMS/e-mail vendor that calls back the receipts webhook.",
        lifespan=lifespan,
    )
    app.state.vendor = state
    app.state.sender = sender

    @app.exception_handler(VendorError)
    async def vendor_error(_: Request, exc: VendorError) -> JSONResponse:
        return exc.response()

    async def accept(messages: list[Message], fault: Fault | None) -> list[SendResult]:
        results, outcomes = state.accept(messages)
        sender.schedule(outcomes)
        if fault == "timeout":
            # Accepted already, receipts on their way: a client that gave up hears nothing.
            await asyncio.sleep(settings.timeout_seconds)
        return results

    @app.post("/v1/messages/batch")
    async def send_batch(request: Request) -> Response:
        """Accept 1..1000 messages; answers one result per message, in request order."""
        fault = state.draw_fault()
        if fault in ("500", "429"):
            return _injected(fault)
        batch = _parse(await read_body(request, MAX_BODY), MessageBatch)
        results = await accept(batch.messages, fault)
        return JSONResponse({"results": [r.model_dump() for r in results]})

    @app.post("/v1/messages")
    async def send_one(request: Request) -> Response:
        """Accept one message."""
        fault = state.draw_fault()
        if fault in ("500", "429"):
            return _injected(fault)
        message = _parse(await read_body(request, MAX_BODY), Message)
        (result,) = await accept([message], fault)
        return JSONResponse(result.model_dump())

    @app.get("/v1/stats")
    async def stats() -> dict[str, Any]:
        s = state.stats
        return {
            "accepted": s.accepted,
            "duplicates": s.duplicates,
            "receipts_sent": s.receipts_sent,
            "receipts_pending": sender.pending,
            "requests": s.requests,
            "errors_injected": dict(s.errors_injected),
        }

    @app.get("/v1/keys")
    async def keys() -> dict[str, dict[str, int]]:
        """Every idempotency key seen, with how many requests carried it."""
        return {"keys": dict(state.times_seen)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _parse(body: bytes, model: type[M]) -> M:
    """400 for bytes that are not JSON, 413 for more than MAX_BATCH messages, 422 for the rest."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise VendorError(400, "malformed_body", "body is not valid JSON") from None
    if model is MessageBatch and isinstance(data, dict):
        messages = data.get("messages")
        if isinstance(messages, list) and len(messages) > MAX_BATCH:
            raise VendorError(
                413, "payload_too_large", f"{len(messages)} messages; at most {MAX_BATCH} per request"
            )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        details = [{"loc": list(e["loc"]), "message": e["msg"], "type": e["type"]} for e in errors]
        raise VendorError(422, "invalid_input", "invalid messages; none were accepted", details) from None


def _injected(fault: Fault) -> JSONResponse:
    if fault == "429":
        return VendorError(429, "rate_limited", "too many requests").response(headers={"Retry-After": "1"})
    return VendorError(500, "internal_error", "injected failure").response()
