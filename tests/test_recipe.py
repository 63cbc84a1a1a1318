"""The container recipe says what the issue asks, and goes through the one script CI runs
(.ci/recipe runs that script's install and start in a plain environment)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = {"serve", "worker", "vendor", "migrate", "doctor"}


def test_dockerfile_builds_and_starts_through_the_script_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2  # multi-stage
    assert "deploy/pulsecrm.sh install" in text
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/pulsecrm.sh", "start"\]', text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}


def test_compose_runs_the_whole_scaled_out_set() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    roles = [s["command"][0] for s in services.values() if s.get("image") == "pulsecrm:latest"]
    assert sorted(roles) == ["migrate", "serve", "serve", "vendor", "worker", "worker"]
    assert set(roles) <= ROLES
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis
    balancer = services["balancer"]
    assert any("deploy/haproxy.cfg" in v for v in balancer["volumes"])
    for name in ("api-1", "api-2"):
        assert services[name]["environment"]["PULSECRM_SESSION_SECRET"].startswith("${")


def test_ci_runs_the_script() -> None:
    assert "bash .ci/recipe" in (ROOT / ".ci" / "run").read_text()
    recipe = (ROOT / ".ci" / "recipe").read_text()
    assert '"$script" install' in recipe and '"$script" start serve' in recipe
