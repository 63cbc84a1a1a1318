"""Stream mode says what durability it has: a Redis without AOF is refused unless allowed.

A 202 promises the records are kept; a Redis with `appendonly no` loses them on a restart.
`pulsecrm serve` and `pulsecrm worker` must refuse such a Redis before serving (exit 2,
naming `appendonly`), run on it only with PULSECRM_REDIS_ALLOW_VOLATILE=true, and then say so
in `/readyz`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.cli_helpers import free_port
from tests.faults.procs import OwnRedis, Processes

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def _refused(processes: Processes, args: tuple[str, ...], settings: dict[str, str]) -> str:
    try:
        out = processes.cli(*args, timeout=25, **settings)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`pulsecrm {' '.join(args)}` kept running on a Redis with appendonly no")
    said = out.stdout + out.stderr
    assert out.returncode == 2, f"`pulsecrm {args[0]}` exited {out.returncode}:\n{said[-3000:]}"
    assert "appendonly" in said, said[-3000:]
    return said


def test_volatile_redis_is_refused_unless_allowed(
    own_redis: Callable[..., OwnRedis], processes: Processes, tmp_path: Path
) -> None:
    redis = own_redis(appendonly=False)
    # SQLite: the check must come before anything else, and this test needs no PostgreSQL.
    settings = processes.settings(f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}", redis.url)

    _refused(processes, ("serve", "--port", str(free_port())), settings)
    _refused(processes, ("worker",), settings)
    with redis.client() as r:
        assert r.dbsize() == 0, "a refused process wrote to Redis"

    allowed = settings | {"redis_allow_volatile": "true"}
    served = processes.serve(**allowed)
    worker = processes.worker(**allowed)
    ready = httpx.get(f"{served.base}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["checks"] == {"database": "ok", "redis": "ok"}, body
    persistence = body["redis_persistence"]
    assert persistence["appendonly"] == "no", body
    assert persistence["durable"] is False, body
    assert persistence["allowed_volatile"] is True, body
    assert "appendfsync" in persistence, body

    time.sleep(2)  # long enough to have refused, had it meant to
    assert worker.alive(), worker.tail()
    assert served.child.alive(), served.child.tail()
    assert worker.stop() == 0, worker.tail()


def test_durable_redis_is_reported_durable(
    own_redis: Callable[..., OwnRedis], processes: Processes, tmp_path: Path
) -> None:
    redis = own_redis(appendonly=True, appendfsync="always")
    settings = processes.settings(f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}", redis.url)
    served = processes.serve(**settings)
    body = httpx.get(f"{served.base}/readyz", timeout=10).json()
    persistence = body["redis_persistence"]
    assert (persistence["appendonly"], persistence["appendfsync"], persistence["durable"]) == (
        "yes",
        "always",
        True,
    ), body
    assert persistence["allowed_volatile"] is False, body
