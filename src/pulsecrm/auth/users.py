"""People who sign in: local accounts (argon2) and OpenID Connect identities.

A signed-in user's session cookie holds only the user's id; `UserVerifier` turns it back into a
`Principal` and notices, within its TTL, a user switched off in another process.
"""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pulsecrm.auth.models import User
from pulsecrm.auth.service import SCOPES, CachedPrincipals, Principal
from pulsecrm.db import utcnow
from pulsecrm.errors import Conflict, InvalidInput, NotFound

_hasher = PasswordHasher()
# Checked against when the address is unknown, so a wrong address costs as long as a wrong
# password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not a password anyone has")
MIN_PASSWORD = 8


def principal_of(user: User) -> Principal:
    # Users do everything the UI offers; scopes narrow API keys, not people.
    return Principal("user", user.id, user.email, frozenset(SCOPES))


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_local(session: AsyncSession, *, email: str, name: str, password: str) -> User:
    email = normalise_email(email)
    errors = []
    if "@" not in email or len(email) > 320:
        errors.append({"loc": ["email"], "message": "not an e-mail address"})
    if not name.strip():
        errors.append({"loc": ["name"], "message": "a name is required"})
    if len(password) < MIN_PASSWORD:
        errors.append({"loc": ["password"], "message": f"at least {MIN_PASSWORD} characters"})
    if errors:
        raise InvalidInput("; ".join(f"{e['loc'][0]}: {e['message']}" for e in errors), details=errors)
    if await session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists", details=[{"loc": ["email"]}])
    user = User(email=email, name=name.strip(), password_hash=_hasher.hash(password), created_at=utcnow())
    session.add(user)
    await session.flush()
    return user


async def authenticate_local(session: AsyncSession, email: str, password: str) -> User | None:
    user = await session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    stored = user.password_hash if user is not None and user.is_active else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    await session.flush()
    return user


async def sign_in_oidc(session: AsyncSession, *, subject: str, email: str, name: str) -> User | None:
    """The user for a verified OIDC identity, created on first sign-in; None if switched off."""
    email = normalise_email(email)
    user = await session.scalar(sa.select(User).where(User.oidc_subject == subject))
    if user is None:
        # An account made locally for the same address is linked rather than duplicated.
        user = await session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name or email, is_active=True, created_at=utcnow())
            session.add(user)
        user.oidc_subject = subject
    if not user.is_active:
        return None
    user.last_login_at = utcnow()
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(sa.select(User).order_by(User.email)))


async def set_active(session: AsyncSession, user_id: int, active: bool) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    user.is_active = active
    await session.flush()
    return user


class UserVerifier(CachedPrincipals[int]):
    """A session's user, by id; a switched-off or deleted user is no one."""

    async def verify(
        self, session_factory: async_sessionmaker[AsyncSession], user_id: int
    ) -> Principal | None:
        async def load() -> Principal | None:
            async with session_factory() as session:
                user = await session.get(User, user_id)
            return principal_of(user) if user is not None and user.is_active else None

        return await self._lookup(user_id, load)
