"""Presence and typing: ephemeral frames, for friends only, never part of the stream.

Contract: ``presence`` {user_id, online, last_seen} goes to friends when a user's first socket
opens and their last one closes; on connecting, a socket learns its friends' presence;
``typing`` {recipient_id} reaches a friend as {type: typing, data: {user_id}} without a cursor,
is throttled, and is an ``error`` frame when the recipient is not a friend.
"""

from tests.conftest import ServerStarter
from tests.support.factories import SignedInUser, UserFactory, befriend
from tests.support.messaging import fresh_cursor
from tests.support.server import RunningServer
from tests.support.times import parse_utc
from tests.support.ws import (
    Frame,
    WsClient,
    befriended,
    open_ws,
    send_rest,
    sync_all,
    wait_for_connections,
)


async def presence_of(ws: WsClient, user: SignedInUser, *, online: bool) -> Frame:
    """Read until a presence frame about ``user`` with the given ``online``."""
    while True:
        frame = await ws.recv_matching("presence", "user_id", user.id)
        if frame["data"]["online"] is online:
            return frame


async def connected_presence(ws: WsClient) -> list[Frame]:
    """Every presence frame that arrived before a pong."""
    await ws.send_json({"type": "ping"})
    frames: list[Frame] = []
    while True:
        frame = await ws.recv_json(presence=True)
        if frame["type"] == "pong":
            return frames
        if frame["type"] == "presence":
            frames.append(frame)


async def test_friend_coming_online_is_announced(server: RunningServer, users: UserFactory) -> None:
    """When A connects, connected friend B gets presence {user_id: A, online: true, last_seen}."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        async with open_ws(server, alice.token):
            frame = await b_ws.recv_until("presence")

    assert set(frame["data"]) == {"user_id", "online", "last_seen"}, frame
    assert frame["data"]["user_id"] == alice.id
    assert frame["data"]["online"] is True
    parse_utc(frame["data"]["last_seen"])
    assert "cursor" not in frame


async def test_friend_going_offline_is_announced(server: RunningServer, users: UserFactory) -> None:
    """When A's last socket closes, friend B gets presence {user_id: A, online: false}."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        async with open_ws(server, alice.token) as a_ws:
            await presence_of(b_ws, alice, online=True)
            await a_ws.ping()
        frame = await b_ws.recv_until("presence")

    assert frame["data"]["user_id"] == alice.id
    assert frame["data"]["online"] is False
    parse_utc(frame["data"]["last_seen"])


async def test_closing_one_of_two_sockets_is_not_offline(
    server: RunningServer, users: UserFactory
) -> None:
    """A user with another socket still open is not announced offline."""
    alice, bob = await befriended(users)
    alice_phone = await users.login(alice.username)

    async with open_ws(server, bob.token) as b_ws, open_ws(server, alice_phone) as phone:
        await presence_of(b_ws, alice, online=True)
        async with open_ws(server, alice.token) as laptop:
            await laptop.ping()
            await wait_for_connections(server, alice.id, 2)
        await wait_for_connections(server, alice.id, 1)
        await phone.ping()
        seen = await connected_presence(b_ws)

    offline = [f for f in seen if f["type"] == "presence" and f["data"]["online"] is False]
    assert offline == []


async def test_non_friend_gets_no_presence(server: RunningServer, users: UserFactory) -> None:
    """A connected user who is not A's friend gets no presence when A comes and goes."""
    alice, bob = await befriended(users)
    stranger = await users.register()

    async with open_ws(server, stranger.token) as s_ws, open_ws(server, bob.token) as b_ws:
        assert await connected_presence(s_ws) == []
        async with open_ws(server, alice.token):
            await presence_of(b_ws, alice, online=True)
        await presence_of(b_ws, alice, online=False)
        frames = await connected_presence(s_ws)

    assert frames == []


async def test_connecting_socket_learns_friends_presence(
    server: RunningServer, users: UserFactory
) -> None:
    """On connecting, A gets a presence frame for each friend: online or not."""
    alice, online_friend = await befriended(users)
    offline_friend = await users.register()
    await befriend(alice, offline_friend)
    await users.register()  # not a friend: no frame about them

    async with open_ws(server, online_friend.token) as f_ws:
        await f_ws.ping()
        async with open_ws(server, alice.token) as a_ws:
            frames = await connected_presence(a_ws)

    by_user = {f["data"]["user_id"]: f["data"] for f in frames}
    assert set(by_user) == {online_friend.id, offline_friend.id}, frames
    assert by_user[online_friend.id]["online"] is True
    assert by_user[offline_friend.id]["online"] is False
    parse_utc(by_user[online_friend.id]["last_seen"])


async def test_presence_is_not_in_the_stream(server: RunningServer, users: UserFactory) -> None:
    """Presence is ephemeral: /sync has no presence events after friends come and go."""
    alice, bob = await befriended(users)
    start = await fresh_cursor(bob)

    async with open_ws(server, bob.token) as b_ws:
        async with open_ws(server, alice.token):
            await presence_of(b_ws, alice, online=True)
        await presence_of(b_ws, alice, online=False)

    events, _ = await sync_all(bob, start)
    assert [e for e in events if e["type"] == "presence"] == []


async def test_typing_reaches_the_friend(server: RunningServer, users: UserFactory) -> None:
    """typing {recipient_id: B} reaches B as {type: typing, data: {user_id: A}} with no cursor."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await a_ws.send_typing(bob.id)
        frame = await b_ws.recv_until("typing")

    assert frame == {"type": "typing", "data": {"user_id": alice.id}}


async def test_typing_does_not_echo_to_the_sender(
    server: RunningServer, users: UserFactory
) -> None:
    """The typist's own socket gets nothing back for a typing frame."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws:
        await a_ws.send_typing(bob.id)
        assert await a_ws.ping() == []


async def test_typing_to_a_non_friend_is_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """typing to someone who is not a friend gets an error frame, and they get nothing."""
    alice, stranger = await users.register(), await users.register()

    async with open_ws(server, alice.token) as a_ws, open_ws(server, stranger.token) as s_ws:
        await s_ws.ping()
        await a_ws.send_typing(stranger.id)
        before_pong = await a_ws.ping()
        at_stranger = await s_ws.ping()

    assert [f["type"] for f in before_pong] == ["error"], before_pong
    assert at_stranger == []


async def test_typing_to_an_unknown_user_is_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """typing with a malformed or missing recipient_id gets an error frame."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        for data in ({"recipient_id": "no-such-user"}, {}, {"recipient_id": 12}):
            await ws.send_json({"type": "typing", "data": data})
            before_pong = await ws.ping()
            assert [f["type"] for f in before_pong] == ["error"], before_pong


async def test_typing_is_throttled(start_server: ServerStarter) -> None:
    """Within typing_interval, two typing frames reach the friend once."""
    server = await start_server(typing_interval=60)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
            await b_ws.ping()
            await a_ws.send_typing(bob.id)
            await a_ws.send_typing(bob.id)
            assert await a_ws.ping() == []
            at_bob = await b_ws.ping()

    assert [f["type"] for f in at_bob] == ["typing"], at_bob


async def test_typing_is_not_in_the_stream(server: RunningServer, users: UserFactory) -> None:
    """Typing is ephemeral: /sync has no typing events."""
    alice, bob = await befriended(users)
    start = await fresh_cursor(bob)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await a_ws.send_typing(bob.id)
        await b_ws.recv_until("typing")

    events, _ = await sync_all(bob, start)
    assert events == []


async def test_new_friends_learn_each_others_presence_at_once(
    server: RunningServer, users: UserFactory
) -> None:
    """When a request is accepted, each connected side gets the other's presence."""
    alice, bob = await users.register(), await users.register()

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await a_ws.ping()
        await b_ws.ping()
        await befriend(alice, bob)
        at_alice = await presence_of(a_ws, bob, online=True)
        at_bob = await presence_of(b_ws, alice, online=True)

    assert at_alice["data"]["user_id"] == bob.id
    assert at_bob["data"]["user_id"] == alice.id


async def test_a_new_friend_offline_is_reported_offline(
    server: RunningServer, users: UserFactory
) -> None:
    """Accepting the request of someone not connected tells the accepter they are offline."""
    alice, bob = await users.register(), await users.register()

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await befriend(alice, bob)
        frame = await presence_of(b_ws, alice, online=False)

    assert frame["data"]["user_id"] == alice.id


async def test_a_sent_message_lets_the_next_typing_through(start_server: ServerStarter) -> None:
    """After a message lands, the sender's next typing frame reaches the friend at once."""
    server = await start_server(typing_interval=60)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
            await b_ws.ping()
            await a_ws.send_typing(bob.id)
            await b_ws.recv_until("typing")
            await send_rest(alice, bob.id, "done typing")
            await b_ws.recv_until("message.created")
            await a_ws.send_typing(bob.id)
            frame = await b_ws.recv_until("typing")

    assert frame["data"] == {"user_id": alice.id}
