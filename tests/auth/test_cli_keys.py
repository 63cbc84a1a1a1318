"""`pulsecrm apikey create|list|revoke` against the running API."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import pulsecrm
from tests.conftest import running_api


async def test_create_list_revoke(sqlite_url: str, tmp_path: Path) -> None:
    created = pulsecrm(
        "apikey",
        "create",
        "--name",
        "shop",
        "--scope",
        "ingest",
        "--scope",
        "read",
        cwd=tmp_path,
        database_url=sqlite_url,
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("pk_")

    listed = pulsecrm("apikey", "list", cwd=tmp_path, database_url=sqlite_url)
    assert "shop" in listed.stdout and secret not in listed.stdout
    assert secret[:11] in listed.stdout  # the visible prefix tells keys apart

    async with running_api(sqlite_url, api_key_cache_seconds=0) as api:
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await api.client.get("/api/v1/customers", headers=headers)).status_code == 200
        key_id = next(line.split()[1] for line in listed.stdout.splitlines() if "shop" in line)
        revoked = pulsecrm("apikey", "revoke", key_id, cwd=tmp_path, database_url=sqlite_url)
        assert revoked.returncode == 0, revoked.stdout + revoked.stderr
        assert (await api.client.get("/api/v1/customers", headers=headers)).status_code == 401

    missing = pulsecrm("apikey", "revoke", "9999", cwd=tmp_path, database_url=sqlite_url)
    assert missing.returncode == 1 and "no API key" in missing.stdout
    bad = pulsecrm(
        "apikey", "create", "--name", "x", "--scope", "root", cwd=tmp_path, database_url=sqlite_url
    )
    assert bad.returncode != 0 and "unknown scope" in bad.stdout + bad.stderr
