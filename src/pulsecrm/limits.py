"""Limits every request meets before a route sees it: no NUL in its address, a body only from a
known caller, and never more body than the limit.

A pure ASGI middleware, inside the session middleware (it reads the session cookie) and the
outage guard (a credential check that meets a database outage is a 503 there):

- A NUL character in the path or the query string is a 422 naming the parameter: PostgreSQL
  cannot store or compare text holding one, and no address of ours needs it.
- A request with a body to a route that is not open (`OPEN_PATHS`) must carry a valid API key
  or a signed-in session before a byte of the body is read: an anonymous 100 MB upload is a
  401 that costs nothing. Routes still check the key's scope and the CSRF token themselves.
- A body longer than the limit is a 413, answered from `Content-Length` when the client sends
  one, or as soon as the bytes read pass the limit: it is counted, never buffered here. The
  bulk imports take `max_import_bytes`; everything else `max_body_bytes`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulsecrm.config import Settings
from pulsecrm.deps import session_user
from pulsecrm.errors import error_body
from pulsecrm.validation import NUL_MESSAGE

if TYPE_CHECKING:
    from pulsecrm.services import Services

# Routes that take files of any size (bounded by `max_import_bytes` instead).
IMPORT_PREFIXES = ("/api/v1/import/", "/uploads")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    """Raised from `receive` once a body passes its limit; the middleware answers 413."""


class RequestLimits:
    def __init__(self, app: ASGIApp, *, settings: Settings, open_paths: Collection[str]) -> None:
        self.app = app
        self.max_body_bytes = settings.max_body_bytes
        self.max_import_bytes = settings.max_import_bytes
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul = _nul_problems(scope)
        if nul:
            names = ", ".join(".".join(d["loc"]) for d in nul)
            await _answer(scope, send, 422, "invalid_input", f"invalid request: {names}", nul)
            return
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        has_body = scope["method"] in BODY_METHODS and (
            (declared is not None and declared > 0) or "transfer-encoding" in headers
        )
        if not has_body:
            await self.app(scope, receive, send)
            return
        if not self._is_open(scope["path"]) and not await _authenticated(scope, headers):
            await _refuse_anonymous(scope, send)
            return
        limit = self.max_import_bytes if scope["path"].startswith(IMPORT_PREFIXES) else self.max_body_bytes
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit)
            return
        await self._counted(scope, receive, send, limit)

    def _is_open(self, path: str) -> bool:
        return path in self.open_paths or any(path.startswith(f"{p}/") for p in self.open_paths)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the request on, counting its body; past the limit, the app's `receive` raises and
        whatever it would answer is replaced by a 413."""
        read = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal read, exceeded
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the route's own answer to the failed read; ours goes out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_large(scope, send, limit)


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


async def _authenticated(scope: Scope, headers: Headers) -> bool:
    """A valid API key, or the session of an active user (the same checks as `deps`)."""
    app: Any = scope.get("app")
    services: Services | None = getattr(getattr(app, "state", None), "services", None)
    if services is None:
        return True  # not started (no lifespan): nothing to check against; routes will refuse
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return await services.api_keys.verify(services.db.sessions, token.strip()) is not None
    if "session" in scope:
        return await session_user(Request(scope), services) is not None
    return False


def _nul_problems(scope: Scope) -> list[dict[str, Any]]:
    """`{"loc", "message"}` for each query parameter, and the path parameter, holding a NUL."""
    problems: list[dict[str, Any]] = []
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in value or "\x00" in name:
                loc = ["query", name.replace("\x00", "")]
                if loc not in [p["loc"] for p in problems]:
                    problems.append({"loc": loc, "message": NUL_MESSAGE, "type": "nul_character"})
    if "\x00" in scope["path"]:
        problems.append(
            {"loc": ["path", _path_parameter(scope)], "message": NUL_MESSAGE, "type": "nul_character"}
        )
    return problems


def _path_parameter(scope: Scope) -> str:
    """The name of the route's path parameter holding the NUL, when a route matches."""
    for pattern in _path_patterns(scope.get("app")):
        match = pattern.fullmatch(scope["path"])
        if match:
            for name, value in match.groupdict().items():
                if "\x00" in value:
                    return name
    return "path"


@lru_cache(maxsize=8)
def _path_patterns(app: Any) -> tuple[re.Pattern[str], ...]:
    """Every route's path as a regular expression, descending into included routers (which
    FastAPI keeps unexpanded). Built once per app: routes do not change after start."""
    patterns: list[re.Pattern[str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            nested = getattr(route, "original_router", None)
            if nested is not None:
                extra = getattr(getattr(route, "include_context", None), "prefix", "") or ""
                walk(nested.routes, prefix + extra)
            elif isinstance(route, Route) and "{" in route.path:
                patterns.append(compile_path(prefix + route.path)[0])

    walk(getattr(getattr(app, "router", None), "routes", []), "")
    return tuple(patterns)


def _wants_page(scope: Scope) -> bool:
    accept = Headers(scope=scope).get("accept", "")
    return not scope["path"].startswith("/api/") and "text/html" in accept


async def _answer(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = list(headers or [])
    if _wants_page(scope):
        text = {422: "That address or form has a value this page can't use."}.get(status, message)
        body = f"<!doctype html><title>{status}</title><h1>{text}</h1>".encode()
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    else:
        body = orjson.dumps(error_body(code, message, details))
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(body)).encode()))
    # The body was not read: the client may still be sending it, so this connection ends here.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse_anonymous(scope: Scope, send: Send) -> None:
    if scope["path"].startswith("/api/"):
        await _answer(
            scope,
            send,
            401,
            "unauthorized",
            "authentication required: sign in, or send `Authorization: Bearer <API key>`",
            headers=[(b"www-authenticate", b"Bearer")],
        )
        return
    # A page's form, as the pages answer an anonymous visitor: to the sign-in page.
    location = "/login?" + urlencode({"next": "/"})
    if Headers(scope=scope).get("hx-request"):
        await _answer(
            scope, send, 401, "unauthorized", "sign in", headers=[(b"hx-redirect", location.encode())]
        )
        return
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", location.encode()),
                (b"content-length", b"0"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await _answer(
        scope, send, 413, "payload_too_large", f"the body is larger than the limit of {limit} bytes"
    )
