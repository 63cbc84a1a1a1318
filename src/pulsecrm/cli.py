"""The `pulsecrm` command: serve, worker, run, migrate, apikey, user, import."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from pulsecrm import logs
from pulsecrm.auth import service as auth_service
from pulsecrm.config import Settings, get_settings
from pulsecrm.db import Database
from pulsecrm.db import migrate as run_migrations
from pulsecrm.ingest.writer import Kind

if TYPE_CHECKING:
    from pulsecrm.services import Services

app = typer.Typer(help="Pulse CRM.", no_args_is_help=True, add_completion=False)
apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Local user accounts.", no_args_is_help=True)
import_app = typer.Typer(help="Import customers or orders from a CSV or NDJSON file.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")
console = Console(soft_wrap=True)  # printed commands must stay copy-pastable


def _logging(settings: Settings) -> dict[str, Any]:
    return logs.configure(settings.log_format, settings.log_level)


def _metrics_dir(settings: Settings, processes: int) -> None:
    """Choose prometheus-client's multiprocess directory before anything imports it: the
    configured one (shared by every pulsecrm process of this host), or for `serve --workers N`
    a fresh one of its own, removed at exit."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = settings.metrics_dir
    if directory is None:
        if processes <= 1:
            return
        directory = Path(tempfile.mkdtemp(prefix="pulsecrm-metrics-"))
        atexit.register(shutil.rmtree, directory, True)
    directory.mkdir(parents=True, exist_ok=True)
    if "pulsecrm.metrics" in sys.modules:  # imported too early: it would keep single-process storage
        raise RuntimeError("pulsecrm.metrics was imported before its multiprocess directory was set")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _db(settings: Settings) -> Database:
    return Database(settings.effective_database_url, pool_size=2)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = get_settings()
    run_migrations(settings.effective_database_url)
    console.print("[green]database is up to date[/]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
) -> None:
    """Run the web app and API (migrating first)."""
    import uvicorn

    settings = get_settings()
    log_config = _logging(settings)
    _metrics_dir(settings, workers)
    _check_redis(settings)
    run_migrations(settings.effective_database_url)
    uvicorn.run(
        "pulsecrm.app:create_served_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Our logging in every worker process; uvicorn's own chatter only from warnings up.
        log_config=log_config,
        log_level="warning",
        access_log=False,  # RequestTelemetry writes the one line per request, with its id
    )


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Serve its own /metrics on this port (PULSECRM_WORKER_METRICS_PORT)."
        ),
    ] = None,
) -> None:
    """Run background work: ingestion, receipts and campaign sending (needs PULSECRM_REDIS_URL)."""
    settings = get_settings()
    if metrics_port is not None:
        settings = settings.model_copy(update={"worker_metrics_port": metrics_port})
    if not settings.redis_url:
        console.print(
            "[red]pulsecrm worker needs PULSECRM_REDIS_URL.[/] Without Redis, "
            "`pulsecrm serve` does the background work itself."
        )
        raise typer.Exit(2)
    _logging(settings)
    _metrics_dir(settings, 1)
    _check_redis(settings)
    listening = None
    if settings.worker_metrics_port is not None:
        listening = _claim_port(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            what="this worker's /metrics",
            retry="pulsecrm worker --metrics-port",
        )
    asyncio.run(_worker(settings, listening))


def _check_redis(settings: Settings) -> None:
    """In stream mode, refuse a Redis that would lose acknowledged records, unless allowed."""
    if not settings.redis_url:
        return
    from pulsecrm import broker
    from pulsecrm.failures import Failure, classify, describe

    async def check() -> None:
        assert settings.redis_url is not None
        redis = broker.connect(settings.redis_url)
        try:
            await broker.persistence(redis, allow_volatile=settings.redis_allow_volatile)
        finally:
            await redis.aclose()

    try:
        asyncio.run(check())
    except broker.VolatileRedis as exc:
        console.print(f"[red]Refusing to start in stream mode.[/] {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:
        if classify(exc) is not Failure.OUTAGE:
            raise
        # Not up yet: start anyway and wait for it; its persistence is read once it answers.
        console.print(f"[yellow]Redis does not answer yet ({describe(exc)}); starting anyway.[/]")


async def _worker(settings: Settings, metrics_socket: socket.socket | None = None) -> None:
    from pulsecrm.services import Services

    services = Services.start(settings)
    from pulsecrm import heap

    heap.settle()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from pulsecrm.delivery.dispatcher import Dispatcher

    ingest, receipts = services.ingestor.consumer(), services.receipts.consumer()
    for name, stream in ((ingest.name, ingest.stream), (receipts.name, receipts.stream)):
        logging.getLogger("pulsecrm.worker").info("worker %s consuming %s", name, stream)
    from pulsecrm.outcomes.runner import Attributor

    dispatcher = Dispatcher.build(services.db, settings, services.redis)
    attributor = Attributor(services.db, settings)
    work = [ingest.run(stop), receipts.run(stop), dispatcher.run(stop), attributor.run(stop)]
    if metrics_socket is not None:
        work.append(_serve_metrics(services, metrics_socket, stop))
    try:
        await asyncio.gather(*work)
    finally:
        await dispatcher.close()
        await services.close()
        from pulsecrm import metrics

        metrics.process_exited()


async def _serve_metrics(services: Services, sock: socket.socket, stop: asyncio.Event) -> None:
    """The worker's own `GET /metrics` on `sock` (already bound, so a taken port was said before
    anything started), until `stop`."""
    import uvicorn

    from pulsecrm.app import create_metrics_app

    config = uvicorn.Config(
        create_metrics_app(services),
        lifespan="off",  # the worker owns the services; this server only reads them
        log_config=None,
        access_log=False,
    )

    class SignalsLeftAlone(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The worker handles SIGINT and SIGTERM itself and stops this server with the rest;
            # uvicorn's own handlers would replace the worker's.
            yield

    server = SignalsLeftAlone(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving  # its error, if it failed, stops the worker rather than going unseen


@app.command()
def run(
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not load demo data.")] = False,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Everything on the embedded defaults: API, background work and the mock vendor; demo data
    on first start."""
    import subprocess
    import sys

    import uvicorn

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    port = port or settings.port
    vendor_port = port + 25
    # Both ports are claimed before anything is printed or started: a taken port is a clear
    # message, not "running at …" followed by a traceback.
    web_socket = _claim_port(settings.host, port, what="the web app")
    _claim_port("127.0.0.1", vendor_port, what="the mock vendor (the web app's port + 25)").close()
    # The webhook secret, like the demo key, is made once and kept in the data directory.
    if settings.webhook_secret is None:
        os.environ["PULSECRM_WEBHOOK_SECRET"] = _kept_secret(settings.data_dir / "webhook-secret")
    if settings.session_secret is None:
        # Kept, so a restart does not sign everyone out.
        os.environ["PULSECRM_SESSION_SECRET"] = _kept_secret(settings.data_dir / "session-secret")
    os.environ.setdefault("PULSECRM_VENDOR_URL", f"http://127.0.0.1:{vendor_port}")
    get_settings.cache_clear()  # the app factory reads settings again, with the values above
    settings = get_settings()
    run_migrations(settings.effective_database_url)
    key, password = asyncio.run(_prepare_embedded(settings, demo=not no_demo))
    url = f"http://{settings.host}:{port}"
    vendor_env = os.environ | {
        "PULSECRM_VENDOR_PORT": str(vendor_port),
        "PULSECRM_VENDOR_WEBHOOK_URL": f"{url}/api/v1/receipts",
    }
    # uvicorn stops on SIGINT/SIGTERM and then raises the same signal again; with the default
    # handler that kills this process before the `finally` below stops the vendor. A handler
    # that exits normally lets it run.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_on_signal)
    vendor = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "pulsecrm", "vendor", "--port", str(vendor_port)], env=vendor_env
    )
    try:
        console.print(f"\n[bold]Pulse CRM[/] is running at [link={url}]{url}[/]")
        if settings.oidc_issuer:
            console.print(f"  sign in:   with single sign-on ({settings.oidc_issuer})")
        else:
            console.print(f"  sign in:   {DEMO_EMAIL} / {password}")
        console.print(f"  API docs:  {url}/docs")
        console.print(f"  API key:   {key}")
        console.print(f"  try:       curl -H 'Authorization: Bearer {key}' {url}/api/v1/customers?limit=3")
        console.print(f"  vendor:    mock SMS/e-mail vendor at http://127.0.0.1:{vendor_port}")
        console.print(f"  data:      {settings.effective_database_url}")
        console.print("  Stop with Ctrl+C.\n")
        config = uvicorn.Config(
            "pulsecrm.app:create_served_app", factory=True, log_level="warning", access_log=False
        )
        uvicorn.Server(config).run(sockets=[web_socket])
    finally:
        vendor.terminate()
        try:
            vendor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            vendor.kill()
            vendor.wait()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


PORT_TAKEN = 3  # exit status of `run` when a port it needs is in use


def _claim_port(host: str, port: int, *, what: str, retry: str = "pulsecrm run --port") -> socket.socket:
    """A listening socket on host:port, or a clear message and exit status PORT_TAKEN."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        console.print(
            f"[red]Port {port} on {host} is taken[/] ({exc.strerror}); it is needed for {what}.\n"
            f"Stop whatever uses it, or start on other ports: [bold]{retry} {port + 1}[/]"
        )
        raise typer.Exit(PORT_TAKEN) from None
    sock.listen(2048)
    return sock


def _kept_secret(path: Path) -> str:
    import secrets

    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_hex(32)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


DEMO_EMAIL = "demo@pulsecrm.dev"


async def _prepare_embedded(settings: Settings, *, demo: bool) -> tuple[str, str]:
    """The demo API key and the demo account's password, made on first start and kept."""
    from pulsecrm import demo as demo_data
    from pulsecrm.auth import users
    from pulsecrm.auth.models import User
    from pulsecrm.customers.models import Customer

    db = _db(settings)
    try:
        key_file = settings.data_dir / "demo-api-key"
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            async with db.sessions() as session:
                key = (await auth_service.create_key(session, name="demo (pulsecrm run)")).secret
                await session.commit()
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
        password_file = settings.data_dir / "demo-password"
        if password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = _kept_secret(password_file)[:16]
            password_file.write_text(password + "\n")
            async with db.sessions() as session:
                if await session.scalar(sa.select(User.id).where(User.email == DEMO_EMAIL)) is None:
                    await users.create_local(
                        session, email=DEMO_EMAIL, name="Demo marketer", password=password
                    )
                await session.commit()
        async with db.sessions() as session:
            empty = (await session.scalar(sa.select(sa.func.count()).select_from(Customer))) == 0
        if demo and empty:
            with console.status("loading demo data…"):
                people, orders = await demo_data.load(
                    db, currency=settings.default_currency, consent_attributes=settings.consent_attributes
                )
            console.print(f"loaded demo data: {people} customers, {orders} orders")
        return key, password
    finally:
        await db.dispose()


@app.command()
def vendor(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the mock SMS/e-mail vendor (settings: PULSECRM_VENDOR_*, PULSECRM_WEBHOOK_SECRET)."""
    import uvicorn

    from pulsecrm.vendor.app import create_app as create_vendor_app
    from pulsecrm.vendor.config import VendorSettings

    settings = VendorSettings()
    if settings.webhook_secret is None:
        console.print("[red]pulsecrm vendor needs PULSECRM_WEBHOOK_SECRET[/] to sign the receipts it sends.")
        raise typer.Exit(2)
    log_config = _logging(get_settings())
    uvicorn.run(
        create_vendor_app(settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_config=log_config,
        log_level="warning",
        access_log=False,
    )


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service.")] = 5.0,
) -> None:
    """Check the configuration and what it points at; exit 1 if anything breaks a promise."""
    from pulsecrm import doctor as checks

    logs.configure(level="ERROR")  # the findings say it all; no warnings from the probes
    findings = asyncio.run(checks.examine(get_settings(), wait=timeout))
    if as_json:
        typer.echo(orjson.dumps(checks.as_json(findings), option=orjson.OPT_INDENT_2).decode())
    else:
        colour = {"ok": "green", "warn": "yellow", "fail": "red"}
        for f in findings:
            console.print(f"[{colour[f.level]}]{f.level:<4}[/] [bold]{f.check}[/]: {f.found}", markup=True)
            console.print(f"      {f.meaning}", markup=False, style="dim")
    failed = [f.check for f in findings if f.level == "fail"]
    if failed:
        if not as_json:
            console.print(f"[red]{len(failed)} finding(s) break a promise:[/] {', '.join(failed)}")
        raise typer.Exit(1)


# --- API keys ---------------------------------------------------------------------------------


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Repeatable; one of: {', '.join(auth_service.SCOPES)}. "
            f"Default: {', '.join(auth_service.DEFAULT_SCOPES)} (`--scope metrics` for a Prometheus key)."
        ),
    ] = None,
) -> None:
    """Create a key and print it (this is the only time it is shown)."""

    async def create() -> str:
        db = _db(get_settings())
        try:
            async with db.sessions() as session:
                new = await auth_service.create_key(session, name=name, scopes=scope or None)
                await session.commit()
                return new.secret
        finally:
            await db.dispose()

    secret = asyncio.run(create())
    console.print("[green]API key created.[/] Store it now; it will not be shown again:")
    typer.echo(secret)


@apikey_app.command("list")
def apikey_list() -> None:
    """List keys (never their secrets)."""

    async def fetch() -> list[dict[str, object]]:
        db = _db(get_settings())
        try:
            async with db.sessions() as session:
                return [auth_service.key_summary(k) for k in await auth_service.list_keys(session)]
        finally:
            await db.dispose()

    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for k in asyncio.run(fetch()):
        table.add_row(
            str(k["id"]),
            str(k["name"]),
            str(k["prefix"]),
            ",".join(k["scopes"]),  # type: ignore[arg-type]
            str(k["created_at"]),
            str(k["revoked_at"] or "-"),
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `apikey list`).")],
) -> None:
    """Revoke a key. Running servers refuse it within PULSECRM_API_KEY_CACHE_SECONDS."""

    async def revoke() -> None:
        db = _db(get_settings())
        try:
            async with db.sessions() as session:
                await auth_service.revoke_key(session, key_id=key_id)
                await session.commit()
        finally:
            await db.dispose()

    try:
        asyncio.run(revoke())
    except Exception as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"[green]revoked key {key_id}[/]")


# --- users ------------------------------------------------------------------------------------


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a local account (argon2-hashed password)."""
    from pulsecrm.auth import users
    from pulsecrm.errors import PulseError

    async def create() -> None:
        db = _db(get_settings())
        try:
            async with db.sessions() as session:
                await users.create_local(session, email=email, name=name, password=password)
                await session.commit()
        except PulseError as exc:
            console.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from None
        finally:
            await db.dispose()

    asyncio.run(create())
    console.print(f"[green]created user {email}[/]")


# --- import -----------------------------------------------------------------------------------


def _import(kind: Kind, path: Path) -> None:
    from pulsecrm.ingest.importer import ImportReport, import_file

    settings = get_settings()
    if not path.is_file():
        console.print(f"[red]no such file: {path}[/]")
        raise typer.Exit(2)

    size = path.stat().st_size

    async def go(progress: Progress) -> ImportReport:
        task = progress.add_task(f"importing {kind}", total=size)
        db = _db(settings)
        try:
            return await import_file(
                db,
                kind,
                path,
                default_currency=settings.default_currency,
                consent_attributes=settings.consent_attributes,
                progress=lambda done: progress.update(task, completed=done),
            )
        finally:
            await db.dispose()

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        try:
            report = asyncio.run(go(progress))
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    console.print(f"rows read: {report.read}, written: {report.written}, rejected: {len(report.rejected)}")
    for line, reason in report.rejected[:50]:
        console.print(f"  line {line}: {reason}", markup=False)
    if len(report.rejected) > 50:
        console.print(f"  … and {len(report.rejected) - 50} more")
    if report.rejected:
        raise typer.Exit(1)


@import_app.command("customers")
def import_customers(file: Annotated[Path, typer.Argument(help="A .csv or .ndjson file.")]) -> None:
    """Import customers from FILE."""
    _import("customers", file)


@import_app.command("orders")
def import_orders(file: Annotated[Path, typer.Argument(help="A .csv or .ndjson file.")]) -> None:
    """Import orders from FILE."""
    _import("orders", file)
