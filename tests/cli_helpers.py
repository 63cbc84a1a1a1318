"""Running the real `pulsecrm` command in a subprocess, with a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

PULSECRM = str(Path(sys.executable).parent / "pulsecrm")


def cli_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
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
