"""Typed errors: each carries its HTTP status and code; one handler renders them all."""

from __future__ import annotations

from typing import Any


class PulseError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(PulseError):
    status_code = 404
    code = "not_found"


class Conflict(PulseError):
    status_code = 409
    code = "conflict"


class InvalidInput(PulseError):
    status_code = 422
    code = "invalid_input"


class MalformedBody(PulseError):
    status_code = 400
    code = "malformed_body"


class PayloadTooLarge(PulseError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(PulseError):
    status_code = 415
    code = "unsupported_media_type"


class Unauthorized(PulseError):
    status_code = 401
    code = "unauthorized"


class Forbidden(PulseError):
    status_code = 403
    code = "forbidden"


class ServiceUnavailable(PulseError):
    status_code = 503
    code = "unavailable"


class TooManyRequests(PulseError):
    status_code = 429
    code = "too_many_requests"
