"""The receipts webhook: open to the vendor, guarded by its signature instead of an API key."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError

from pulsecrm.bodies import read_body
from pulsecrm.delivery import receipts
from pulsecrm.deps import ServicesDep
from pulsecrm.errors import InvalidInput, MalformedBody, ServiceUnavailable, validation_details

router = APIRouter(prefix="/api/v1", tags=["delivery"])
MAX_BODY = 8 * 1024 * 1024


class ReceiptsAccepted(BaseModel):
    status: str  # "queued" (202) or "applied" (200)
    count: int
    applied: int | None = None
    duplicates: int | None = None
    parked: int | None = None


@router.post("/receipts", response_model=ReceiptsAccepted)
async def post_receipts(request: Request, response: Response, services: ServicesDep) -> ReceiptsAccepted:
    """Delivery receipts from the vendor, signed: `X-Pulse-Signature: t=<unix>,v1=<hex>`."""
    if services.settings.webhook_secret is None:
        raise ServiceUnavailable("the receipts webhook is not configured: set PULSECRM_WEBHOOK_SECRET")
    body = await read_body(request, MAX_BODY)
    receipts.verify(
        services.settings.webhook_secret.get_secret_value(), request.headers.get("x-pulse-signature"), body
    )
    try:
        batch = receipts.ReceiptBatch.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=True)
        if any(e["type"] == "json_invalid" for e in errors):
            raise MalformedBody("body is not valid JSON") from None
        details, count = validation_details(errors)
        raise InvalidInput("invalid receipts; none were applied", details=details, count=count) from None
    if services.redis is not None:
        await services.receipts.enqueue(batch.receipts)
        response.status_code = 202
        return ReceiptsAccepted(status="queued", count=len(batch.receipts))
    result = await services.receipts.apply_now(batch.receipts)
    return ReceiptsAccepted(
        status="applied",
        count=len(batch.receipts),
        applied=result.applied,
        duplicates=result.duplicates,
        parked=result.parked,
    )
