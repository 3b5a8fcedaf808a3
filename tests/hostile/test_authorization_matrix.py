"""The authorization matrix: no user ever reads or writes another user's things.

Alice and Bob are friends with a conversation, receipts, notifications and sessions; Alice has
asked Carol to be friends; Mallory is nobody's friend. Every endpoint of the route table is in
one of the tables below (a new endpoint that is in none fails
``test_every_endpoint_is_in_the_matrix``):

- ``OBJECT_PROBES``: endpoints that take the id of a message, friend request, notification or
  session. Each outsider probes them with the real id of someone else's object, its
  neighbouring ids, random ids, a lowercased and a malformed one: every answer is the same 404
  in the error shape, so "forbidden" and "nonexistent" cannot be told apart.
- ``PEER_ENDPOINTS``: endpoints about the caller's own relation to a user (users are public):
  Mallory may call them with Alice's and Bob's ids, and it changes nothing between them.
- ``OWN_ENDPOINTS``: endpoints about the caller alone (lists, sign-in, read-all...).

Afterwards nothing of Alice's and Bob's has changed, nothing Mallory read over REST or her
WebSocket mentions any of their ids or texts, and the WebSocket frames that name a user
(``message.send``, ``typing``) tell Mallory no more about a real user than about none.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.routing import WebSocketRoute

from gkchat.app import WS_PATH
from tests.support.api_errors import assert_error
from tests.support.factories import SignedInUser, UserFactory, befriend, send_friend_request
from tests.support.messaging import send
from tests.support.server import RunningServer
from tests.support.ws import WsClient, open_ws

API = "/api/v1"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_TEXT = "a secret between alice and bob"
Json = dict[str, Any]


@dataclass
class World:
    alice: SignedInUser
    bob: SignedInUser
    carol: SignedInUser
    mallory: SignedInUser
    from_alice: Json  # a message from Alice to Bob
    from_bob: Json  # a message from Bob to Alice
    request: Json  # Alice asked Carol
    notification_id: str  # Bob's notification of Alice's message
    session_id: str  # Alice's session

    def person(self, name: str) -> SignedInUser:
        person: SignedInUser = getattr(self, name)
        return person

    def secrets(self) -> list[str]:
        """Strings that only Alice, Bob (and, for the request, Carol) may ever see."""
        return [
            self.from_alice["id"],
            self.from_bob["id"],
            self.request["id"],
            self.notification_id,
            self.session_id,
            SECRET_TEXT,
            self.alice.token,
            self.bob.token,
        ]


@dataclass(frozen=True)
class ObjectProbe:
    """An endpoint that takes an object's id; ``{id}`` in the path or body is replaced, and
    ``{alice}`` / ``{bob}`` by their user ids. ``secret`` picks the id from the world;
    ``outsiders`` may not know that object exists."""

    method: str
    path: str
    secret: Callable[[World], str]
    outsiders: tuple[str, ...]
    body: Json | None = None


OBJECT_PROBES: dict[tuple[str, str], list[ObjectProbe]] = {
    ("DELETE", "/sessions/{session_id}"): [
        ObjectProbe("DELETE", "/sessions/{id}", lambda w: w.session_id, ("mallory", "bob"))
    ],
    ("POST", "/friend-requests/{request_id}/accept"): [
        ObjectProbe(
            "POST", "/friend-requests/{id}/accept", lambda w: w.request["id"], ("mallory", "bob")
        )
    ],
    ("POST", "/friend-requests/{request_id}/decline"): [
        ObjectProbe(
            "POST", "/friend-requests/{id}/decline", lambda w: w.request["id"], ("mallory", "bob")
        )
    ],
    ("DELETE", "/friend-requests/{request_id}"): [
        ObjectProbe(
            "DELETE", "/friend-requests/{id}", lambda w: w.request["id"], ("mallory", "bob")
        )
    ],
    # The recipient is told 403 (the contract: "403 for the recipient, 404 for anyone else").
    ("PATCH", "/messages/{message_id}"): [
        ObjectProbe(
            "PATCH",
            "/messages/{id}",
            lambda w: w.from_alice["id"],
            ("mallory", "carol"),
            {"content": "rewritten by someone else"},
        )
    ],
    ("DELETE", "/messages/{message_id}"): [
        ObjectProbe("DELETE", "/messages/{id}", lambda w: w.from_alice["id"], ("mallory", "carol"))
    ],
    ("POST", "/conversations/{peer_id}/read"): [
        ObjectProbe(
            "POST",
            f"/conversations/{peer}/read",
            lambda w: w.from_bob["id"],
            ("mallory", "carol"),
            {"up_to": "{id}"},
        )
        for peer in ("{alice}", "{bob}")
    ],
    ("POST", "/conversations/{peer_id}/delivered"): [
        ObjectProbe(
            "POST",
            f"/conversations/{peer}/delivered",
            lambda w: w.from_bob["id"],
            ("mallory", "carol"),
            {"up_to": "{id}"},
        )
        for peer in ("{alice}", "{bob}")
    ],
    ("POST", "/notifications/{notification_id}/read"): [
        ObjectProbe(
            "POST",
            "/notifications/{id}/read",
            lambda w: w.notification_id,
            ("mallory", "alice"),
        )
    ],
}

# The caller's own relation to a (public) user. ``{user}`` is Alice's or Bob's id.
PEER_ENDPOINTS: dict[tuple[str, str], tuple[str, Json | None]] = {
    ("GET", "/users/{user_id}"): ("/users/{user}", None),
    ("POST", "/friend-requests"): ("/friend-requests", {"user_id": "{user}"}),
    ("DELETE", "/friends/{user_id}"): ("/friends/{user}", None),
    ("POST", "/blocks"): ("/blocks", {"user_id": "{user}"}),
    ("DELETE", "/blocks/{user_id}"): ("/blocks/{user}", None),
    ("POST", "/messages"): ("/messages", {"recipient_id": "{user}", "content": "hi"}),
    ("GET", "/conversations/{peer_id}/messages"): ("/conversations/{user}/messages", None),
    ("PUT", "/conversations/{peer_id}/mute"): ("/conversations/{user}/mute", None),
    ("DELETE", "/conversations/{peer_id}/mute"): ("/conversations/{user}/mute", None),
}

# About the caller alone; the GETs are read by Mallory and searched for secrets.
OWN_ENDPOINTS: dict[tuple[str, str], str | None] = {
    ("GET", "/me"): "/me",
    ("GET", "/sessions"): "/sessions",
    ("GET", "/users"): "/users?q=",
    ("GET", "/friend-requests"): "/friend-requests?direction=incoming",
    ("GET", "/friends"): "/friends",
    ("GET", "/blocks"): "/blocks",
    ("GET", "/conversations"): "/conversations",
    ("GET", "/sync"): "/sync?since=0",
    ("GET", "/notifications"): "/notifications",
    ("GET", "/health"): "/health",
    ("POST", "/notifications/read-all"): None,
    ("DELETE", "/sessions"): None,
    ("POST", "/auth/register"): None,
    ("POST", "/auth/login"): None,
    ("POST", "/auth/logout"): None,
    ("GET", "/diagnostics"): None,
    ("POST", "/diagnostics/reset"): None,
}

# WebSocket routes, and the client frames that name someone.
WS_ROUTES = {"/ws"}
WS_FRAMES_WITH_IDS: dict[str, Callable[[str], Json]] = {
    "message.send": lambda user_id: {
        "recipient_id": user_id,
        "content": "hello there",
        "client_id": "probe",
    },
    "typing": lambda user_id: {"recipient_id": user_id},
}


async def build_world(users: UserFactory) -> World:
    alice, bob, carol, mallory = [await users.register() for _ in range(4)]
    await befriend(alice, bob)
    from_alice = await send(alice, bob, SECRET_TEXT)
    from_bob = await send(bob, alice, SECRET_TEXT + " (reply)")
    request = await send_friend_request(alice, carol)
    notifications = (await bob.get("/notifications")).json()["notifications"]
    sessions = (await alice.get("/sessions")).json()["sessions"]
    return World(
        alice=alice,
        bob=bob,
        carol=carol,
        mallory=mallory,
        from_alice=from_alice,
        from_bob=from_bob,
        request=request,
        notification_id=notifications[0]["id"],
        session_id=sessions[0]["id"],
    )


def neighbours(real_id: str) -> list[str]:
    """Ids next to ``real_id``: its last and its first character moved by one."""
    last, first = CROCKFORD.index(real_id[-1]), CROCKFORD.index(real_id[0])
    return [
        real_id[:-1] + CROCKFORD[(last + 1) % 32],
        real_id[:-1] + CROCKFORD[(last - 1) % 32],
        CROCKFORD[(first + 1) % 8] + real_id[1:],
    ]


def id_variants(real_id: str, rng: random.Random) -> list[str]:
    """The real id, its neighbours, random ids, lowercase, and malformed ones."""
    randoms = ["".join(rng.choice(CROCKFORD) for _ in range(26)) for _ in range(3)]
    randoms = [CROCKFORD[rng.randrange(8)] + value[1:] for value in randoms]
    return [
        real_id,
        *neighbours(real_id),
        *randoms,
        real_id.lower(),
        real_id + "0",
        real_id[:-1],
        "not-an-id",
    ]


def fill(template: Any, world: World, object_id: str = "") -> Any:
    if isinstance(template, str):
        return (
            template.replace("{id}", object_id)
            .replace("{alice}", world.alice.id)
            .replace("{bob}", world.bob.id)
        )
    if isinstance(template, dict):
        return {key: fill(value, world, object_id) for key, value in template.items()}
    return template


async def call(user: SignedInUser, method: str, path: str, body: Json | None) -> httpx.Response:
    return await user.client.request(method, path, json=body)


def answer(response: httpx.Response) -> tuple[int, str, str]:
    error = assert_error(response, response.status_code)
    return response.status_code, error["code"], error["message"]


async def snapshot(world: World) -> Json:
    """Everything of Alice's and Bob's that an outsider must not be able to change."""
    history = await world.bob.get(f"/conversations/{world.alice.id}/messages")
    bob_conversations = await world.bob.get("/conversations")
    alice_conversations = await world.alice.get("/conversations")
    outgoing = await world.alice.get("/friend-requests?direction=outgoing")
    bob_notifications = await world.bob.get("/notifications")
    alice_sessions = await world.alice.get("/sessions")
    alice_friends = await world.alice.get("/friends")
    responses = [
        history,
        bob_conversations,
        alice_conversations,
        outgoing,
        bob_notifications,
        alice_sessions,
        alice_friends,
    ]
    for response in responses:
        assert response.status_code == 200, response.text
    sessions = alice_sessions.json()["sessions"]
    for session in sessions:
        session.pop("last_used_at")
    return {
        "history": history.json(),
        "bob_conversations": bob_conversations.json(),
        "alice_conversations": alice_conversations.json(),
        "outgoing": outgoing.json(),
        "bob_notifications": bob_notifications.json(),
        "alice_sessions": sessions,
        "alice_friends": alice_friends.json(),
    }


def assert_no_secret(world: World, text: str, where: str) -> None:
    for secret in world.secrets():
        assert secret not in text, f"{where} leaks {secret!r}: {text[:500]}"


def schema_operations(server: RunningServer) -> set[tuple[str, str]]:
    """Every HTTP operation of the app's route table, as (METHOD, path under /api/v1)."""
    paths = server.app.openapi()["paths"]
    return {
        (method.upper(), path.removeprefix(API))
        for path, item in paths.items()
        if path.startswith(API)
        for method in item
    }


async def test_every_endpoint_is_in_the_matrix(server: RunningServer) -> None:
    """Every route of the app is in exactly one table of the matrix, WebSocket included."""
    operations = schema_operations(server)
    tables = [set(OBJECT_PROBES), set(PEER_ENDPOINTS), set(OWN_ENDPOINTS)]

    assert operations == set().union(*tables)
    assert sum(len(table) for table in tables) == len(operations)
    routed_sockets = [r for r in server.app.routes if isinstance(r, WebSocketRoute)]
    assert routed_sockets == [], "sockets are served by GKChatApp, not the router"
    assert {WS_PATH.removeprefix(API)} == WS_ROUTES


async def test_outsiders_cannot_tell_others_objects_from_nonexistent_ones(
    server: RunningServer, users: UserFactory
) -> None:
    """Someone else's object by its id, neighbouring, random or malformed ids: one same 404."""
    world = await build_world(users)
    before = await snapshot(world)
    rng = random.Random(20261124)

    for endpoint, probes in OBJECT_PROBES.items():
        for probe in probes:
            for name in probe.outsiders:
                outsider = world.person(name)
                answers = set()
                for object_id in id_variants(probe.secret(world), rng):
                    response = await call(
                        outsider,
                        probe.method,
                        fill(probe.path, world, object_id),
                        fill(probe.body, world, object_id),
                    )
                    answers.add(answer(response))
                assert len(answers) == 1, (endpoint, probe.path, name, answers)
                assert next(iter(answers))[0] == 404, (endpoint, name, answers)

    assert await snapshot(world) == before


async def test_calls_about_public_users_change_nothing_between_others(
    server: RunningServer, users: UserFactory
) -> None:
    """Mallory befriending, blocking, muting, messaging Alice and Bob leaves their friendship,
    conversation and notifications as they were, and shows her none of it."""
    world = await build_world(users)
    before = await snapshot(world)

    for endpoint, (path, body) in PEER_ENDPOINTS.items():
        for target in (world.alice, world.bob):
            filled_path = path.replace("{user}", target.id)
            filled_body = None if body is None else fill(body, world)
            if filled_body is not None and "{user}" in str(body):
                filled_body = {
                    k: (target.id if v == "{user}" else v) for k, v in filled_body.items()
                }
            response = await call(world.mallory, endpoint[0], filled_path, filled_body)
            assert response.status_code < 500, (endpoint, response.text)
            assert_no_secret(world, response.text, f"{endpoint} for {target.username}")

    after = await snapshot(world)
    # Mallory's friend request is hers to make: Bob is notified of it, and of nothing else.
    notified = after.pop("bob_notifications")["notifications"]
    kept = before.pop("bob_notifications")["notifications"]
    assert [n for n in notified if n["actor_id"] != world.mallory.id] == kept
    assert after == before


async def test_outsiders_read_nothing_of_others_in_their_own_lists(
    server: RunningServer, users: UserFactory
) -> None:
    """Every list and page Mallory can read, and her socket, mention nothing of Alice and Bob."""
    world = await build_world(users)

    async with open_ws(server, world.mallory.token) as socket:
        for (method, _), path in OWN_ENDPOINTS.items():
            if path is None:
                continue
            response = await call(world.mallory, method, path, None)
            assert response.status_code == 200, (path, response.text)
            assert_no_secret(world, response.text, path)
        await send(world.alice, world.bob, SECRET_TEXT + " (while Mallory listens)")
        frames = await socket.ping()

    assert_no_secret(world, repr(frames), "Mallory's socket")


async def first_error(socket: WsClient, frame_type: str, data: Json) -> tuple[str, str]:
    await socket.send_json({"type": frame_type, "data": data})
    frames = await socket.ping()
    errors = [f for f in frames if f["type"] == "error"]
    if not errors:
        errors = [await socket.recv_until("error")]
    error = errors[0]["data"]
    return error["code"], error["message"]


async def test_socket_frames_naming_a_user_reach_no_one_but_friends(
    server: RunningServer, users: UserFactory
) -> None:
    """message.send and typing from Mallory to Alice are refused as to any other stranger (and
    as over REST), to a nonexistent user with an error too, and Alice gets nothing."""
    world = await build_world(users)
    nobody = "0" + "".join(random.Random(7).choice(CROCKFORD) for _ in range(25))
    over_rest = await call(
        world.mallory, "POST", "/messages", {"recipient_id": world.alice.id, "content": "hi"}
    )

    async with (
        open_ws(server, world.mallory.token) as mallory,
        open_ws(server, world.alice.token) as alice,
    ):
        refusals = {}
        for frame_type, data in WS_FRAMES_WITH_IDS.items():
            refusals[frame_type] = await first_error(mallory, frame_type, data(world.alice.id))
            to_carol = await first_error(mallory, frame_type, data(world.carol.id))
            assert refusals[frame_type] == to_carol, frame_type
            await first_error(mallory, frame_type, data(nobody))
        received = await alice.ping()

    assert refusals["message.send"][0] == assert_error(over_rest, 403)["code"]
    assert [f for f in received if f["type"] in ("typing", "message.created")] == []
