"""A real `pulsecrm serve --workers 2`: /metrics adds up both processes (prometheus-client's
multiprocess mode), and with PULSECRM_LOG_FORMAT=json every line is a JSON object that names
the request it belongs to."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.cli_helpers import free_port, wait_healthy
from tests.faults.procs import Processes
from tests.test_telemetry import sample

pytestmark = pytest.mark.slow


def test_two_web_processes_one_metrics_and_json_logs(processes: Processes, sqlite_url: str) -> None:
    settings = processes.settings(sqlite_url, None, log_format="json", background_work="false")
    made = processes.cli("apikey", "create", "--name", "prom", "--scope", "metrics", **settings)
    assert made.returncode == 0, made.stdout + made.stderr
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    serve = processes.spawn("serve", "serve", "--port", str(port), "--workers", "2", **settings)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, processes.logs, timeout=90)

    # New connections each time, so both processes answer some of them.
    for i in range(40):
        with httpx.Client(base_url=base, timeout=10) as client:
            r = client.get("/healthz", headers={"X-Request-ID": f"probe-{i}"})
            assert r.status_code == 200 and r.headers["x-request-id"] == f"probe-{i}"
    with httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
        text = client.get("/metrics").text
    # The 40 probes, plus any the readiness wait made: the sum over both processes.
    total = sample(text, "pulsecrm_http_requests_total", route="/healthz", status="200")
    assert total is not None and total >= 40, text[:2000]
    assert "pulsecrm_db_pool_connections_in_use" in text

    serve.stop()
    lines = [line for line in serve.log.read_text().splitlines() if line.strip()]
    parsed = [orjson.loads(line) for line in lines]  # every line is JSON, or this raises
    access = [p for p in parsed if p.get("logger") == "pulsecrm.access"]
    ids = {p["request_id"] for p in access}
    assert {f"probe-{i}" for i in range(40)} <= ids
    answered_by = {str(p["pid"]) for p in access if str(p["request_id"]).startswith("probe-")}
    assert len(answered_by) == 2, "both web processes should have answered"
    assert all(p["route"] == "/healthz" for p in access if str(p["request_id"]).startswith("probe-"))
