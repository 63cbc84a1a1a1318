"""What kind of failure an exception is, and telling people about an outage once.

Every place that can fail -- a request, a stream consumer, the dispatcher -- asks the same
question of an exception: is a service we depend on away (wait and try again; nobody's
fault), is it the data (set that record aside), or is it our own code (alert a human, keep
the work)? Answering it in one place keeps the API, the workers and the dispatcher agreeing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import Enum

import orjson
import redis.exceptions as redis_errors
from pydantic import ValidationError
from sqlalchemy import exc as sa_errors


class Failure(Enum):
    OUTAGE = "outage"  # PostgreSQL, SQLite or Redis is unreachable, restarting or overloaded
    DATA = "data"  # the record itself cannot be stored: retrying the same bytes cannot help
    BUG = "bug"  # anything else: our code is wrong; keep the work and tell a human


class BadEntry(ValueError):
    """A stream entry, or one record of it, that cannot be decoded: it is the data's fault."""


# SQLSTATE classes: 08 connection, 53 insufficient resources, 57 operator intervention
# (admin/crash shutdown, cannot connect now), 58 system error; 22 data exception, 23 integrity.
_OUTAGE_SQLSTATE = ("08", "53", "57", "58")
_DATA_SQLSTATE = ("22", "23")
_REDIS_OUTAGE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.ReadOnlyError,  # a replica promoted mid-failover
    redis_errors.TryAgainError,
)
_DATA = (
    BadEntry,
    ValidationError,
    orjson.JSONDecodeError,
    UnicodeDecodeError,
    OverflowError,
    sa_errors.DataError,
    sa_errors.IntegrityError,
)


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, through SQLAlchemy's and asyncpg's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state:
            return state
        current = getattr(current, "orig", None) or current.__cause__
    return None


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, _REDIS_OUTAGE):
        return Failure.OUTAGE
    if isinstance(exc, sa_errors.DBAPIError):
        state = sqlstate(exc)
        if exc.connection_invalidated or (state and state.startswith(_OUTAGE_SQLSTATE)):
            return Failure.OUTAGE
        if state and state.startswith(_DATA_SQLSTATE):
            return Failure.DATA
        if state is None and isinstance(exc, sa_errors.OperationalError | sa_errors.InterfaceError):
            # No SQLSTATE: the driver lost its connection (asyncpg) or SQLite is locked or
            # its disk is away. Either way the same statement may succeed later.
            return Failure.OUTAGE
    if isinstance(exc, sa_errors.DisconnectionError | sa_errors.TimeoutError):
        return Failure.OUTAGE  # a pool that cannot hand out a connection
    if isinstance(exc, sa_errors.StatementError) and isinstance(exc.orig, (*_DATA, ValueError, TypeError)):
        return Failure.DATA  # a value our column types refused while binding it
    if isinstance(exc, OSError | asyncio.TimeoutError) and not isinstance(exc, UnicodeDecodeError):
        return Failure.OUTAGE  # connection refused or reset, before any driver wrapped it
    if _is_asyncpg_outage(exc):
        return Failure.OUTAGE
    if isinstance(exc, _DATA):
        return Failure.DATA
    return Failure.BUG


def _is_asyncpg_outage(exc: BaseException) -> bool:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.exceptions.ConnectionDoesNotExistError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.InterfaceError,
    )


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


class OutageLog:
    """Logs an outage once when it starts and once when it ends, however many calls fail.

    Thirty thousand identical tracebacks in twenty seconds hide the one line that matters;
    this keeps the start, the end, how long it lasted and how many calls were turned away.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.logger.error("%s is unavailable (%s); retrying until it is back", self.what, describe(exc))

    def succeeded(self) -> None:
        if self.since is None:
            return
        took = time.monotonic() - self.since
        self.logger.warning(
            "%s available again after %.1f s (%d calls failed meanwhile)", self.what, took, self.failures
        )
        self.since = None
        self.failures = 0
