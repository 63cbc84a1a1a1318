"""Request dependencies as Annotated aliases: the app's services, a session, the caller."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.auth.service import Principal
from pulsecrm.errors import Forbidden, Unauthorized
from pulsecrm.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session for the request; the endpoint commits when it writes (it owns the transaction)."""
    async with services.db.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_write_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """A session for a request that writes (see Database.write_session); the endpoint commits."""
    async with services.db.write_session() as session:
        yield session


WriteSessionDep = Annotated[AsyncSession, Depends(get_write_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer pk_…`")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


async def _authenticate(
    request: Request, services: Services, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is not None:
        principal = await services.api_keys.verify(services.db.sessions, credentials.credentials)
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        return principal
    # The web pages call the same API with their session cookie. A cookie is sent by the
    # browser on its own, so a state-changing call must also prove it came from our page.
    principal = await session_user(request, services)
    if principal is not None:
        if request.method not in SAFE_METHODS and not csrf_matches(
            request.session, request.headers.get(CSRF_HEADER)
        ):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header; reload the page")
        return principal
    raise Unauthorized("authentication required: sign in, or send `Authorization: Bearer <API key>`")


async def session_user(request: Request, services: Services) -> Principal | None:
    """The signed-in user of the session cookie, if the account still exists and is active."""
    user_id = (request.scope.get("session") or {}).get("uid")
    if not isinstance(user_id, int):
        return None
    return await services.users.verify(services.db.sessions, user_id)


def csrf_matches(session: dict[str, object], submitted: str | None) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require_scope(
    scope: str,
) -> Callable[[Request, Services, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    # One dependency that authenticates and checks the scope: resolving dependencies is a
    # large share of a small request's cost.
    async def check(request: Request, services: ServicesDep, credentials: Credentials) -> Principal:
        principal = await _authenticate(request, services, credentials)
        if scope not in principal.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")
        return principal

    return check


IngestScope = Annotated[Principal, Depends(require_scope("ingest"))]
ReadScope = Annotated[Principal, Depends(require_scope("read"))]
SegmentsScope = Annotated[Principal, Depends(require_scope("segments"))]
CampaignsScope = Annotated[Principal, Depends(require_scope("campaigns"))]
