"""The vendor's error answers: `{"error": {"code", "message", "details": [{"loc", "message"}],
"count"}}` with the status code that goes with each, and a size-capped body reader."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

MAX_DETAILS = 100


class VendorError(Exception):
    def __init__(
        self, status_code: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message
        self.details = details or []

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            error_body(self.code, self.message, self.details), status_code=self.status_code, headers=headers
        )


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    details = details or []
    return {
        "error": {"code": code, "message": message, "details": details[:MAX_DETAILS], "count": len(details)}
    }


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise VendorError(413, "payload_too_large", f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise VendorError(413, "payload_too_large", f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
