"""`pulsecrm run`, the README's first command: one process, embedded defaults, demo data."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli_helpers import PULSECRM, cli_env, free_port


@pytest.mark.slow
def test_run_starts_everything_and_prints_how_to_get_in(tmp_path: Path) -> None:
    port = free_port()
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
