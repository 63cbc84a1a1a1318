"""Fixtures of the fault tests: a Redis, a PostgreSQL cluster and app processes of the test's own.

The shared PostgreSQL and Redis are never stopped or reconfigured: a fault is made on a
redis-server or a throwaway cluster started here, on a free loopback port. Every process a
fixture starts is stopped at its teardown. A missing `redis-server` or `initdb` skips the
test, and fails it in CI (tests/conftest.py's `_need`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _need
from tests.faults.procs import OwnPostgres, OwnRedis, can_run_as_postgres, pg_bindir


def need_redis_server() -> None:
    _need("redis", shutil.which("redis-server") is not None, "redis-server is not installed")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[..., OwnRedis]]:
    """Start a redis-server of the test's own: `own_redis(appendonly=..., appendfsync=...)`."""
    need_redis_server()
    made: list[OwnRedis] = []

    def make(*, appendonly: bool, appendfsync: str = "everysec") -> OwnRedis:
        server = OwnRedis(tmp_path / f"redis-{len(made)}", appendonly=appendonly, appendfsync=appendfsync)
        made.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A throwaway PostgreSQL cluster, initdb'd and started; destroyed afterwards."""
    bindir = pg_bindir()
    _need("postgres", bindir is not None, "initdb/pg_ctl are not installed")
    assert bindir is not None
    why = can_run_as_postgres()
    _need("postgres", why is None, why or "")
    cluster = OwnPostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def api_client(base: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=15)
