"""Test fixtures: real PostgreSQL and Redis when they answer, SQLite and inline mode always.

In CI (CI=true, or PULSECRM_TEST_REQUIRE_SERVICES=1) a missing PostgreSQL or Redis fails the
run instead of skipping, so the service suites cannot silently stop running.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from fastapi import FastAPI

from pulsecrm.app import create_app
from pulsecrm.auth import service as auth_service
from pulsecrm.auth import users
from pulsecrm.config import Settings
from pulsecrm.db import Database, metadata, migrate
from pulsecrm.services import Services
from tests.faults.procs import Processes

PG_ADMIN_URL = os.environ.get("PULSECRM_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
# One database per pytest process, so concurrent runs never drop each other's data.
PG_TEST_DB = os.environ.get("PULSECRM_TEST_PG_DB", f"pulsecrm_test_{os.getpid()}")
REDIS_URL = os.environ.get("PULSECRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true" or bool(
    os.environ.get("PULSECRM_TEST_REQUIRE_SERVICES")
)
_service_status: dict[str, str] = {}
WEBHOOK_SECRET = "test-webhook-secret"


def _reachable(url: str, default_port: int) -> bool:
    parsed = sa.engine.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _need(service: str, ok: bool, why: str) -> None:
    if ok:
        _service_status.setdefault(service, "ran")
        return
    _service_status[service] = f"SKIPPED ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{service} is required in CI but {why}")
    pytest.skip(f"{service} not available: {why}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_sep("-", "service suites")
    for service in ("postgres", "redis", "chromium", "haproxy"):
        terminalreporter.write_line(f"{service}: {_service_status.get(service, 'not used')}")


# --- databases --------------------------------------------------------------------------------


def _pg_admin(sql: list[str]) -> list[str]:
    """Run statements on the admin database from sync code (a test loop may be running)."""

    async def run() -> list[str]:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database")]
            for statement in sql:
                await conn.execute(statement)
            return names
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _stale_test_databases(names: list[str]) -> list[str]:
    stale = []
    for name in names:
        match = re.fullmatch(r"pulsecrm_test_(\d+)", name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            stale.append(name)
    return stale


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    _need("postgres", _reachable(PG_ADMIN_URL, 5432), f"nothing answers at {PG_ADMIN_URL}")
    names = _pg_admin([])
    drops = [
        f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in [*_stale_test_databases(names), PG_TEST_DB]
    ]
    _pg_admin([*drops, f'CREATE DATABASE "{PG_TEST_DB}"'])
    url = sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=PG_TEST_DB)
    rendered = url.render_as_string(hide_password=False)
    migrate(rendered)
    yield rendered
    _pg_admin([f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)'])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


_TABLES = ", ".join(t.name for t in metadata.sorted_tables)


async def _truncate_pg(url: str) -> None:
    db = Database(url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "pulsecrm.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    await _truncate_pg(url)
    return url


@pytest.fixture
async def pg_database_url(pg_url: str) -> str:
    await _truncate_pg(pg_url)
    return pg_url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "pulsecrm.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


# --- redis ------------------------------------------------------------------------------------


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Real `pulsecrm` processes of this test (serve, worker, vendor): all stopped at teardown,
    their logs under tmp_path."""
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, deleted afterwards."""
    _need("redis", _reachable(REDIS_URL, 6379), f"nothing answers at {REDIS_URL}")
    prefix = f"pulsecrm-test:{uuid.uuid4().hex[:10]}:"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


# --- the app ----------------------------------------------------------------------------------


@dataclass
class Api:
    client: httpx.AsyncClient
    services: Services
    key: str
    app: FastAPI

    async def drain(self) -> int:
        """Stream mode: write everything queued, as a worker would. Returns entries consumed."""
        if self.services.redis is None:
            return 0
        total = 0
        for consumer in (
            self.services.ingestor.consumer(name="test-consumer", block_ms=1),
            self.services.receipts.consumer(name="test-consumer", block_ms=1),
        ):
            while n := await consumer.read_once(block_ms=1):
                total += n
        return total


@asynccontextmanager
async def running_api(
    database_url: str, redis_prefix: str | None = None, **overrides: Any
) -> AsyncIterator[Api]:
    overrides.setdefault("webhook_secret", WEBHOOK_SECRET)
    overrides.setdefault("background_work", False)  # tests drive the dispatcher themselves
    # The shared test Redis keeps nothing on disk; tests/faults runs Redis with AOF.
    overrides.setdefault("redis_allow_volatile", True)
    # Quiet hours would make sending depend on the hour the suite runs at; tests/timing sets them.
    overrides.setdefault("sms_quiet_hours", "")
    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL if redis_prefix else None,
        redis_prefix=redis_prefix or "pulsecrm:",
        **overrides,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        async with services.db.sessions() as session:
            key = (await auth_service.create_key(session, name="tests")).secret
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            yield Api(client, services, key, app)


@pytest.fixture(params=["inline", "stream"])
async def api(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Api]:
    """The API in both ingestion modes, on both databases (stream mode needs Redis)."""
    prefix = request.getfixturevalue("redis_prefix") if request.param == "stream" else None
    async with running_api(database_url, prefix) as api:
        yield api


@pytest.fixture
async def inline_api(database_url: str) -> AsyncIterator[Api]:
    async with running_api(database_url) as api:
        yield api


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("PULSECRM_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- the web app, as a browser would use it -----------------------------------------------------

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


async def sign_in(client: httpx.AsyncClient, email: str, password: str, next: str = "/") -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "email": email, "password": password, "next": next}
    )


async def make_user(api: Api, email: str = "marketer@example.com", name: str = "Mia Marketer") -> int:
    async with api.services.db.write_session() as session:
        user = await users.create_local(session, email=email, name=name, password=PASSWORD)
        await session.commit()
        return user.id


def browser_client(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app),
        base_url="http://testserver",
        headers={"Accept": "text/html"},
    )


@dataclass
class Web:
    api: Api
    client: httpx.AsyncClient
    user_id: int
    email: str

    async def csrf(self) -> str:
        return csrf_of((await self.client.get("/")).text)

    async def form(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": await self.csrf(), **(data or {})})


@pytest.fixture
async def web(database_url: str) -> AsyncIterator[Web]:
    async with running_api(database_url) as api:
        user_id = await make_user(api)
        async with browser_client(api) as client:
            response = await sign_in(client, "marketer@example.com", PASSWORD)
            assert response.status_code == 303, response.text
            yield Web(api, client, user_id, "marketer@example.com")


# --- no process left behind --------------------------------------------------------------------


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Live (not zombie) descendants of `pid` with their command lines, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: fields follow the last ')'.
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry.name))
    found: list[tuple[int, str]] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append((child, cmdline.strip()))
        todo.extend(children.get(child, []))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Every process a test starts is stopped by it: checked once the whole session is over."""
    before = {pid for pid, _ in _descendants(os.getpid())}
    yield
    deadline = time.monotonic() + 10  # a process told to stop may take a moment
    while True:
        left = [(pid, cmd) for pid, cmd in _descendants(os.getpid()) if pid not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"the tests left processes running: {left}"
