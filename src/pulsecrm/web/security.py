"""Web sessions: who is signed in, CSRF tokens, and where a sign-in may send the browser back to."""

from __future__ import annotations

import secrets
import time
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pulsecrm.auth.models import User
from pulsecrm.auth.service import Principal
from pulsecrm.deps import CSRF_HEADER, ServicesDep, csrf_matches, session_user
from pulsecrm.errors import Forbidden

SESSION_COOKIE = "pulse_session"


class SignInRequired(Exception):
    """An anonymous page request: answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    @property
    def location(self) -> str:
        return "/login?" + urlencode({"next": self.next_url})


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def sign_in(request: Request, user: User) -> None:
    # A fresh session (and CSRF token) at every sign-in: nothing set before it carries over.
    request.session.clear()
    request.session.update({"uid": user.id, "csrf": secrets.token_urlsafe(32), "at": int(time.time())})


def sign_out(request: Request) -> None:
    request.session.clear()


def safe_next(value: str | None) -> str:
    """A path on this site to go to after sign-in; anything else (another host, a scheme,
    `//evil`, `/\\evil`) becomes the dashboard."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(c in value for c in "\r\n\t\\"):
        return "/"
    return value


async def current_user(request: Request, services: ServicesDep) -> Principal:
    principal = await session_user(request, services)
    if principal is not None:
        request.state.user = principal
        return principal
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise SignInRequired(target if request.method == "GET" else "/")


CurrentUser = Annotated[Principal, Depends(current_user)]


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token matches the session's."""
    form = await request.form()
    submitted = form.get("csrf_token")
    token = submitted if isinstance(submitted, str) else request.headers.get(CSRF_HEADER)
    if not csrf_matches(request.session, token):
        raise Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again."
        )
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


# --- response headers ----------------------------------------------------------------------------

# Scripts only from our own files: no inline script, no handler attribute, no eval, so stored
# text that slips into a page still cannot run. Styles likewise (the pages set none inline);
# `data:` images are Pico's form icons.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode(), value.encode())
    for name, value in (
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        # Older browsers that predate frame-ancestors.
        ("x-frame-options", "DENY"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        ("cross-origin-opener-policy", "same-origin"),
    )
)


class SecurityHeaders:
    """Adds the headers above to every response, pages, API and static files alike (a JSON
    answer opened in a browser tab is a document too). Pure ASGI, so streamed answers such as
    upload progress are not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
