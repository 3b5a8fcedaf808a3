"""The ``gkchat`` command, run for real as ``python -m gkchat`` in a subprocess.

Each test gets its own data directory (or PostgreSQL database) and an environment stripped of
any GKCHAT_* variable from the outer shell; argon2 runs at its default (minimum) costs.
"""

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from gkchat.db.migrate import head_revision
from tests.support import databases

BACKENDS = ["sqlite", "postgres"]
DIALECTS = {"sqlite": "sqlite", "postgres": "postgresql"}
PASSWORD = "a long and unusual passphrase"
COMMAND_TIMEOUT = 120
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def clean_environment(**values: str) -> dict[str, str]:
    """The outer environment without GKCHAT_* variables, plus ``values``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GKCHAT_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb", COLUMNS="200")
    env.update(values)
    return env


@dataclass
class Cli:
    """Runs ``python -m gkchat`` with a fixed environment and working directory."""

    cwd: Path
    env: dict[str, str]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gkchat", *args]

    def run(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run a command that must succeed; return its standard output."""
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    """A non-zero exit with ``message`` on stderr and no Python traceback anywhere."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert message.lower() in result.stderr.lower(), output


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(tmp_path: Path, data_dir: Path) -> Cli:
    """The CLI on SQLite, configured only through GKCHAT_DATA_DIR."""
    return Cli(cwd=tmp_path, env=clean_environment(GKCHAT_DATA_DIR=str(data_dir)))


def stored_password_hash(database: Path, username: str) -> str:
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT password_hash FROM users WHERE username_key = ?", (username.lower(),)
        ).fetchone()
    assert row is not None, f"{username} is not in {database}"
    password_hash: str = row[0]
    return password_hash


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except VerifyMismatchError:
        return False


# --- migrate -------------------------------------------------------------------------------


def test_migrate_creates_the_database_in_the_data_dir(cli: Cli, data_dir: Path) -> None:
    """With only GKCHAT_DATA_DIR set, migrate creates <data_dir>/gkchat.db."""
    cli.ok("migrate")
    assert (data_dir / "gkchat.db").is_file()


def test_migrate_prints_the_head_revision(cli: Cli) -> None:
    """migrate reports the revision the database is now at."""
    assert head_revision() in cli.ok("migrate")


def test_migrate_twice_succeeds(cli: Cli) -> None:
    """Migrating an up-to-date database is harmless and reports the same revision."""
    cli.ok("migrate")
    assert head_revision() in cli.ok("migrate")


@pytest.mark.parametrize("attempt", range(4))
def test_two_nodes_migrating_a_new_database_at_once_both_succeed(cli: Cli, attempt: int) -> None:
    """Two processes migrate the same new SQLite file together: one waits for the other's
    write lock, and both end at the head revision. (A race: when both opened the new file at
    once, one could stay in rollback-journal mode and write beside the other; hence several
    attempts.)"""
    processes = [
        subprocess.Popen(
            cli.command("migrate"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env,
            cwd=cli.cwd,
        )
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=COMMAND_TIMEOUT)
        assert process.returncode == 0, f"{out}\n{err}"
        assert head_revision() in out


def test_migrate_uses_the_database_url(tmp_path: Path, data_dir: Path) -> None:
    """GKCHAT_DATABASE_URL (plain sqlite:// form) names the file migrate creates."""
    target = tmp_path / "elsewhere" / "chat.db"
    cli = Cli(
        cwd=tmp_path,
        env=clean_environment(
            GKCHAT_DATA_DIR=str(data_dir), GKCHAT_DATABASE_URL=f"sqlite:///{target}"
        ),
    )
    cli.ok("migrate")
    assert target.is_file()
    assert not (data_dir / "gkchat.db").exists()


def test_data_dir_option_overrides_the_environment(cli: Cli, tmp_path: Path) -> None:
    """--data-dir wins over GKCHAT_DATA_DIR."""
    cli.ok("migrate", "--data-dir", str(tmp_path / "chosen"))
    assert (tmp_path / "chosen" / "gkchat.db").is_file()


def test_migrate_on_postgres_prints_the_head_revision(tmp_path: Path, worker_id: str) -> None:
    """migrate brings an empty PostgreSQL database to the head revision."""
    admin_url = databases.postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"PostgreSQL tests need {databases.POSTGRES_ENV}")
    name = databases.scratch_name("cli", worker_id)
    url = asyncio.run(databases.create_postgres_database(admin_url, name))
    try:
        cli = Cli(cwd=tmp_path, env=clean_environment(GKCHAT_DATABASE_URL=url))
        assert head_revision() in cli.ok("migrate")
    finally:
        asyncio.run(databases.drop_postgres_database(admin_url, name))


# --- user create / list / disable / enable --------------------------------------------------


def test_user_create_reads_the_password_from_stdin(cli: Cli, data_dir: Path) -> None:
    """Without --password, the password is the first line of standard input, exactly."""
    password = "  spaces at both ends count  "
    output = cli.ok("user", "create", "alice", "alice@example.com", stdin=f"{password}\n")
    assert "Created alice" in output
    stored = stored_password_hash(data_dir / "gkchat.db", "alice")
    assert password_matches(stored, password)
    assert not password_matches(stored, password.strip())


def test_user_create_takes_the_password_option(cli: Cli, data_dir: Path) -> None:
    """--password sets the account's password."""
    cli.ok("user", "create", "bob", "bob@example.com", "--password", PASSWORD)
    assert password_matches(stored_password_hash(data_dir / "gkchat.db", "bob"), PASSWORD)


def test_user_create_stores_a_hash_not_the_password(cli: Cli, data_dir: Path) -> None:
    """The database holds an argon2id hash, never the password itself."""
    cli.ok("user", "create", "bob", "bob@example.com", "--password", PASSWORD)
    stored = stored_password_hash(data_dir / "gkchat.db", "bob")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_user_list_shows_created_users(cli: Cli) -> None:
    """user list shows each account's username, email and state, oldest first."""
    cli.ok("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    cli.ok("user", "create", "Bob.Smith", "bob@example.com", stdin=f"{PASSWORD}\n")
    rows = [line.split() for line in cli.ok("user", "list").splitlines() if line.strip()]
    assert [(row[1], row[2], row[-1]) for row in rows] == [
        ("alice", "alice@example.com", "active"),
        ("Bob.Smith", "bob@example.com", "active"),
    ]


def test_user_list_of_an_empty_database_is_empty(cli: Cli) -> None:
    """user list on a new database prints no accounts and succeeds."""
    assert cli.ok("user", "list").strip() == ""


def test_duplicate_username_is_refused(cli: Cli) -> None:
    """Creating a username that exists, in any case, fails with a clear message."""
    cli.ok("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    result = cli.run("user", "create", "ALICE", "other@example.com", "--password", PASSWORD)
    assert_clean_failure(result, "username is taken")


def test_duplicate_email_is_refused(cli: Cli) -> None:
    """Creating an account with a registered email, in any case, fails with a clear message."""
    cli.ok("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    result = cli.run("user", "create", "alicia", "Alice@Example.COM", "--password", PASSWORD)
    assert_clean_failure(result, "email address is already registered")


def test_refused_duplicate_leaves_one_account(cli: Cli) -> None:
    """A refused duplicate adds nothing to the user list."""
    cli.ok("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    cli.run("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    assert len(cli.ok("user", "list").strip().splitlines()) == 1


def test_common_password_is_refused(cli: Cli) -> None:
    """A password from the common-passwords list fails with the reason, and no account."""
    result = cli.run("user", "create", "carol", "carol@example.com", "--password", "password123")
    assert_clean_failure(result, "among the most common")
    assert "carol" not in cli.ok("user", "list")


def test_short_password_is_refused(cli: Cli) -> None:
    """A password under 8 characters fails with the rule."""
    result = cli.run("user", "create", "carol", "carol@example.com", stdin="Zq7#mW2\n")
    assert_clean_failure(result, "at least 8 characters")


def test_invalid_username_is_refused(cli: Cli) -> None:
    """A username outside the allowed characters fails with the rule."""
    result = cli.run("user", "create", "no spaces", "x@example.com", "--password", PASSWORD)
    assert_clean_failure(result, "usernames are 3 to 32")


def test_user_disable_marks_the_account_disabled(cli: Cli) -> None:
    """After user disable, user list shows the account as disabled."""
    cli.ok("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    cli.ok("user", "disable", "alice")
    assert cli.ok("user", "list").split()[-1] == "disabled"


def test_user_enable_reactivates_the_account(cli: Cli) -> None:
    """user enable undoes user disable."""
    cli.ok("user", "create", "alice", "alice@example.com", "--password", PASSWORD)
    cli.ok("user", "disable", "alice")
    cli.ok("user", "enable", "ALICE")
    assert cli.ok("user", "list").split()[-1] == "active"


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_unknown_user_cannot_be_disabled_or_enabled(cli: Cli, action: str) -> None:
    """Naming an account that does not exist fails with a clear message."""
    cli.ok("migrate")
    assert_clean_failure(cli.run("user", action, "nobody"), "no user named")


# --- help and configuration errors ----------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["migrate"],
        ["user"],
        ["user", "create"],
        ["user", "list"],
        ["user", "disable"],
        ["user", "enable"],
    ],
    ids=lambda command: " ".join(command) or "gkchat",
)
def test_help_exits_zero(cli: Cli, command: list[str]) -> None:
    """--help works for every command and describes its usage."""
    assert "Usage" in cli.ok(*command, "--help")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GKCHAT_SESSION_TTL", "-5", "session_ttl"),
        ("GKCHAT_SESSION_TTL", "0", "positive"),
        ("GKCHAT_ARGON2_MEMORY_KIB", "1024", "argon2_memory_kib"),
        ("GKCHAT_TRUSTED_PROXIES", "proxy.example.com", "trusted_proxies"),
        ("GKCHAT_PORT", "http", "port"),
        ("GKCHAT_DATABASE_URL", "mysql://x", "mysql"),
        ("GKCHAT_DATABASE_URL", "sqlite:///:memory:", "in-memory"),
        ("GKCHAT_DATABASE_URL", "not a url", "database"),
        ("GKCHAT_HUB_URL", "kafka://broker:9092", "hub"),
        ("GKCHAT_HUB_URL", "redis://127.0.0.1/0?prefix=a;b", "prefix"),
        ("GKCHAT_PRESENCE_TIMEOUT", "0", "positive"),
    ],
)
def test_invalid_configuration_is_reported_without_traceback(
    cli: Cli, variable: str, value: str, message: str
) -> None:
    """A bad setting makes migrate exit non-zero with a readable message naming the problem."""
    result = cli.run("migrate", env={variable: value})
    assert_clean_failure(result, message)


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["user", "list"]])
def test_unsupported_database_is_reported_by_every_command(cli: Cli, command: list[str]) -> None:
    """serve and the user commands also refuse an unsupported database URL readably."""
    result = cli.run(*command, env={"GKCHAT_DATABASE_URL": "mysql://x"})
    assert_clean_failure(result, "mysql")


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--workers", "2"], {}), ([], {"GKCHAT_WORKERS": "2"})],
    ids=["option", "environment"],
)
def test_serve_refuses_several_workers_without_a_shared_hub(
    cli: Cli, args: list[str], env: dict[str, str]
) -> None:
    """Two workers on the in-memory hub would not see each other's users: exit 1, saying
    which setting to change."""
    result = cli.run("serve", "--port", "0", *args, env=env)

    assert_clean_failure(result, "GKCHAT_HUB_URL")
    assert result.returncode == 1


def test_unreachable_database_is_reported_without_traceback(cli: Cli) -> None:
    """A database server that refuses connections is a readable error, not a traceback."""
    result = cli.run("migrate", env={"GKCHAT_DATABASE_URL": "postgresql://gk@127.0.0.1:1/gk"})
    assert_clean_failure(result, "database")


# --- serve ----------------------------------------------------------------------------------


@dataclass
class Served:
    """A ``gkchat serve`` subprocess and the CLI pointed at the same database."""

    backend: str
    process: "subprocess.Popen[bytes]"
    base_url: str
    cli: Cli
    log: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.api_url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def register(self, username: str) -> dict[str, Any]:
        response = self.client().post(
            "/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def login(self, login: str, password: str = PASSWORD) -> httpx.Response:
        return self.client().post("/auth/login", json={"login": login, "password": password})

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it to exit; return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=STOP_TIMEOUT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_until_ready(served: Served) -> None:
    """Poll GET /health until it answers 200, the process dies, or the deadline passes."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=2) as probe:
        while time.monotonic() < deadline:
            if served.process.poll() is not None:
                pytest.fail(
                    f"gkchat serve exited with {served.process.returncode}:\n{served.output()}"
                )
            try:
                if probe.get(f"{served.api_url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    pytest.fail(f"gkchat serve was not ready within {READY_TIMEOUT}s:\n{served.output()}")


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[Served]:
    """``gkchat serve --port P`` on SQLite (GKCHAT_DATA_DIR only) or on a fresh PostgreSQL."""
    admin_url, name = None, databases.scratch_name("serve", worker_id)
    if request.param == "sqlite":
        env = clean_environment(GKCHAT_DATA_DIR=str(tmp_path / "data"))
    else:
        admin_url = databases.postgres_admin_url()
        if admin_url is None:
            pytest.skip(f"PostgreSQL tests need {databases.POSTGRES_ENV}")
        url = asyncio.run(databases.create_postgres_database(admin_url, name))
        env = clean_environment(GKCHAT_DATABASE_URL=url)
    cli = Cli(cwd=tmp_path, env=env)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cli.command("serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(request.param, process, f"http://127.0.0.1:{port}", cli, log_path)
    try:
        wait_until_ready(served)
        yield served
    finally:
        for client in served.clients:
            client.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if admin_url is not None:
            asyncio.run(databases.drop_postgres_database(admin_url, name))


def test_serve_reports_healthy_on_its_database(served: Served) -> None:
    """A started server answers /health with its database dialect."""
    response = served.client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": DIALECTS[served.backend]}


def test_serve_creates_the_sqlite_database_in_the_data_dir(served: Served, tmp_path: Path) -> None:
    """With only GKCHAT_DATA_DIR set, serve creates and migrates <data_dir>/gkchat.db."""
    if served.backend != "sqlite":
        pytest.skip("the data directory only holds the database on SQLite")
    assert (tmp_path / "data" / "gkchat.db").is_file()
    assert head_revision() in served.cli.ok("migrate")


def test_revoked_session_token_gets_401(served: Served) -> None:
    """A session revoked through DELETE /sessions/{id} no longer authenticates."""
    first_token = served.register("alice")["token"]
    bob_token = served.register("bob")["token"]
    second = served.login("alice")
    assert second.status_code == 200, second.text
    alice = served.client(second.json()["token"])

    listed = alice.get("/sessions")
    assert listed.status_code == 200, listed.text
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2
    [other] = [s for s in sessions if not s["current"]]

    assert alice.delete(f"/sessions/{other['id']}").status_code == 204
    assert served.client(first_token).get("/me").status_code == 401
    assert alice.get("/me").status_code == 200
    assert served.client(bob_token).get("/me").status_code == 200


def test_user_created_by_the_cli_can_log_in(served: Served) -> None:
    """An account made with `user create` (password on stdin) signs in to the running server."""
    served.cli.ok("user", "create", "carol", "carol@example.com", stdin=f"{PASSWORD}\n")
    response = served.login("carol@example.com")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "carol"


def test_disabled_user_cannot_log_in(served: Served) -> None:
    """After `user disable NAME`, the server refuses that account's login with 403."""
    served.register("alice")
    served.register("bob")
    served.cli.ok("user", "disable", "bob")
    refused = served.login("bob")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "account_disabled"
    assert served.login("alice").status_code == 200


def test_disabling_ends_the_users_sessions(served: Served) -> None:
    """`user disable NAME` ends the sessions the account already had."""
    token = served.register("bob")["token"]
    served.cli.ok("user", "disable", "bob")
    assert served.client(token).get("/me").status_code == 401


def test_enabled_user_can_log_in_again(served: Served) -> None:
    """`user enable NAME` lets a disabled account sign in again."""
    served.register("bob")
    served.cli.ok("user", "disable", "bob")
    served.cli.ok("user", "enable", "bob")
    assert served.login("bob").status_code == 200


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly_on_signal(served: Served, signum: int) -> None:
    """SIGINT or SIGTERM shuts the server down gracefully and promptly.

    After a graceful shutdown uvicorn re-raises the signal it caught, so the exit status is
    0 or "ended by that signal" (-signum), which service managers treat as a clean stop.
    """
    assert served.client().get("/health").status_code == 200
    assert served.stop(signum) in (0, -signum), served.output()
    output = served.output()
    assert "Traceback" not in output
    assert "Application shutdown complete" in output
