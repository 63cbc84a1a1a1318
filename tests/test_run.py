"""`pulsecrm run`, the README's first command: one process, embedded defaults, demo data."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli_helpers import PULSECRM, cli_env, free_run_port, pulsecrm, wait_healthy


@pytest.mark.slow
def test_run_starts_everything_and_prints_how_to_get_in(tmp_path: Path) -> None:
    port = free_run_port()
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [PULSECRM, "run", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(data_dir=str(tmp_path / "data")),
        )
    try:
        deadline = time.monotonic() + 120
        key = None
        while time.monotonic() < deadline and proc.poll() is None:
            match = re.search(r"API key:\s+(pk_\S+)", log.read_text())
            if match:
                key = match.group(1)
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        output = log.read_text()
        assert key, output
        assert f"http://127.0.0.1:{port}" in output
        headers = {"Authorization": f"Bearer {key}"}
        customers = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/customers?sort=-total_spend&limit=5", headers=headers, timeout=10
        ).json()["items"]
        assert len(customers) == 5 and float(customers[0]["total_spend"]) > 0
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/customers", timeout=5).status_code == 401
        # The printed demo account signs in to the web app.
        login = re.search(r"sign in:\s+(\S+@\S+) / (\S+)", output)
        assert login, output
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
            page = browser.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            signed_in = browser.post(
                "/login",
                data={"csrf_token": token.group(1), "email": login.group(1), "password": login.group(2)},
            )
            assert signed_in.status_code == 303
            assert "3,000" in browser.get("/").text
        # The demo campaign settles on its own: in-process sending, the mock vendor, receipts.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as api:
            body = {
                "name": "Demo",
                "message": "Hi {{ first_name }}!",
                "rules": {"op": "and", "rules": [{"field": "city", "cmp": "eq", "value": "pune"}]},
            }
            cid = api.post("/api/v1/campaigns", json=body).json()["id"]
            audience = api.post(f"/api/v1/campaigns/{cid}/launch").json()["stats"]["audience"]
            assert audience > 100
            deadline = time.monotonic() + 60
            while api.get(f"/api/v1/campaigns/{cid}").json()["status"] != "completed":
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            stats = api.get(f"/api/v1/campaigns/{cid}").json()["stats"]
            assert stats["delivered"] + stats["failed"] == audience
            assert 0.75 < stats["delivery_rate"] < 1.0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (tmp_path / "data" / "pulsecrm.db").exists()
    assert "loaded demo data: 3000 customers" in output


def _children(pid: int) -> list[int]:
    from tests.conftest import _descendants

    return [child for child, _ in _descendants(pid)]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_run_and_every_process_it_started(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_run_port()
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [PULSECRM, "run", "--no-demo", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(data_dir=str(tmp_path / "data")),
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", tmp_path)
        wait_healthy(f"http://127.0.0.1:{port + 25}", tmp_path)  # the mock vendor
        children = _children(proc.pid)
        assert children, log.read_text()
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not alive, f"still running after {sig.name}: {alive}\n{log.read_text()}"
    # The ports are free again for the next start.
    for p in (port, port + 25):
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


@pytest.mark.slow
def test_a_taken_port_is_named_with_a_way_out(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = pulsecrm("run", "--no-demo", "--port", str(port), cwd=tmp_path, data_dir=str(tmp_path / "d"))
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert f"Port {port} on 127.0.0.1 is taken" in output
    assert f"pulsecrm run --port {port + 1}" in output
    assert "running at" not in output and "Traceback" not in output
