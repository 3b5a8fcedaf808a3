"""Schemathesis against the server's own OpenAPI schema, on a real server on loopback.

Every operation is fuzzed with schema-valid and schema-invalid requests (examples, coverage,
fuzzing phases) and then in stateful sequences that feed one response's ids into the next
request. Every check schemathesis has runs on every response: never a 5xx, status codes,
content types, headers and bodies as the schema documents them, invalid input refused, an
``Allow`` header on 405, no endpoint that works without a live token, deleted things stay gone.

One check is left out, ``positive_data_acceptance`` (a schema-valid request must succeed): the
contract's cursors are opaque strings and some rules (a common password, a message of only
whitespace, a username already taken) are not expressible in JSON Schema, so a schema-valid
request may rightly get a 422.

The fuzzer signs in through ``POST /auth/login`` and signs in again whenever its token dies
(it may log out or revoke its own sessions). Its world is seeded with a friend, messages both
ways, friend requests both ways and notifications, whose ids the fuzzer draws path and body
parameters from half of the time, so that operations reach past "not found".
"""

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.support import fuzzing
from tests.support.factories import DEFAULT_PASSWORD, SignedInUser, UserFactory, befriend
from tests.support.server import RunningServer
from tests.support.ws import send_rest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# Cases per operation and phase; the stateful phase scales with it.
MAX_EXAMPLES = fuzzing.budget(ci=5, long=1000)
RUN_TIMEOUT = 5400.0 if fuzzing.LONG else 240.0
SEED = 20261124

# Invalid input is refused with a 4xx of the contract (413 included: a message over 4,000 code
# points is "too large"); a 5xx is never an acceptable refusal.
REFUSALS = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]

# Path and body parameters that name a thing, and the kind of thing they name.
ID_PARAMETERS = {
    "path.user_id": "users",
    "path.peer_id": "users",
    "body.user_id": "users",
    "body.recipient_id": "users",
    "path.message_id": "messages",
    "body.up_to": "messages",
    "path.request_id": "requests",
    "path.notification_id": "notifications",
    "path.session_id": "sessions",
}


async def ids_of(user: SignedInUser, path: str, key: str) -> list[str]:
    response = await user.get(path)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()[key]]


async def seeded_world(users: UserFactory) -> tuple[SignedInUser, dict[str, list[str]]]:
    """The fuzzing user, with a friend, messages, requests and notifications; and their ids."""
    fuzzer, friend, asker, asked = [await users.register() for _ in range(4)]
    await befriend(friend, fuzzer)
    messages = []
    for n in range(3):
        messages.append(await send_rest(fuzzer, friend.id, f"hello {n}"))
        messages.append(await send_rest(friend, fuzzer.id, f"hi {n}"))
    incoming = await asker.client.post("/friend-requests", json={"user_id": fuzzer.id})
    outgoing = await fuzzer.client.post("/friend-requests", json={"user_id": asked.id})
    assert incoming.status_code == outgoing.status_code == 201
    return fuzzer, {
        "users": [friend.id, asker.id, asked.id, fuzzer.id],
        "messages": [m["id"] for m in messages],
        "requests": [incoming.json()["request"]["id"], outgoing.json()["request"]["id"]],
        "notifications": await ids_of(fuzzer, "/notifications", "notifications"),
        "sessions": await ids_of(fuzzer, "/sessions", "sessions"),
    }


def config_toml(login: str, ids: dict[str, list[str]]) -> str:
    lines = [
        "[auth.dynamic.openapi.HTTPBearer]",
        'path = "/api/v1/auth/login"',
        f"payload = {{ login = {json.dumps(login)}, password = {json.dumps(DEFAULT_PASSWORD)} }}",
        'extract_selector = "/token"',
        "",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(REFUSALS)}",
        "",
    ]
    for kind, values in ids.items():
        lines += [f"[dictionaries.{kind}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for parameter, kind in ID_PARAMETERS.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{kind}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


async def run_schemathesis(server: RunningServer, config: Path, report: Path) -> tuple[int, str]:
    """Run the schemathesis CLI against the server (which keeps serving in this event loop)."""
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        f"{server.api_url}/openapi.json",
        *("--checks", "all", "--exclude-checks", "positive_data_acceptance"),
        *("--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1"),
        *("--generation-database", "none", "--no-color", "--request-timeout", "30"),
        *("--report", "junit", "--report-junit-path", str(report)),
    ]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=config.parent,  # schemathesis keeps a cache in its working directory
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"schemathesis did not finish within {RUN_TIMEOUT} s") from None
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def generated_cases(output: str) -> int:
    found = re.search(r"^\s*(\d+) generated", output, re.MULTILINE)
    assert found, output[-3000:]
    return int(found.group(1))


async def test_the_api_holds_to_its_openapi_schema_under_fuzzing(
    server: RunningServer, users: UserFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Thousands of generated and stateful requests: no 5xx, no schema lie, no leak, no bypass."""
    fuzzer, ids = await seeded_world(users)
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_toml(fuzzer.username, ids))

    code, output = await run_schemathesis(server, config, tmp_path / "junit.xml")
    (tmp_path / "schemathesis.txt").write_text(output)

    assert code == 0, output[-20000:]
    summary = output[output.rfind("SUMMARY") :]
    assert "Errored" not in summary, summary
    cases = generated_cases(summary)
    assert cases >= MAX_EXAMPLES * 20, summary
    if fuzzing.LONG:
        with capsys.disabled():
            sys.stdout.write(f"\nschemathesis: {cases} cases\n{summary}\n")
