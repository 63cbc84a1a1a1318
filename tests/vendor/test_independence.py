"""The mock vendor is a separate program in spirit: it speaks only the documented wire format.

It imports nothing of Pulse's outside `pulsecrm.vendor` (so it could be swapped for a real
provider's sandbox), and what it sends is what Pulse's receipts webhook accepts: its own
schema and its own signing, checked against the real webhook.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

import pulsecrm.vendor
from pulsecrm.delivery import receipts as pulse_receipts
from pulsecrm.delivery.models import ParkedReceipt
from pulsecrm.vendor import receipts as vendor_receipts
from tests.conftest import WEBHOOK_SECRET, running_api
from tests.vendor.test_vendor import msg, serve, vendor

VENDOR_DIR = Path(pulsecrm.vendor.__file__).parent


def _outside_imports(path: Path) -> list[str]:
    """Every `pulsecrm…` module a file imports, anywhere in it, that is not the vendor's own."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return [
        n
        for n in names
        if n.split(".")[0] == "pulsecrm"
        and n not in ("pulsecrm", "pulsecrm.vendor")
        and not n.startswith("pulsecrm.vendor.")
    ]


def test_no_vendor_module_imports_pulse_code() -> None:
    files = sorted(VENDOR_DIR.glob("*.py"))
    assert len(files) >= 5
    assert {str(f.name): _outside_imports(f) for f in files} == {str(f.name): [] for f in files}


def test_the_running_vendor_loads_no_pulse_module() -> None:
    # A fresh interpreter, so nothing this test process imported counts.
    code = (
        "import sys\n"
        "from pulsecrm.vendor.app import create_app\n"
        "from pulsecrm.vendor.config import VendorSettings\n"
        "create_app(VendorSettings(_env_file=None, webhook_secret='s'))\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('pulsecrm'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=VENDOR_DIR
    ).stdout.split()
    assert "pulsecrm.vendor.app" in out
    assert [m for m in out if m != "pulsecrm" and not m.startswith("pulsecrm.vendor")] == []


def test_the_vendors_signature_is_pulses() -> None:
    body = vendor_receipts.ReceiptBatch.model_validate(
        {
            "receipts": [
                {
                    "message_id": "vm_1",
                    "status": "failed",
                    "occurred_at": "2026-12-01T10:00:00+05:30",
                    "reason": "unknown mailbox",
                }
            ]
        }
    ).body()
    header = vendor_receipts.sign("k", body)
    pulse_receipts.verify("k", header, body)  # raises if Pulse disagrees
    parsed = pulse_receipts.ReceiptBatch.model_validate_json(body)
    assert parsed.receipts[0].reason == "unknown mailbox"
    assert header == pulse_receipts.sign("k", body, int(header.split(",")[0][2:]))


async def test_receipts_from_the_vendor_are_taken_by_pulses_real_webhook(sqlite_url: str) -> None:
    """Vendor and Pulse over real HTTP: every receipt the vendor sends is signed and shaped so the
    webhook takes it (it parks them: Pulse never sent these messages)."""
    async with running_api(sqlite_url) as api, serve(api.app) as base:
        webhook = f"{base}/api/v1/receipts"
        async with vendor(webhook_url=webhook, webhook_secret=WEBHOOK_SECRET, success_rate=0.5) as client:
            sent = await client.post(
                "/v1/messages/batch",
                json={"messages": [msg(f"k{i}", channel="email" if i % 2 else "sms") for i in range(40)]},
            )
            ids = {r["message_id"] for r in sent.json()["results"]}
            deadline = time.monotonic() + 20
            while (await client.get("/v1/stats")).json()["receipts_sent"] < 40:
                assert time.monotonic() < deadline, "the webhook did not take the receipts"
                await asyncio.sleep(0.05)
        async with api.services.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(ParkedReceipt.message_id, ParkedReceipt.status, ParkedReceipt.reason)
                )
            ).all()
    assert {r.message_id for r in rows} == ids
    statuses = {r.status for r in rows}
    assert statuses == {"delivered", "failed"}
    assert all((r.reason is None) == (r.status == "delivered") for r in rows), json.dumps([*map(tuple, rows)])
