"""Signing in and out: a local account form, or OpenID Connect when an issuer is configured."""

from __future__ import annotations

import logging
import warnings
from typing import Annotated, Any

from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from pulsecrm.auth import users
from pulsecrm.config import Settings
from pulsecrm.deps import ServicesDep, session_user
from pulsecrm.web.ratelimit import LoginLimiter
from pulsecrm.web.security import CheckedForm, safe_next, sign_in, sign_out
from pulsecrm.web.templating import render

with warnings.catch_warnings():
    # Authlib 1.9 warns, on import, about its own httpx integration; we use the Starlette one.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def oidc_client(settings: Settings) -> OAuth | None:
    if not settings.oidc_issuer:
        return None
    oauth = OAuth()
    oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile"},
    )
    return oauth


def provider_name(settings: Settings) -> str:
    issuer = settings.oidc_issuer or ""
    return "Google" if "accounts.google.com" in issuer else "single sign-on"


def email_allowed(settings: Settings, email: str) -> bool:
    if not settings.oidc_allowed_domains and not settings.oidc_allowed_emails:
        return True
    email = users.normalise_email(email)
    domain = email.rpartition("@")[2]
    return email in {e.lower() for e in settings.oidc_allowed_emails} or domain in {
        d.lower().lstrip("@") for d in settings.oidc_allowed_domains
    }


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


def _login_page(request: Request, services: ServicesDep, *, next_url: str, **extra: Any) -> Response:
    settings = services.settings
    return render(
        request,
        "login.html",
        next=next_url,
        oidc=bool(settings.oidc_issuer),
        provider=provider_name(settings),
        **extra,
    )


@router.get("/login")
async def login_page(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    if await session_user(request, services) is not None:
        return RedirectResponse(safe_next(next), status_code=302)
    if "uid" in request.session:
        sign_out(request)  # a switched-off account's leftover session
    return _login_page(request, services, next_url=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    services: ServicesDep,
    _: CheckedForm,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    if services.settings.oidc_issuer:
        return _login_page(
            request, services, next_url=target, status_code=400, error="Use single sign-on to sign in."
        )
    client = request.client.host if request.client else "unknown"
    keys = [f"ip:{client}", f"email:{users.normalise_email(email)}"]
    limiter = _limiter(request)
    if await limiter.blocked(keys):
        return _login_page(
            request,
            services,
            next_url=target,
            email=email,
            status_code=429,
            error="Too many failed attempts. Wait a minute and try again.",
        )
    async with services.db.write_session() as session:
        user = await users.authenticate_local(session, email, password)
        await session.commit()
    if user is None:
        await limiter.failed(keys)
        return _login_page(
            request,
            services,
            next_url=target,
            email=email,
            status_code=401,
            error="That e-mail and password don't match an active account.",
        )
    sign_in(request, user)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request, _: CheckedForm) -> Response:
    sign_out(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/auth/oidc/start")
async def oidc_start(request: Request, next: str | None = None) -> Response:
    oauth: OAuth | None = request.app.state.oauth
    if oauth is None:
        return RedirectResponse("/login", status_code=302)
    request.session["next"] = safe_next(next)
    redirect_uri = str(request.url_for("oidc_callback"))
    response: Response = await oauth.oidc.authorize_redirect(request, redirect_uri)
    return response


@router.get("/auth/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, services: ServicesDep) -> Response:
    oauth: OAuth | None = request.app.state.oauth
    if oauth is None:
        return RedirectResponse("/login", status_code=302)
    target = safe_next(request.session.get("next"))
    try:
        token = await oauth.oidc.authorize_access_token(request)
    except (OAuthError, ValueError, KeyError) as exc:
        log.warning("OIDC sign-in failed: %s", exc)
        return _login_page(
            request,
            services,
            next_url=target,
            status_code=400,
            error="Sign-in was cancelled or failed. Try again.",
        )
    claims = token.get("userinfo") or {}
    email = str(claims.get("email") or "")
    subject = str(claims.get("sub") or "")
    if not email or not subject or claims.get("email_verified") is False:
        return _login_page(
            request,
            services,
            next_url=target,
            status_code=403,
            error="Your identity provider did not share a verified e-mail address.",
        )
    if not email_allowed(services.settings, email):
        return _login_page(
            request,
            services,
            next_url=target,
            status_code=403,
            error=f"{email} is not allowed to sign in here.",
        )
    async with services.db.write_session() as session:
        user = await users.sign_in_oidc(
            session, subject=subject, email=email, name=str(claims.get("name") or "")
        )
        await session.commit()
    if user is None:
        return _login_page(
            request, services, next_url=target, status_code=403, error="This account is switched off."
        )
    sign_in(request, user)
    return RedirectResponse(target, status_code=303)
