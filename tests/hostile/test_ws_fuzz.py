"""Property-based fuzzing of the WebSocket: every frame type, random text and binary, oversized
and malformed frames, against a real server on loopback.

The contract: a frame that is not valid JSON, binary, or of an unknown type gets an ``error``
frame and the connection goes on; a frame over 64 KiB closes the connection with 1009; neither
harms the server or other connections. Text that is not UTF-8 is a protocol error (RFC 6455:
close 1007). Every other frame gets well-formed answers: an ``error`` frame in the contract's
shape (never ``internal_error``), or what the frame asked for (``pong``, ``message.ack``).

Hypothesis drives a plain synchronous client on a worker thread while the server keeps serving
in the test's event loop, where a friend pair chats on their own sockets the whole time: every
message they send must reach the other. "Valid JSON" is what a strict RFC 8259 parser accepts
(orjson, the server's): Python's json module also takes NaN and integers of any size.
"""

import asyncio
import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support import fuzzing
from tests.support.factories import SignedInUser, UserFactory, befriend
from tests.support.logs import server_errors
from tests.support.server import RunningServer
from tests.support.ws import (
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    WsClient,
    befriended,
    open_ws,
    wait_for_connections,
    ws_url,
)

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    # Hypothesis notes any change of the global `random` state while it draws an example; the
    # chatting pair's client sockets (in the event loop's thread) draw their frame masks from
    # it at the same time, which is no fault of the strategies.
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

MAX_FRAME_BYTES = 64 * 1024
CLOSE_INVALID_UTF8 = 1007
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
KNOWN_TYPES = ("message.send", "typing", "ping", "auth")
WAIT = 10.0
FUZZ_SETTINGS = fuzzing.hypothesis_settings(ci=150, long=5000)
FIRST_FRAME_SETTINGS = fuzzing.hypothesis_settings(ci=100, long=2000)


@dataclass(frozen=True)
class Attack:
    """One frame as sent on the wire: text (maybe not UTF-8) or binary."""

    payload: str | bytes
    text: bool

    @property
    def size(self) -> int:
        return len(self.payload.encode() if isinstance(self.payload, str) else self.payload)


@dataclass(frozen=True)
class Cast:
    """Who the attacker may name in its frames."""

    attacker: SignedInUser
    friend_id: str
    stranger_id: str


# JSON values a strict parser accepts: 64-bit integers, finite floats, no lone surrogates.
json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def ids(cast: Cast) -> st.SearchStrategy[Any]:
    """Values for an id field: real ids (friend, stranger, self), near misses and junk."""
    real = st.sampled_from([cast.friend_id, cast.stranger_id, cast.attacker.id])
    near = real.map(lambda value: value[:-1] + ("0" if value[-1] != "0" else "1"))
    return st.one_of(real, near, st.text(max_size=30), json_values)


def contents() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=60),
        st.sampled_from(["", " ", "\n\t", "\u200b", "x" * 4000, "x" * 4001, "é" * 4001]),
        json_values,
    )


def typed_frames(cast: Cast) -> st.SearchStrategy[dict[str, Any]]:
    """Frames of every type a client may send, with data fields right, wrong or missing."""
    send = st.fixed_dictionaries(
        {},
        optional={"recipient_id": ids(cast), "content": contents(), "client_id": json_values},
    )
    typing = st.fixed_dictionaries({}, optional={"recipient_id": ids(cast)})
    auth = st.fixed_dictionaries({}, optional={"token": json_values})
    # Each type's data as it should be (with fields right, wrong or missing), or any JSON.
    data = {
        "message.send": send | json_values,
        "typing": typing | json_values,
        "ping": json_values,
        "auth": auth | json_values,
    }
    frame_type = st.sampled_from(KNOWN_TYPES) | st.text(max_size=80) | json_values

    def frame_of(kind: Any) -> st.SearchStrategy[dict[str, Any]]:
        fields = data.get(kind, json_values) if isinstance(kind, str) else json_values
        return st.fixed_dictionaries({"type": st.just(kind)}, optional={"data": fields})

    return frame_type.flatmap(frame_of)


def attacks(cast: Cast) -> st.SearchStrategy[Attack]:
    as_text = st.builds(json.dumps, typed_frames(cast) | json_values)
    not_json = st.text(max_size=200).filter(not_json_text)
    truncated = as_text.map(lambda text: text[: max(len(text) - 1, 0)]).filter(not_json_text)
    return st.one_of(
        as_text.map(lambda text: Attack(text, text=True)),
        (not_json | truncated).map(lambda text: Attack(text, text=True)),
        st.binary(max_size=300).map(lambda data: Attack(data, text=False)),
        # Right at and just past the limit, as text (one- and multi-byte) and as binary.
        st.builds(oversized, st.integers(-2, 2), st.sampled_from(["x", "é", "😀", b"\x00"])),
        # Text frames whose bytes are not UTF-8.
        st.binary(min_size=1, max_size=40)
        .filter(lambda data: not utf8(data))
        .map(lambda data: Attack(data, text=True)),
    )


def auth_attempts() -> st.SearchStrategy[Attack]:
    """First frames that try to sign in: the token at the top or in data, of any JSON type."""
    token = st.fixed_dictionaries({}, optional={"token": json_values})
    frame = st.fixed_dictionaries(
        {"type": st.just("auth")}, optional={"token": json_values, "data": token | json_values}
    )
    return frame.map(lambda body: Attack(json.dumps(body), text=True))


def not_json_text(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return True
    return False


def utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def oversized(delta: int, unit: str | bytes) -> Attack:
    """A frame of 64 KiB + ``delta`` bytes: a ping padded with ``unit`` (or binary)."""
    size = MAX_FRAME_BYTES + delta
    if isinstance(unit, bytes):
        return Attack(unit * size, text=False)
    head = '{"type": "ping", "pad": "'
    count, rest = divmod(size - len(head) - 2, len(unit.encode()))
    text = head + unit * count + " " * rest + '"}'
    return Attack(text, text=True)


def expected_outcome(attack: Attack) -> str:
    """What the contract promises for this frame: a close code, an error code, a pong, the
    answer to a send, or "any" well-formed frames."""
    if attack.size > MAX_FRAME_BYTES:
        return f"close {CLOSE_TOO_BIG}"
    if not attack.text:
        return "error binary_not_supported"
    assert isinstance(attack.payload, str | bytes)
    if isinstance(attack.payload, bytes):
        return f"close {CLOSE_INVALID_UTF8}"
    try:
        body = orjson.loads(attack.payload)
    except orjson.JSONDecodeError:
        return "error invalid_json"
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return "error invalid_frame"
    if body["type"] == "ping":
        return "pong"
    if body["type"] == "auth":
        return "error already_authenticated"
    if body["type"] not in KNOWN_TYPES:
        return "error unknown_type"
    return "send" if body["type"] == "message.send" else "any"


def assert_well_formed(frame: dict[str, Any]) -> None:
    """Any frame: an object with a string type; an error frame in the contract's shape."""
    assert isinstance(frame, dict), frame
    assert isinstance(frame.get("type"), str), frame
    if frame["type"] == "error":
        data = frame["data"]
        assert SNAKE_CASE.match(data["code"]), frame
        assert data["code"] != "internal_error", frame
        assert isinstance(data["message"], str), frame
        assert data["message"].strip(), frame


class Attacker:
    """A synchronous socket of the attacker, reopened whenever the server closes it."""

    def __init__(self, server: RunningServer, token: str) -> None:
        self.url = ws_url(server)
        self.token = token
        self.socket: ClientConnection | None = None
        self.sockets = contextlib.ExitStack()
        self.reconnects = 0
        self.frames_sent = 0

    def connection(self) -> ClientConnection:
        if self.socket is None:
            self.socket = self.sockets.enter_context(
                connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=WAIT,
                    close_timeout=2,
                    max_size=None,
                    proxy=None,
                    compression=None,
                )
            )
            self.reconnects += 1
            ready = self.frames_until(lambda frame: frame["type"] == "ready")
            assert ready[-1]["type"] == "ready", ready
        return self.socket

    def frames_until(self, done: Any) -> list[dict[str, Any]]:
        """Frames read until ``done(frame)``, the last one included."""
        assert self.socket is not None
        frames = []
        while True:
            raw = self.socket.recv(timeout=WAIT)
            assert isinstance(raw, str), raw
            frame = json.loads(raw)
            assert_well_formed(frame)
            frames.append(frame)
            if done(frame):
                return frames

    def attack(self, attack: Attack) -> None:
        """Send the frame and check the server's answer against the contract."""
        socket = self.connection()
        outcome = expected_outcome(attack)
        socket.send(attack.payload, text=attack.text)
        self.frames_sent += 1
        if outcome.startswith("close"):
            self.expect_close(int(outcome.split()[1]))
            return
        if outcome == "send":
            # Answered once the send is checked, or stored: an ack or an error, maybe later.
            answer = self.frames_until(lambda frame: frame["type"] in ("message.ack", "error"))
            assert answer[-1]["type"] in ("message.ack", "error"), (attack, answer)
        pongs = 2 if outcome == "pong" else 1
        socket.send('{"type": "ping"}')
        seen = 0

        def counted(frame: dict[str, Any]) -> bool:
            nonlocal seen
            seen += frame["type"] == "pong"
            return bool(seen == pongs)

        answers = [f for f in self.frames_until(counted) if f["type"] not in ("pong", "presence")]
        if outcome.startswith("error"):
            codes = [f["data"]["code"] for f in answers if f["type"] == "error"]
            assert codes == [outcome.split()[1]], (attack, answers)

    def expect_close(self, code: int) -> None:
        assert self.socket is not None
        with contextlib.suppress(ConnectionClosed):
            while True:
                raw = self.socket.recv(timeout=WAIT)
                assert_well_formed(json.loads(raw))
        assert self.socket.close_code == code, (self.socket.close_code, self.socket.close_reason)
        self.socket = None

    def close(self) -> None:
        self.sockets.close()
        self.socket = None


async def chat(a: WsClient, a_id: str, b: WsClient, b_id: str, stop: threading.Event) -> int:
    """Alice and Bob take turns sending each other messages until ``stop``; every one must
    arrive. Returns how many were delivered."""
    delivered = 0
    pair = [(a, b, b_id), (b, a, a_id)]
    while not stop.is_set() or delivered < 2:
        sender, receiver, to = pair[delivered % 2]
        client_id = f"chat-{delivered}"
        await sender.send_message(to, f"still here {delivered}", client_id)
        frame = await receiver.recv_matching("message.created", "client_id", client_id, WAIT)
        assert frame["data"]["message"]["content"] == f"still here {delivered}"
        delivered += 1
    return delivered


@contextlib.contextmanager
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing the server logs at ERROR or above while the block runs."""
    with server_errors(caplog) as errors:
        yield
    assert not errors, [r.getMessage() for r in errors]


async def test_fuzzed_frames_get_contract_answers_while_a_friend_pair_keeps_chatting(
    server: RunningServer,
    users: UserFactory,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Random frames of every kind on one socket: the answers the contract promises, no server
    error, and two other users chat on undisturbed."""
    attacker, target = await befriended(users)
    stranger = await users.register()
    alice, bob = await befriended(users)
    cast = Cast(attacker=attacker, friend_id=target.id, stranger_id=stranger.id)
    fuzzed = Attacker(server, attacker.token)

    @FUZZ_SETTINGS
    @given(attack=attacks(cast))
    def property_holds(attack: Attack) -> None:
        fuzzed.attack(attack)

    stop = threading.Event()

    def fuzz() -> None:
        try:
            property_holds()
        finally:
            stop.set()
            fuzzed.close()

    with no_server_errors(caplog):
        async with open_ws(server, alice.token) as a, open_ws(server, bob.token) as b:
            chatting = asyncio.create_task(chat(a, alice.id, b, bob.id, stop))
            await asyncio.to_thread(fuzz)
            delivered = await chatting
        await wait_for_connections(server, attacker.id, 0)

    assert delivered >= 2
    assert fuzzed.reconnects >= 2
    if fuzzing.LONG:
        with capsys.disabled():
            sys.stdout.write(
                f"\nwebsocket fuzz: {fuzzed.frames_sent} frames, {fuzzed.reconnects} sockets, "
                f"{delivered} chat messages delivered meanwhile\n"
            )


async def test_a_user_fuzzed_off_their_socket_still_chats_on_a_new_one(
    server: RunningServer, users: UserFactory
) -> None:
    """After a 1009 and a 1007 close, the attacker's next socket sends and receives normally."""
    attacker, friend = await users.register(), await users.register()
    await befriend(attacker, friend)
    fuzzed = Attacker(server, attacker.token)

    await asyncio.to_thread(fuzzed.attack, oversized(1, "x"))
    await asyncio.to_thread(fuzzed.attack, Attack(b"\xff\xfe", text=True))

    async with open_ws(server, attacker.token) as mine, open_ws(server, friend.token) as theirs:
        await mine.send_message(friend.id, "back again", "back")
        ack = await mine.recv_until("message.ack")
        created = await theirs.recv_until("message.created")
    assert ack["data"]["message"]["id"] == created["data"]["message"]["id"]


def first_frame_outcome(attack: Attack) -> int:
    """The close code an unauthenticated socket gets after this first frame."""
    payload = (
        attack.payload.encode("utf-8", "surrogatepass")
        if isinstance(attack.payload, str)
        else attack.payload
    )
    if len(payload) > MAX_FRAME_BYTES:  # refused by the protocol before it is even decoded
        return CLOSE_TOO_BIG
    if attack.text and isinstance(attack.payload, bytes):
        return CLOSE_INVALID_UTF8
    return CLOSE_UNAUTHENTICATED


def refused_before_sign_in(server: RunningServer, attack: Attack) -> None:
    """Open a socket without credentials, send ``attack`` first: closed, and nothing else."""
    with connect(
        ws_url(server), open_timeout=WAIT, close_timeout=2, max_size=None, proxy=None
    ) as socket:
        socket.send(attack.payload, text=attack.text)
        with contextlib.suppress(ConnectionClosed):
            frame = socket.recv(timeout=WAIT)
            raise AssertionError(f"an unauthenticated socket got {frame!r}")
        assert socket.close_code == first_frame_outcome(attack), (attack, socket.close_code)


async def test_fuzzed_first_frames_never_sign_a_socket_in(
    server: RunningServer, users: UserFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Any first frame but an auth frame with a live token closes the socket with 4401 (1007
    for text that is not UTF-8, 1009 over 64 KiB) before a single frame is sent to it."""
    someone = await users.register()
    cast = Cast(attacker=someone, friend_id=someone.id, stranger_id=someone.id)
    # Only an auth frame whose token is the live one signs in; a fuzzed token never is.
    first_frames = (auth_attempts() | attacks(cast)).filter(
        lambda attack: someone.token not in repr(attack.payload)
    )

    @FIRST_FRAME_SETTINGS
    @given(attack=first_frames)
    def property_holds(attack: Attack) -> None:
        refused_before_sign_in(server, attack)

    with no_server_errors(caplog):
        await asyncio.to_thread(property_holds)
