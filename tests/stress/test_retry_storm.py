"""Retry storms: every send replayed 1 to 5 times at once, over REST and the WebSocket mixed,
stores each client_id exactly once; a replay with other content is 409 client_id_conflict."""

import asyncio
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass

import pytest

from tests.support.factories import SignedInUser, UserFactory
from tests.support.messaging import friends, full_history, post_message
from tests.support.server import RunningServer
from tests.support.ws import Frame, WsClient, open_ws

PAIRS = 3
MESSAGES_PER_SENDER = 20
MAX_REPLAYS = 5
DEADLINE = 60.0


@dataclass(frozen=True)
class Replay:
    sender: SignedInUser
    recipient: SignedInUser
    client_id: str
    content: str
    over_ws: bool


@dataclass(frozen=True)
class Answer:
    client_id: str
    content: str
    message_id: str | None  # None when refused
    code: str | None  # the error code when refused


@pytest.fixture
async def pairs(users: UserFactory) -> list[tuple[SignedInUser, SignedInUser]]:
    return [await friends(users) for _ in range(PAIRS)]


async def fire(server: RunningServer, replays: list[Replay]) -> list[Answer]:
    """Send every replay at once: REST ones as concurrent POSTs, WebSocket ones as frames on
    one socket per sender, all in flight together; return one answer per replay."""
    rest = [r for r in replays if not r.over_ws]
    by_sender: dict[str, list[Replay]] = defaultdict(list)
    for replay in replays:
        if replay.over_ws:
            by_sender[replay.sender.id].append(replay)
    async with asyncio.timeout(DEADLINE):
        posted, sockets = await asyncio.gather(
            asyncio.gather(*(post_answer(r) for r in rest)),
            asyncio.gather(*(socket_answers(server, frames) for frames in by_sender.values())),
        )
    flat = [*posted, *(answer for answers in sockets for answer in answers)]
    assert len(flat) == len(replays)
    return flat


async def post_answer(replay: Replay) -> Answer:
    response = await post_message(
        replay.sender, replay.recipient.id, replay.content, replay.client_id
    )
    if response.status_code in (200, 201):
        return Answer(replay.client_id, replay.content, response.json()["message"]["id"], None)
    assert response.status_code == 409, response.text
    return Answer(replay.client_id, replay.content, None, response.json()["error"]["code"])


async def socket_answers(server: RunningServer, replays: list[Replay]) -> list[Answer]:
    """Send ``replays`` (one sender's) as frames at once, then read an answer for each."""
    async with open_ws(server, replays[0].sender.token, max_queue=None) as ws:
        await ws.ping(DEADLINE)
        for replay in replays:
            await ws.send_message(replay.recipient.id, replay.content, replay.client_id)
        pending = [(r.client_id, r.content) for r in replays]
        answers: list[Answer] = []
        refusals: dict[str, list[str]] = defaultdict(list)
        for _ in replays:
            frame = await next_answer(ws)
            data = frame["data"]
            if frame["type"] == "message.ack":
                content = data["message"]["content"]
                answers.append(Answer(data["client_id"], content, data["message"]["id"], None))
                pending.remove((data["client_id"], content))
            else:  # a refusal names only the client_id: it answers one of the unacked frames
                refusals[data["client_id"]].append(data["code"])
    for client_id, content in pending:
        answers.append(Answer(client_id, content, None, refusals[client_id].pop()))
    return answers


async def next_answer(ws: WsClient) -> Frame:
    while True:
        frame = await ws.recv_json(DEADLINE)
        if frame["type"] == "message.ack" or (
            frame["type"] == "error" and "client_id" in frame["data"]
        ):
            return frame


def storm(
    pairs: list[tuple[SignedInUser, SignedInUser]], rng: random.Random
) -> tuple[list[Replay], dict[str, str]]:
    """1 to 5 replays of each of 20 sends per sender, both ways in every pair, shuffled."""
    replays: list[Replay] = []
    contents: dict[str, str] = {}
    for one, other in pairs:
        for sender, recipient in ((one, other), (other, one)):
            for index in range(MESSAGES_PER_SENDER):
                client_id, content = str(uuid.uuid4()), f"{sender.username} #{index}"
                contents[client_id] = content
                for _ in range(rng.randint(1, MAX_REPLAYS)):
                    over_ws = rng.random() < 0.5
                    replays.append(Replay(sender, recipient, client_id, content, over_ws))
    rng.shuffle(replays)
    return replays, contents


async def stored_by_client_id(
    pairs: list[tuple[SignedInUser, SignedInUser]],
) -> dict[str, list[dict[str, object]]]:
    stored: dict[str, list[dict[str, object]]] = defaultdict(list)
    for one, other in pairs:
        for message in await full_history(one, other.id):
            stored[str(message["client_id"])].append(message)
    return stored


async def test_every_send_replayed_up_to_five_times_at_once_is_stored_once(
    server: RunningServer, pairs: list[tuple[SignedInUser, SignedInUser]]
) -> None:
    """Each client_id, replayed 1-5 times at once over REST and WebSocket, is one message, and
    every replay is answered with that message."""
    replays, contents = storm(pairs, random.Random())
    answers = await fire(server, replays)

    ids_per_client_id: dict[str, set[str | None]] = defaultdict(set)
    for answer in answers:
        ids_per_client_id[answer.client_id].add(answer.message_id)
    stored = await stored_by_client_id(pairs)
    assert {c: len(ids) for c, ids in ids_per_client_id.items() if len(ids) != 1} == {}
    assert {c: len(m) for c, m in stored.items() if len(m) != 1} == {}
    assert set(stored) == set(contents)
    assert {c: stored[c][0]["id"] for c in stored} == {
        c: ids.pop() for c, ids in ids_per_client_id.items()
    }


async def test_a_storm_of_replays_with_other_content_is_409_and_stores_one_version(
    server: RunningServer, pairs: list[tuple[SignedInUser, SignedInUser]]
) -> None:
    """Each client_id sent at once with two contents: one version is stored, every replay
    with the other content is refused with client_id_conflict (409 over REST)."""
    rng = random.Random()
    replays, _ = storm(pairs, rng)
    variants = [
        Replay(r.sender, r.recipient, r.client_id, r.content + " (changed)", not r.over_ws)
        for r in {r.client_id: r for r in replays}.values()
    ]
    answers = await fire(server, replays + variants)

    stored = await stored_by_client_id(pairs)
    assert {c: len(m) for c, m in stored.items() if len(m) != 1} == {}
    for answer in answers:
        kept = stored[answer.client_id][0]
        if answer.content == kept["content"]:
            assert answer.message_id == kept["id"], answer
        else:
            assert (answer.message_id, answer.code) == (None, "client_id_conflict"), answer


async def test_a_replay_with_other_content_after_the_storm_is_409(
    server: RunningServer, pairs: list[tuple[SignedInUser, SignedInUser]]
) -> None:
    """Once the storm is stored, a late replay with changed content is 409 client_id_conflict
    over REST and an error frame over the socket; the stored message is unchanged."""
    replays, contents = storm(pairs[:1], random.Random())
    await fire(server, replays)
    late = [
        Replay(r.sender, r.recipient, r.client_id, "changed", over_ws)
        for r in {r.client_id: r for r in replays}.values()
        for over_ws in (False, True)
    ]
    answers = await fire(server, late)

    assert {(a.message_id, a.code) for a in answers} == {(None, "client_id_conflict")}
    stored = await stored_by_client_id(pairs[:1])
    assert {c: m[0]["content"] for c, m in stored.items()} == contents
