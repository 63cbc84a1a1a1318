"""The OpenAPI document: FastAPI's, completed with what it cannot see from the route signatures.

FastAPI documents a route's success answer and, for routes with input, a 422 in its own shape.
Our answers also come from dependencies (401/403 from the API key check), from services
(404, 409), from the body readers (400/413/415), from the outage guard (503), and every error
has the one body `{"error": {"code", "message", "details"}}` that `errors.PulseError` renders.
This module adds those answers once, from facts of each operation (is it secured, has it a
path id, a body, any input), so endpoint modules only declare what is particular to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": REF.format(model="ErrorBody")}

ERROR_BODY: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable: `not_found`, …"},
                "message": {"type": "string", "description": "For people."},
                "count": {
                    "type": "integer",
                    "description": "How many problems there were; `details` lists the first 100.",
                },
                "details": {
                    "type": "array",
                    "description": "What was wrong where: `loc` is the path to the value.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

READINESS: dict[str, Any] = {
    "title": "Readiness",
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

Operation = dict[str, Any]


def _secured(op: Operation) -> bool:
    return bool(op.get("security"))


def _has_path_id(op: Operation) -> bool:
    return any(p.get("in") == "path" and p["name"].endswith("id") for p in op.get("parameters", []))


def _has_body(op: Operation) -> bool:
    return "requestBody" in op


def _media_types(op: Operation) -> set[str]:
    return set(op.get("requestBody", {}).get("content", {}))


def _has_json_body(op: Operation) -> bool:
    # FastAPI answers 400 itself when it cannot read a JSON body at all (not UTF-8, say).
    return "application/json" in _media_types(op)


def _takes_other_media(op: Operation) -> bool:
    # A Pydantic body sent as something else is a 422 (not a dictionary); routes that read the
    # body themselves and take several media types refuse the rest with 415.
    return bool(_media_types(op) - {"application/json"})


def _any(op: Operation) -> bool:
    return True


# Answers every operation of a kind can give: (status, description, does it apply).
COMMON: tuple[tuple[int, str, Callable[[Operation], bool]], ...] = (
    (400, "The body cannot be read as JSON.", _has_json_body),
    (401, "No credentials, or an invalid or revoked API key.", _secured),
    (403, "The API key lacks this route's scope (or a page's call lacks its CSRF header).", _secured),
    (404, "Nothing has that id.", _has_path_id),
    (413, "The body is larger than the server takes.", _has_body),
    (415, "The body's Content-Type is not one this route takes.", _takes_other_media),
    # Any address may carry a NUL character, which limits.RequestLimits refuses before routing.
    (422, "A value in the request is invalid; `details` says which and why.", _any),
)

# Answers particular to one operation, which no signature shows: the services raise them.
PARTICULAR: dict[tuple[str, str], dict[int, str]] = {
    ("post", "/api/v1/segments"): {409: "A segment with that name exists."},
    ("put", "/api/v1/segments/{segment_id}"): {409: "A segment with that name exists."},
    **{
        ("post", f"/api/v1/campaigns/{{campaign_id}}/{action}"): {
            409: f"The campaign's status does not allow {action}."
        }
        for action in ("launch", "schedule", "pause", "resume", "cancel")
    },
    ("post", "/api/v1/dead-letters/{letter_id}/replay"): {409: "Already replayed."},
    ("post", "/api/v1/campaigns"): {404: "No segment has that `segment_id`."},
    ("post", "/api/v1/campaigns/reach"): {404: "No segment has that `segment_id`."},
    ("post", "/api/v1/campaigns/test-send"): {404: "No segment has that `segment_id`."},
    ("post", "/api/v1/campaigns/send-hours"): {404: "No segment has that `segment_id`."},
    ("post", "/api/v1/ai/messages"): {404: "No segment has that `segment_id`."},
    ("post", "/api/v1/ai/send-time"): {404: "No segment has that `segment_id`."},
    ("post", "/api/v1/campaigns/preview-message"): {404: "No customer has that `customer_external_id`."},
    ("post", "/api/v1/receipts"): {
        202: "Queued on the durable stream (Redis mode); applied by the worker.",
        400: "The body is not JSON.",
        401: "Missing, malformed, stale or wrong `X-Pulse-Signature`.",
        413: "The body is larger than the webhook takes.",
        422: "A receipt is invalid; none were applied.",
        503: "The webhook is not configured (no secret set), or a service is down.",
    },
}

SIGNATURE = r"^t=\d+,v1=[0-9a-f]{64}$"


def _read_by_hand() -> dict[tuple[str, str], Operation]:
    """What routes that read their body themselves take, which FastAPI cannot see."""
    # Imported here: the delivery package imports much of the app, which imports this module.
    from pulsecrm.delivery.receipts import ReceiptBatch

    signature = {
        "name": "X-Pulse-Signature",
        "in": "header",
        "required": True,
        "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>` with the webhook secret; "
        "refused outside a 5-minute window.",
        "schema": {"type": "string", "pattern": SIGNATURE},
    }
    return {
        ("post", "/api/v1/receipts"): {
            "parameters": [signature],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref(ReceiptBatch)}}},
        }
    }


_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}, "required": True}},
    503: {
        "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "string"}}
    },
}

_referenced: dict[str, type[BaseModel]] = {}


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model` for a hand-written `openapi_extra`; the model is added to components."""
    _referenced[model.__name__] = model
    return {"$ref": REF.format(model=model.__name__)}


def install(app: FastAPI) -> None:
    """Serve this module's document from `app.openapi()` (and so from `/openapi.json`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for (method, path), extra in _read_by_hand().items():
        op = document["paths"].get(path, {}).get(method)
        if op is not None:
            op.setdefault("parameters", []).extend(extra.get("parameters", []))
            op.setdefault("requestBody", extra["requestBody"])
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for model in _referenced.values():
        _add_model(schemas, model)
    schemas["ErrorBody"] = ERROR_BODY
    schemas["Readiness"] = READINESS
    for path, operations in document.get("paths", {}).items():
        for method, op in operations.items():
            _complete(op, method, path)
    readyz = document["paths"].get("/readyz", {}).get("get")
    if readyz is not None:
        body = {"application/json": {"schema": {"$ref": REF.format(model="Readiness")}}}
        readyz["responses"]["200"]["content"] = body
        readyz["responses"]["503"] = {
            "description": "The database or Redis does not answer.",
            "content": body,
        }
    # FastAPI's own 422 shape is not what the API answers; drop it once nothing refers to it.
    for unused in ("HTTPValidationError", "ValidationError"):
        if REF.format(model=unused) not in _refs(document):
            schemas.pop(unused, None)
    return document


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _add_model(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, schema)


def _complete(op: Operation, method: str, path: str) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    wanted: dict[int, str] = {status: text for status, text, applies in COMMON if applies(op)}
    if path != "/healthz":
        wanted[503] = "The database or Redis is unavailable; try again after `Retry-After` seconds."
    wanted.update(PARTICULAR.get((method, path), {}))
    success: dict[str, Any] = next(
        (r for status, r in sorted(responses.items()) if status.startswith("2")), {}
    )
    for status, text in wanted.items():
        answer = responses.setdefault(str(status), {})
        answer.setdefault("description", text)
        if status < 400:
            # Another success answer of the same operation (202 beside 200) has the same body.
            if "content" in success:
                answer.setdefault("content", success["content"])
            continue
        # Replaces FastAPI's HTTPValidationError: every error is rendered as ErrorBody.
        answer["content"] = {"application/json": {"schema": ERROR_REF}}
        if status in _HEADERS:
            answer.setdefault("headers", _HEADERS[status])
    op["responses"] = dict(sorted(responses.items()))
