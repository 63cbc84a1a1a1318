"""Helpers for the bench scripts: a fresh scratch database, child processes, a private Redis, a
throwaway PostgreSQL cluster, and a steady HTTP poster. (The older bench scripts keep their own
copies.)

Every process is started in its own process group, with a parent-death signal, so it dies with
the script even if the script itself is killed; `Procs.stop_all()` in a `finally` stops the rest.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import redis.asyncio as aioredis

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def fresh_database(name: str, pulsecrm: str, env: dict[str, str]) -> None:
    """Drop and create `name` on the shared PostgreSQL, then `pulsecrm migrate` it under `env`."""
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    subprocess.run([pulsecrm, "migrate"], env=env, check=True, capture_output=True)


async def copy_connection(url: str) -> asyncpg.Connection:
    """A connection that COPYs jsonb columns given as JSON text."""
    conn = await asyncpg.connect(url)
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda t: b"\x01" + t.encode(),
        decoder=lambda b: b[1:].decode(),
        schema="pg_catalog",
        format="binary",
    )
    return conn


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- processes ----------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
try:
    _prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    # Runs in the child between fork and exec (after any setuid, which would clear it).
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Procs:
    """Processes this script started; each in its own process group, stopped by id."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        args: list[str],
        logfile: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        user: str | None = None,
    ) -> subprocess.Popen[bytes]:
        fh = open(logfile, "ab")  # noqa: SIM115
        try:
            p = subprocess.Popen(
                args,
                env=env,
                cwd=cwd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                preexec_fn=_die_with_parent,
            )
        finally:
            fh.close()
        self.procs.append(p)
        return p

    def kill9(self, p: subprocess.Popen[bytes]) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
        if p in self.procs:
            self.procs.remove(p)

    def stop(self, p: subprocess.Popen[bytes], timeout: float = 15, sig: int = signal.SIGTERM) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self) -> None:
        for p in list(reversed(self.procs)):
            self.stop(p)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's PULSECRM_ settings, plus `extra`.

    SMS quiet hours are off: their default (21:00-09:00 store time) would hold every SMS
    campaign a bench launches in the evening, and a bench measures throughput at any hour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSECRM_")}
    env["PULSECRM_SMS_QUIET_HOURS"] = ""
    env.update(extra)
    return env


def base_env(venv_bin: Path, **extra: str | None) -> dict[str, str]:
    env = clean_env()
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    env["PULSECRM_LOG_LEVEL"] = "INFO"
    for k, v in extra.items():
        if v is not None:
            env[k] = v
    return env


def run_cli(pulsecrm: str, args: list[str], env: dict[str, str], cwd: str) -> str:
    r = subprocess.run([pulsecrm, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"pulsecrm {' '.join(args)} failed: {r.stdout}\n{r.stderr}")
    return r.stdout


def create_key(pulsecrm: str, env: dict[str, str], cwd: str) -> str:
    """`pulsecrm apikey create` prints a message, then the secret alone on the last line."""
    out = run_cli(pulsecrm, ["apikey", "create", "--name", "bench"], env, cwd)
    return out.strip().splitlines()[-1].strip()


async def wait_health(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def count_in_log(path: Path, *needles: str) -> dict[str, int]:
    text = path.read_text(errors="replace") if path.exists() else ""
    return {n: text.count(n) for n in needles}


# --- a private Redis ----------------------------------------------------------------------------


class RedisServer:
    """`redis-server` as a child on its own port and directory (never the shared one)."""

    def __init__(self, procs: Procs, logfile: Path, *, aof: bool, port: int | None = None) -> None:
        self.procs = procs
        self.logfile = logfile
        self.aof = aof
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir: Path | None = None
        self.dirs: list[Path] = []

    def start(self, *, fresh: bool) -> None:
        """Start on the same port; `fresh` = a new empty directory (restarted empty)."""
        if fresh or self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-redis-"))
            self.dirs.append(self.dir)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--save", "", "--daemonize", "no"]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else ["--appendonly", "no"]
        self.proc = self.procs.start(args, self.logfile)

    def kill9(self) -> None:
        if self.proc is not None:
            self.procs.kill9(self.proc)
            self.proc = None

    async def wait_ping(self, timeout: float) -> float | None:
        """perf_counter when PING is first answered, or None."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}, see {self.logfile}")
            r = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
            try:
                if await r.ping():
                    return time.perf_counter()
            except (OSError, aioredis.RedisError):
                pass
            finally:
                await r.aclose()
            await asyncio.sleep(0.005)
        return None

    def close(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


# --- a throwaway PostgreSQL cluster -------------------------------------------------------------


def pg_bindir() -> Path:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        d = Path(out.stdout.strip())
        if (d / "initdb").exists():
            return d
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists():
            return d
    raise RuntimeError("initdb not found (pg_config --bindir, /usr/lib/postgresql/*/bin)")


class PgCluster:
    """initdb into a temp dir as `postgres`, run the postmaster as our child on its own port.

    The postmaster runs in the foreground (not `pg_ctl start`), so it is our child and dies with
    the script; a crash is `pg_ctl -m immediate stop`, a return is starting it again.
    """

    USER = "postgres"

    def __init__(self, procs: Procs, logfile: Path) -> None:
        self.procs = procs
        self.logfile = logfile
        self.bindir = pg_bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pulsecrm-bench-pg-"))
        pw = pwd.getpwnam(self.USER)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.proc: subprocess.Popen[bytes] | None = None

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def _as_postgres(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, user=self.USER, group=self.USER, cwd=self.dir, capture_output=True, text=True, timeout=120
        )

    def initdb(self) -> None:
        r = self._as_postgres(
            [str(self.bindir / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync"]
        )
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout}\n{r.stderr}")

    def start(self) -> None:
        args = [str(self.bindir / "postgres"), "-D", str(self.dir), "-p", str(self.port), "-k", str(self.dir)]
        args += ["-c", "listen_addresses=127.0.0.1"]
        self.proc = self.procs.start(
            args,
            self.logfile,
            cwd=str(self.dir),
            user=self.USER,
        )

    def stop_immediate(self) -> None:
        """A crash: `pg_ctl -m immediate stop` (SIGQUIT to the postmaster), then reap it."""
        r = self._as_postgres(
            [str(self.bindir / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"]
        )
        if self.proc is not None:
            if r.returncode != 0:
                log(f"pg_ctl stop failed ({r.stderr.strip()}); SIGQUIT to the postmaster")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGQUIT)
            self.proc.wait(30)
            self.procs.stop(self.proc)
            self.proc = None

    async def wait_ready(self, timeout: float, db: str = "postgres") -> float | None:
        """perf_counter when a connection is first accepted, or None."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}, see {self.logfile}")
            try:
                conn = await asyncpg.connect(self.dsn(db), timeout=1)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.02)
                continue
            t = time.perf_counter()
            await conn.close()
            return t
        return None

    def close(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc, sig=signal.SIGINT)  # fast shutdown
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


# --- a steady client ----------------------------------------------------------------------------


@dataclass
class Post:
    t_send: float
    t_reply: float
    status: int | str  # HTTP status, or the exception's type name
    first_seq: int
    n: int


@dataclass
class Poster:
    """POSTs batches of `batch` records at `rate` records/s (open loop, at most `concurrency` in flight).

    Record i has external_id f"{tag}-{i:09d}"; every reply is kept, so what was acknowledged
    (202) can be compared with what was written.
    """

    base: str
    key: str
    path: str
    tag: str
    make_record: Callable[[str, int], dict[str, Any]]
    batch: int = 100
    rate: float = 1000.0
    concurrency: int = 8
    timeout: float = 10.0
    posts: list[Post] = field(default_factory=list)
    skipped_ticks: int = 0
    _seq: int = 0

    def ext_id(self, i: int) -> str:
        return f"{self.tag}-{i:09d}"

    async def run(self, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        interval = self.batch / self.rate
        in_flight: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(
            base_url=self.base, headers=headers, limits=limits, timeout=self.timeout
        ) as client:

            async def one(first: int) -> None:
                body = orjson.dumps(
                    [self.make_record(self.ext_id(i), i) for i in range(first, first + self.batch)]
                )
                t = time.perf_counter()
                try:
                    status: int | str = (await client.post(self.path, content=body)).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.posts.append(Post(t, time.perf_counter(), status, first, self.batch))

            next_tick = time.perf_counter()
            while not stop.is_set():
                if len(in_flight) < self.concurrency:
                    task = asyncio.ensure_future(one(self._seq))
                    self._seq += self.batch
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                else:
                    self.skipped_ticks += 1
                next_tick += interval
                delay = next_tick - time.perf_counter()
                if delay < -1:  # fell far behind (a stall): do not burst to catch up
                    next_tick = time.perf_counter()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(delay, 0))
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    # --- what happened --------------------------------------------------------------------------

    def acked(self, start: float = float("-inf"), end: float = float("inf")) -> list[str]:
        """Ids of records answered 202, for requests sent in [start, end)."""
        return [
            self.ext_id(i)
            for p in self.posts
            if p.status == 202 and start <= p.t_send < end
            for i in range(p.first_seq, p.first_seq + p.n)
        ]

    def statuses(self, start: float = float("-inf"), end: float = float("inf")) -> dict[str, int]:
        c = collections.Counter(str(p.status) for p in self.posts if start <= p.t_send < end)
        return dict(sorted(c.items()))

    def first_acked_after(self, t: float) -> Post | None:
        """The earliest-sent request sent at or after `t` that was answered 202 (so far)."""
        ok = [p for p in self.posts if p.status == 202 and p.t_send >= t]
        return min(ok, key=lambda p: p.t_send) if ok else None


async def count_written(pg: asyncpg.Connection, table: str, ids: list[str]) -> int:
    if not ids:
        return 0
    return int(await pg.fetchval(f"SELECT count(*) FROM {table} WHERE external_id = ANY($1::text[])", ids))


async def count_tagged(pg: asyncpg.Connection, table: str, tag: str) -> int:
    return int(await pg.fetchval(f"SELECT count(*) FROM {table} WHERE external_id LIKE $1", f"{tag}-%"))


# --- where the machine's CPU went ------------------------------------------------------------


def _role(pid: str) -> str | None:
    """Which part of the setup a process is, from its command line (None: not ours to count)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in argv if w]
    if not words:
        return None
    exe = Path(words[0]).name
    if exe.startswith("postgres") or words[0].startswith("postgres:"):
        return "postgresql"
    for name in ("redis-server", "haproxy", "wrk"):
        if exe.startswith(name):
            return name
    for role in ("worker", "serve", "vendor"):
        if role in words[1:3] and any("pulsecrm" in w for w in words[:2]):
            return f"pulsecrm {role}"
    return None


def cpu_ticks() -> tuple[dict[str, int], int, int]:
    """(CPU ticks used so far by role, all processes' busy ticks, ticks elapsed over all cores)."""
    by_role: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        role = _role(entry.name)
        if role is None:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime of the process and of its waited-for children (fields 14-17).
        by_role[role] = by_role.get(role, 0) + sum(int(f) for f in fields[11:15])
    cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = cpu[3] + cpu[4]  # idle + iowait
    return by_role, sum(cpu) - idle, sum(cpu)


def cpu_split(
    before: tuple[dict[str, int], int, int], after: tuple[dict[str, int], int, int]
) -> dict[str, Any]:
    """Where the CPU went between two `cpu_ticks()`, as percent of the whole machine (all cores):
    busy overall, and each role's share. Processes that came and went in between are missed
    (pass a window in which the setup's processes are all running)."""
    total = max(1, after[2] - before[2])
    roles = {
        role: round(100 * (ticks - before[0].get(role, 0)) / total, 1)
        for role, ticks in sorted(after[0].items())
        if ticks - before[0].get(role, 0) > 0
    }
    return {"machine_busy_percent": round(100 * (after[1] - before[1]) / total, 1), "by_role_percent": roles}
