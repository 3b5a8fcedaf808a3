"""The ``gkchat`` command: serve, migrate and user administration."""

import asyncio
import copy
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from gkchat.clock import SystemClock
from gkchat.config import Settings
from gkchat.domain.errors import DomainError
from gkchat.services.container import Services

T = TypeVar("T")

app = typer.Typer(help="GK-Chat: a self-hostable chat server.", no_args_is_help=True)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Overrides GKCHAT_DATABASE_URL.", show_default=False),
]
DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", help="Overrides GKCHAT_DATA_DIR.", show_default=False),
]


def _settings(database_url: str | None = None, data_dir: str | None = None) -> Settings:
    """Settings from the environment, with command-line overrides exported for workers too."""
    if database_url:
        os.environ["GKCHAT_DATABASE_URL"] = database_url
    if data_dir:
        os.environ["GKCHAT_DATA_DIR"] = data_dir
    try:
        return Settings()
    except ValueError as exc:
        typer.echo(f"Invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


def _with_services(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    from gkchat.db.migrate import upgrade

    async def main() -> T:
        services = Services.build(settings, SystemClock())
        try:
            await upgrade(services.db)
            return await action(services)
        finally:
            await services.close()

    return _run(main())


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning the failures a user can cause into a message and exit 1."""
    from sqlalchemy.exc import DBAPIError

    try:
        return asyncio.run(coroutine)
    except DomainError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    except (OSError, DBAPIError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        typer.echo(f"Error: cannot use the database: {reason}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides GKCHAT_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides GKCHAT_PORT.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Overrides GKCHAT_WORKERS; more than 1 needs a Redis hub."),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Migrate the database, then serve the API and web client."""
    import uvicorn

    from gkchat.db.engine import Database
    from gkchat.db.migrate import upgrade
    from gkchat.realtime.hub import is_shared
    from gkchat.transport import uvicorn_options

    settings = _settings(database_url, data_dir)
    host = host or settings.host
    port = settings.port if port is None else port
    workers = workers or settings.workers
    if workers > 1 and not is_shared(settings.hub_url):
        typer.echo(
            f"Error: {workers} workers need a hub shared between processes, or their users "
            "would not see each other live: set GKCHAT_HUB_URL=redis://host:6379/0 (the "
            f"hub is {settings.hub_url}).",
            err=True,
        )
        raise typer.Exit(1)

    async def migrate_first() -> None:
        database = Database(settings.resolved_database_url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    _run(migrate_first())
    typer.echo(
        f"GK-Chat on http://{host}:{port} ({settings.resolved_database_url.split('://')[0]})"
    )
    uvicorn.run(
        "gkchat.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=_log_config(settings.log_level),
        **uvicorn_options(ws_compression=settings.ws_compression),
    )


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with GK-Chat's own loggers (hub, presence, maintenance) shown too,
    and secrets blanked on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    # Tokens, cookies and frames never reach a log line, even at debug.
    config.setdefault("filters", {})["redact"] = {"()": "gkchat.logs.RedactSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact")
    config["loggers"]["gkchat"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    config.setdefault("filters", {})["client_faults"] = {"()": "gkchat.logs.ClientFaultFilter"}
    config["loggers"]["uvicorn.error"]["filters"] = ["client_faults"]
    return config


@app.command()
def migrate(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema to the latest version."""
    from gkchat.db.migrate import current_revision

    settings = _settings(database_url, data_dir)
    revision = _with_services(settings, lambda s: current_revision(s.db))
    typer.echo(f"Database at revision {revision}.")


@user_app.command("create")
def user_create(
    username: str,
    email: str,
    password: Annotated[
        str | None,
        typer.Option(
            help="Read from GKCHAT_NEW_PASSWORD or asked for when not given.",
            envvar="GKCHAT_NEW_PASSWORD",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create an account."""
    settings = _settings(database_url, data_dir)
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
    chosen = password
    user = _with_services(
        settings,
        lambda s: s.accounts.create_user(username=username, email=email, password=chosen),
    )
    typer.echo(f"Created {user.username} ({user.id}).")


@user_app.command("list")
def user_list(
    limit: Annotated[int, typer.Option(min=1, help="How many users to show.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="How many to skip.")] = 0,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List accounts, oldest first."""
    settings = _settings(database_url, data_dir)
    users = _with_services(settings, lambda s: s.accounts.list_users(limit=limit, offset=offset))
    for user in users:
        state = "disabled" if user.disabled else "active"
        typer.echo(
            f"{user.id}  {user.username:<32}  {user.email:<40}  "
            f"{user.created_at:%Y-%m-%d %H:%M}  {state}"
        )


@user_app.command("disable")
def user_disable(username: str, database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Disable an account and end all of its sessions."""
    settings = _settings(database_url, data_dir)
    user = _with_services(settings, lambda s: s.accounts.set_disabled(username, disabled=True))
    typer.echo(f"Disabled {user.username}; all of its sessions have ended.")


@user_app.command("enable")
def user_enable(username: str, database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Enable a disabled account again."""
    settings = _settings(database_url, data_dir)
    user = _with_services(settings, lambda s: s.accounts.set_disabled(username, disabled=False))
    typer.echo(f"Enabled {user.username}.")
