"""A worker on a host without `serve`: `pulsecrm worker --metrics-port` answers `GET /metrics`
itself, to a key with the `metrics` scope only, counting what that worker wrote; SIGTERM stops
it with the worker, and a taken port is said before the worker starts."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.cli_helpers import free_port
from tests.conftest import REDIS_URL
from tests.faults.procs import Processes
from tests.test_telemetry import sample

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def _metrics(base: str, key: str) -> httpx.Response:
    return httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_a_worker_serves_its_own_metrics(
    processes: Processes, pg_database_url: str, redis_prefix: str
) -> None:
    settings = processes.settings(
        pg_database_url, REDIS_URL, redis_prefix=redis_prefix, redis_allow_volatile="true"
    )
    assert processes.cli("migrate", **settings).returncode == 0
    plain_key = processes.api_key(**settings)  # the default scopes: `metrics` is not one of them
    made = processes.cli("apikey", "create", "--name", "prom", "--scope", "metrics", **settings)
    assert made.returncode == 0, made.stdout + made.stderr
    prom_key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    worker = processes.spawn("worker", "worker", "--metrics-port", str(port), **settings)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = _metrics(base, prom_key)
            break
        except httpx.TransportError:
            assert worker.alive() and time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(0.2)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert sample(text, "pulsecrm_scrape_source_up", source="database") == 1.0
    assert sample(text, "pulsecrm_scrape_source_up", source="redis") == 1.0
    assert "pulsecrm_stream_length" in text and "pulsecrm_db_pool_connections_in_use" in text

    assert httpx.get(f"{base}/metrics", timeout=10).status_code == 401  # nobody anonymous
    lacking = _metrics(base, plain_key)
    assert lacking.status_code == 403 and "metrics" in lacking.json()["error"]["message"]
    assert _metrics(base, "pk_forged").status_code == 401
    assert httpx.get(f"{base}/api/v1/customers", timeout=10).status_code == 404  # /metrics only

    assert worker.stop() == 0  # SIGTERM stops the server with the worker, promptly
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the metrics port outlived the worker"


def test_a_taken_metrics_port_is_said_before_the_worker_starts(
    processes: Processes, pg_database_url: str, redis_prefix: str
) -> None:
    settings = processes.settings(
        pg_database_url, REDIS_URL, redis_prefix=redis_prefix, redis_allow_volatile="true"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = processes.cli("worker", "--metrics-port", str(port), timeout=60, **settings)
    assert ran.returncode == 3, ran.stdout + ran.stderr
    assert f"Port {port} on 127.0.0.1 is taken" in ran.stdout
    assert f"pulsecrm worker --metrics-port {port + 1}" in ran.stdout
