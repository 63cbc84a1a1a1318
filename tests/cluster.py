"""The balanced setup of the scale-out test and bench/scaleout.py: N `pulsecrm serve` behind
HAProxy (Debian's package; `.ci/run` installs it), M `pulsecrm worker`, the mock vendor, a
Redis with AOF of the test's own, and a database on the given PostgreSQL. Every process is a
child of the caller, on free loopback ports, and is stopped by `stop()`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from tests.cli_helpers import free_port, wait_healthy
from tests.faults.procs import WEBHOOK_SECRET, Child, OwnRedis, Processes, Served, spawn

HAPROXY_CONFIG = Path(__file__).parent.parent / "deploy" / "haproxy.cfg"


def haproxy_config(port: int, servers: list[str]) -> str:
    """deploy/haproxy.cfg (the compose recipe's), on a loopback port with our servers, checked
    more often so a killed process leaves the rotation within a second."""
    lines = []
    for line in HAPROXY_CONFIG.read_text().splitlines():
        if line.strip().startswith("bind "):
            line = f"    bind 127.0.0.1:{port}"
        elif line.strip().startswith("server "):
            continue
        lines.append(line)
    lines += [f"    server s{i + 1} {where} check inter 300 fall 2 rise 2" for i, where in enumerate(servers)]
    return "\n".join(lines) + "\n"


class Cluster:
    def __init__(self, root: Path, database_url: str, **settings: str) -> None:
        self.root = root
        self.database_url = database_url
        self.procs = Processes(root)
        self.redis = OwnRedis(root / "redis", appendonly=True, appendfsync="everysec")
        self.extra = settings
        self.apis: list[Served] = []
        self.workers: list[Child] = []
        self.vendor: Child | None = None
        self.balancer: Child | None = None
        self.port = free_port()
        self.vendor_port = free_port()
        self.vendor_log = root / "vendor-keys.ndjson"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def vendor_url(self) -> str:
        return f"http://127.0.0.1:{self.vendor_port}"

    def settings(self) -> dict[str, str]:
        return self.procs.settings(
            self.database_url, self.redis.url, vendor_url=self.vendor_url, **self.extra
        )

    def start(self, *, apis: int = 2, workers: int = 2) -> None:
        self.redis.start()
        self.vendor = self.procs.spawn(
            "vendor",
            "vendor",
            "--port",
            str(self.vendor_port),
            webhook_secret=WEBHOOK_SECRET,
            vendor_webhook_url=f"{self.base}/api/v1/receipts",
            vendor_log_path=str(self.vendor_log),
            vendor_seed="16",
        )
        wait_healthy(self.vendor_url, self.procs.logs)
        self.apis = [self.procs.serve(**self.settings()) for _ in range(apis)]
        self.start_balancer()
        for _ in range(workers):
            self.add_worker()

    def add_worker(self) -> Child:
        worker = self.procs.worker(**self.settings())
        self.workers.append(worker)
        return worker

    def start_balancer(self) -> None:
        haproxy = shutil.which("haproxy")
        assert haproxy, "haproxy is not installed"
        config = self.root / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, [api.base.removeprefix("http://") for api in self.apis]))
        self.balancer = spawn(
            "haproxy", [haproxy, "-db", "-f", str(config)], log=self.procs.logs / "haproxy.log", cwd=self.root
        )
        self.procs.children.append(self.balancer)
        deadline = time.monotonic() + 30
        while True:
            assert self.balancer.alive(), self.balancer.tail()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"HAProxy did not answer:\n{self.balancer.tail()}"
            time.sleep(0.1)

    def api_key(self, *scopes: str) -> str:
        args = [a for s in scopes for a in ("--scope", s)]
        out = self.procs.cli("apikey", "create", "--name", "cluster", *args, **self.settings())
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout.strip().splitlines()[-1].strip()

    def stop(self) -> None:
        try:
            self.procs.stop_all()
        finally:
            self.redis.stop()
