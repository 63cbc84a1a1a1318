"""Real processes for the fault tests: a Redis and a PostgreSQL cluster of the test's own, and
the `pulsecrm` serve and worker commands, each a child of the test that the test stops.

Nothing here touches the shared services: every Redis listens on a free loopback port with a
data directory under the test's tmp_path, every PostgreSQL cluster lives in a temp directory
owned by the `postgres` user (initdb refuses root) and is destroyed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis
import sqlalchemy as sa

from tests.cli_helpers import PULSECRM, cli_env, free_port, wait_healthy

T = TypeVar("T")
WEBHOOK_SECRET = "faults-webhook-secret"
# PR_SET_PDEATHSIG: a child started from the test's (main) thread gets SIGKILL if the test
# process dies first, so no Redis or worker outlives an interrupted run.
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian keeps them off PATH."""
    for candidate in (shutil.which("pg_ctl"), shutil.which("initdb")):
        if candidate:
            return Path(candidate).resolve().parent
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").is_file():
            return Path(out.stdout.strip())
    for path in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (path / "initdb").is_file():
            return path
    return None


def can_run_as_postgres() -> str | None:
    """None when initdb can run here (as `postgres`), else why not."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no `postgres` user to run initdb as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "initdb must run as `postgres`, and this is neither root nor postgres"
    if os.geteuid() == 0 and not (shutil.which("runuser") or shutil.which("su")):
        return "neither runuser nor su is installed"
    return None


# --- one child process ---------------------------------------------------------------------


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return f"--- {self.log.name} (exit {self.popen.poll()})\n{text[-chars:]}"

    def kill(self) -> None:
        """SIGKILL and reap: a crash."""
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, SIGKILL if it outlives `timeout`; returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGCONT)  # in case a test left it stopped
            self.popen.terminate()
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=10)


def spawn(name: str, argv: list[str], *, log: Path, cwd: Path, env: dict[str, str] | None = None) -> Child:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(  # prctl only, in the child
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env, preexec_fn=_die_with_parent
        )
    return Child(name, popen, log)


# --- Redis -----------------------------------------------------------------------------------


class OwnRedis:
    """A redis-server of the test's own on a free loopback port, restartable on the same dir."""

    def __init__(self, root: Path, *, appendonly: bool, appendfsync: str = "everysec") -> None:
        self.root = root
        self.dir = root / "redis-data"
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.port = free_port()
        self.child: Child | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> None:
        assert self.child is None or not self.child.alive(), "already running"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.child = spawn(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                self.appendfsync,
            ],
            log=self.root / "logs" / f"redis-{self.starts}.log",
            cwd=self.root,
        )
        deadline = time.monotonic() + 15
        while True:
            assert self.child.alive(), f"redis-server exited:\n{self.child.tail()}"
            try:
                with self.client() as c:
                    c.ping()
                return
            except redis.exceptions.BusyLoadingError:
                pass  # replaying its AOF
            except redis.exceptions.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"redis-server did not answer:\n{self.child.tail()}"
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.child is not None
        self.child.kill()

    def wipe(self) -> None:
        """Forget everything on disk: the next start is an empty Redis."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        if self.child is not None:
            self.child.kill()  # nothing to keep: the test is over


# --- PostgreSQL ------------------------------------------------------------------------------


class OwnPostgres:
    """A throwaway PostgreSQL cluster: initdb in a temp dir owned by `postgres`, its own port,
    listening on loopback only. `crash()` is an immediate stop (no shutdown checkpoint)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="pulsecrm-faults-pg-"))
        postgres = pwd.getpwnam("postgres")
        os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            argv = (
                [runuser, "-u", "postgres", "--", *argv]
                if runuser
                else ["su", "postgres", "-s", "/bin/sh", "-c", subprocess.list2cmdline(argv)]
            )
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )
        assert result.returncode == 0, f"{args[0]} {args[1:]} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        # fsync off: a process crash keeps what the OS was handed; only a power loss would not.
        # synchronous_commit stays on, so a commit has reached the OS before it is answered.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c shared_buffers=32MB -c max_connections=40"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
        )

    def crash(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            if self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- the app ---------------------------------------------------------------------------------


@dataclass
class Served:
    child: Child
    base: str


class Processes:
    """The `pulsecrm` processes of one test, each stopped at teardown (latest first)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"
        self.cwd = root / "cwd"  # of its own, so no stray `.env` is read
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []

    @staticmethod
    def settings(database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
        base = {
            "database_url": database_url,
            "redis_url": redis_url or "",
            "webhook_secret": WEBHOOK_SECRET,
            "session_secret": "faults-session-secret",
            "database_pool_size": "3",
            "log_level": "INFO",
        }
        return base | extra

    def cli(self, *args: str, timeout: float = 120, **settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PULSECRM, *args],
            cwd=self.cwd,
            env=cli_env(**settings),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def api_key(self, **settings: str) -> str:
        """`pulsecrm apikey create`: the secret is the last line it prints."""
        out = self.cli("apikey", "create", "--name", "faults", **settings)
        assert out.returncode == 0, out.stdout + out.stderr
        secret = out.stdout.strip().splitlines()[-1].strip()
        assert secret.startswith("pk_"), out.stdout
        return secret

    def spawn(self, name: str, *args: str, **settings: str) -> Child:
        n = sum(c.name == name for c in self.children) + 1
        child = spawn(
            name, [PULSECRM, *args], log=self.logs / f"{name}-{n}.log", cwd=self.cwd, env=cli_env(**settings)
        )
        self.children.append(child)
        return child

    def serve(self, **settings: str) -> Served:
        port = free_port()
        child = self.spawn("serve", "serve", "--port", str(port), **settings)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, self.logs, timeout=60)
        except AssertionError:
            raise AssertionError(f"serve did not come up:\n{child.tail()}") from None
        return Served(child, base)

    def worker(self, **settings: str) -> Child:
        """Start a worker and wait until it consumes: its consumer group exists on the ingest
        stream (it installs its SIGTERM handler before that, so a stop is clean from then on)."""
        child = self.spawn("worker", "worker", **settings)
        stream = f"{settings.get('redis_prefix', 'pulsecrm:')}ingest"
        deadline = time.monotonic() + 60
        with redis.Redis.from_url(settings["redis_url"], socket_timeout=5) as r:
            while True:
                assert child.alive(), f"the worker exited:\n{child.tail()}"
                with contextlib.suppress(redis.exceptions.RedisError):
                    if r.exists(stream) and any(g["name"] == b"writers" for g in r.xinfo_groups(stream)):
                        return child
                assert time.monotonic() < deadline, f"the worker did not start consuming:\n{child.tail()}"
                time.sleep(0.1)

    def tails(self) -> str:
        return "\n".join(c.tail() for c in self.children)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


# --- asking things ---------------------------------------------------------------------------


def plain_dsn(database_url: str) -> str:
    return sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_fetch(database_url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(database_url), timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def pg_execute(database_url: str, sql: str, *args: Any) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(database_url), timeout=10)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def stored_ids(database_url: str, table: str, prefix: str) -> set[str]:
    assert table in {"customers", "orders"}
    rows = await pg_fetch(
        database_url, f"SELECT external_id FROM {table} WHERE starts_with(external_id, $1)", prefix
    )
    return {r[0] for r in rows}


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within: float, interval: float = 0.25
) -> tuple[T, float | None]:
    """Poll `probe` until `done(value)`; returns the last value and the seconds it took (None
    when it never held within `within` seconds)."""
    start = time.monotonic()
    while True:
        value = await probe()
        if done(value):
            return value, time.monotonic() - start
        if time.monotonic() - start > within:
            return value, None
        await asyncio.sleep(interval)


def count_lines(path: Path, pattern: str) -> int:
    regex = re.compile(pattern, re.IGNORECASE)
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(errors="replace").splitlines() if regex.search(line))


def matching_lines(path: Path, pattern: str, limit: int = 15) -> list[str]:
    regex = re.compile(pattern, re.IGNORECASE)
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line[:300] for line in lines if regex.search(line)][:limit]


# --- a client that keeps ingesting -----------------------------------------------------------


@dataclass
class Call:
    started: float  # monotonic
    status: int | None  # None: no HTTP answer (transport error)
    retry_after: str | None
    kind: str
    ids: list[str]
    detail: str = ""


@dataclass
class Loader:
    """POSTs batches of new customers and orders, one after another, and remembers each answer."""

    client: httpx.AsyncClient
    tag: str
    batch: int = 50
    pause: float = 0.02
    calls: list[Call] = field(default_factory=list)
    _n: int = 0

    def _batch(self, kind: str) -> tuple[list[str], list[dict[str, Any]]]:
        ids, records = [], []
        for _ in range(self.batch):
            self._n += 1
            if kind == "customers":
                ids.append(f"{self.tag}-c{self._n:07d}")
                records.append({"external_id": ids[-1], "name": f"Fault {self._n}"})
            else:
                ids.append(f"{self.tag}-o{self._n:07d}")
                records.append(
                    {
                        "external_id": ids[-1],
                        "customer_external_id": f"{self.tag}-c{self._n % 97:07d}",
                        "amount": "12.50",
                        "ordered_at": "2026-11-01T10:00:00+05:30",
                    }
                )
        return ids, records

    async def post_once(self, kind: str) -> Call:
        ids, records = self._batch(kind)
        started = time.monotonic()
        try:
            r = await self.client.post(f"/api/v1/{kind}", json=records)
            call = Call(
                started,
                r.status_code,
                r.headers.get("retry-after"),
                kind,
                ids,
                "" if r.is_success else r.text,
            )
        except httpx.HTTPError as exc:
            call = Call(started, None, None, kind, ids, f"{type(exc).__name__}: {exc}")
        self.calls.append(call)
        return call

    async def run(self, stop: asyncio.Event) -> None:
        kinds = ("customers", "orders")
        i = 0
        while not stop.is_set():
            await self.post_once(kinds[i % 2])
            i += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pause)

    def accepted(self, kind: str) -> set[str]:
        return {i for c in self.calls if c.kind == kind and c.status == 202 for i in c.ids}

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[int | None]:
        return Counter(c.status for c in self.calls if since <= c.started < until)

    def unexpected(self, allowed: set[int]) -> list[Call]:
        return [c for c in self.calls if c.status not in allowed]
