"""Typed errors: each carries its HTTP status and code; one handler renders them all.

An error lists at most `MAX_DETAILS` problems, plus `count`, the number there were: a 20 MB
array of bad records is answered in kilobytes. `plain_message` words pydantic's errors the
way the API speaks ("must be at most 200 characters"), without its type names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pulsecrm.validation import NO_NUL, NUL_MESSAGE, TIMESTAMP_RANGE

MAX_DETAILS = 100


class PulseError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, details: list[dict[str, Any]] | None = None, count: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        details = details or []
        self.count = max(count or 0, len(details))
        self.details = details[:MAX_DETAILS]

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details, self.count)


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None, count: int | None = None
) -> dict[str, Any]:
    """The one error shape: `details` has at most MAX_DETAILS entries, `count` says how many
    problems there were in all."""
    details = details or []
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details[:MAX_DETAILS],
            "count": max(count or 0, len(details)),
        }
    }


def validation_details(errors: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """(the first MAX_DETAILS of pydantic's errors as `{"loc", "message", "type"}`, how many there
    were). `type` stays as a machine code; `message` is for people."""
    details: list[dict[str, Any]] = []
    count = 0
    for error in errors:
        count += 1
        if len(details) < MAX_DETAILS:
            details.append(
                {"loc": list(error["loc"]), "message": plain_message(error), "type": error["type"]}
            )
    return details, count


def validation_text(errors: Iterable[Mapping[str, Any]], *, subject: str) -> str:
    """Pydantic's errors as one line for a log or a dead letter: `field: message; …` (at most
    20), with `subject` naming the whole value when an error has no field."""
    problems = [f"{'.'.join(str(p) for p in e['loc']) or subject}: {plain_message(e)}" for e in errors]
    return "; ".join(problems[:20])


_SIMPLE = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be text",
    "string_unicode": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing_size": "must be a whole number between -9223372036854775808 and 9223372036854775807",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "decimal_type": "must be a decimal number",
    "decimal_parsing": "must be a decimal number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "datetime_type": "must be an ISO 8601 date-time",
    "datetime_parsing": "must be an ISO 8601 date-time, e.g. 2026-03-01T10:00:00+05:30",
    "datetime_from_date_parsing": "must be an ISO 8601 date-time, e.g. 2026-03-01T10:00:00+05:30",
    "timezone_aware": "needs a UTC offset, e.g. Z or +05:30",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "json_invalid": "is not valid JSON",
    "json_type": "must be JSON",
    "union_tag_invalid": "is not a valid rule",
    "union_tag_not_found": "is not a valid rule",
    "none_required": "must be null",
}


def plain_message(error: Mapping[str, Any]) -> str:
    """Pydantic's error in the API's own words."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return "must not be empty" if n == 1 else f"must be at least {n} characters"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NO_NUL:
            return NUL_MESSAGE
        return "is not in the expected format"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} items"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        if str(ctx.get(key)).startswith(("1900-01-01", "2199-12-31")):  # a Timestamp's bound
            return f"must be {TIMESTAMP_RANGE}"
        return f"must be {words} {ctx.get(key)}"
    if kind == "decimal_max_digits":
        return f"must have at most {ctx.get('max_digits')} digits"
    if kind == "decimal_max_places":
        return f"must have at most {ctx.get('decimal_places')} decimal places"
    if kind == "decimal_whole_digits":
        return f"must have at most {ctx.get('whole_digits')} digits before the decimal point"
    if kind == "literal_error":
        return f"must be one of: {ctx.get('expected')}"
    if kind == "enum":
        return f"must be one of: {ctx.get('expected')}"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


class NotFound(PulseError):
    status_code = 404
    code = "not_found"


class Conflict(PulseError):
    status_code = 409
    code = "conflict"


class InvalidInput(PulseError):
    status_code = 422
    code = "invalid_input"

    @classmethod
    def at(cls, where: Literal["body", "query", "path"], field: str, message: str) -> InvalidInput:
        """A 422 naming one field: "field: message", and where the field was in the request."""
        return cls(f"{field}: {message}", details=[{"loc": [where, field], "message": message}])


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
