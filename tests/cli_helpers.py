"""Running the real `pulsecrm` command in a subprocess, with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PULSECRM = str(Path(sys.executable).parent / "pulsecrm")


def cli_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    # SMS quiet hours would make sending depend on the hour the suite runs at.
    env["PULSECRM_SMS_QUIET_HOURS"] = ""
    env.update({f"PULSECRM_{k.upper()}": v for k, v in settings.items()})
    return env


def pulsecrm(
    *args: str, cwd: Path, timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PULSECRM, *args],
        cwd=cwd,
        env=cli_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_run_port() -> int:
    """A port for `pulsecrm run` whose neighbour + 25 (the mock vendor's) is free as well."""
    while True:
        port = free_port()
        if port + 25 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 25))
            except OSError:
                continue
        return port


def wait_healthy(base: str, logs: Path, timeout: float = 60) -> None:
    """Block until `base/healthz` answers 200; fail with the tail of the processes' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs.glob("*.log"))
    raise AssertionError(f"{base} did not come up:\n{tails}")
