"""Messages, history, conversations and ``/sync`` through the public API, for tests."""

from typing import Any

import httpx

from tests.support.api_errors import assert_error
from tests.support.factories import SignedInUser, UserFactory, befriend

Json = dict[str, Any]

MESSAGE_KEYS = frozenset(
    [
        "id",
        "sender_id",
        "recipient_id",
        "content",
        "created_at",
        "edited_at",
        "deleted_at",
        "client_id",
    ]
)
PUBLIC_USER_KEYS = frozenset({"id", "username", "created_at"})
# Well formed, but no user or message ever gets it (ids embed their creation time).
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
# Far more pages than any test makes: a cursor that never ends fails instead of looping.
_MAX_PAGES = 1000


async def friends(users: UserFactory) -> tuple[SignedInUser, SignedInUser]:
    """Two new users who are friends."""
    a, b = await users.register(), await users.register()
    await befriend(a, b)
    return a, b


async def post_message(
    sender: SignedInUser, recipient_id: str, content: str, client_id: str | None = None
) -> httpx.Response:
    body: Json = {"recipient_id": recipient_id, "content": content}
    if client_id is not None:
        body["client_id"] = client_id
    return await sender.client.post("/messages", json=body)


async def send(
    sender: SignedInUser,
    recipient: SignedInUser,
    content: str = "hello",
    *,
    client_id: str | None = None,
) -> Json:
    """Send a message that must be stored (201); return it."""
    response = await post_message(sender, recipient.id, content, client_id)
    assert response.status_code == 201, response.text
    message: Json = response.json()["message"]
    return message


async def send_each(
    sender: SignedInUser, recipient: SignedInUser, count: int, prefix: str = "message"
) -> list[Json]:
    """Send ``count`` messages one after the other; return them in sending order."""
    return [await send(sender, recipient, f"{prefix} {n}") for n in range(count)]


async def history_page(user: SignedInUser, peer_id: str, **params: Any) -> Json:
    response = await user.get(f"/conversations/{peer_id}/messages", params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def history_pages(user: SignedInUser, peer_id: str, *, limit: int) -> list[Json]:
    """Every page of the history with ``peer_id``, following ``next_before`` to the end."""
    pages: list[Json] = []
    before: str | None = None
    while len(pages) < _MAX_PAGES:
        params: Json = {"limit": limit} if before is None else {"limit": limit, "before": before}
        pages.append(await history_page(user, peer_id, **params))
        before = pages[-1]["next_before"]
        if before is None:
            return pages
    raise AssertionError("next_before never became null")


async def full_history(user: SignedInUser, peer_id: str, *, limit: int = 200) -> list[Json]:
    """The whole conversation with ``peer_id``, newest first."""
    pages = await history_pages(user, peer_id, limit=limit)
    return [message for page in pages for message in page["messages"]]


async def conversations_page(user: SignedInUser, **params: Any) -> Json:
    response = await user.get("/conversations", params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def conversations(user: SignedInUser) -> list[Json]:
    """The first page (up to 200) of ``user``'s conversations."""
    found: list[Json] = (await conversations_page(user, limit=200))["conversations"]
    return found


async def conversation_with(user: SignedInUser, peer: SignedInUser) -> Json:
    """``user``'s conversation with ``peer``, which must be listed exactly once."""
    matching = [c for c in await conversations(user) if c["peer"]["id"] == peer.id]
    assert len(matching) == 1, matching
    return matching[0]


async def unread(user: SignedInUser, peer: SignedInUser) -> int:
    count: int = (await conversation_with(user, peer))["unread_count"]
    return count


async def mark_read(user: SignedInUser, peer_id: str, up_to: str) -> httpx.Response:
    return await user.client.post(f"/conversations/{peer_id}/read", json={"up_to": up_to})


async def mark_delivered(user: SignedInUser, peer_id: str, up_to: str) -> httpx.Response:
    return await user.client.post(f"/conversations/{peer_id}/delivered", json={"up_to": up_to})


async def sync_page(
    user: SignedInUser, since: str | None = None, *, limit: int | None = None
) -> Json:
    """One ``/sync`` call, which must succeed."""
    params: Json = {}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["limit"] = limit
    response = await user.get("/sync", params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def fresh_cursor(user: SignedInUser) -> str:
    """The cursor of ``user``'s stream as it is now."""
    body = await sync_page(user)
    assert body["events"] == [], body
    cursor: str = body["cursor"]
    return cursor


async def sync_all(user: SignedInUser, since: str = "0", *, limit: int | None = None) -> list[Json]:
    """Every event after ``since``, following the returned cursor while ``has_more``."""
    events: list[Json] = []
    cursor = since
    for _ in range(_MAX_PAGES):
        body = await sync_page(user, cursor, limit=limit)
        events.extend(body["events"])
        cursor = body["cursor"]
        if not body["has_more"]:
            return events
    raise AssertionError("has_more never became false")


def of_type(events: list[Json], *types: str) -> list[Json]:
    """The events of these types, in stream order."""
    return [event for event in events if event["type"] in types]


def created_ids(events: list[Json]) -> list[str]:
    """The ids of the messages whose ``message.created`` events are in ``events``, in order."""
    return [event["data"]["message"]["id"] for event in of_type(events, "message.created")]


def assert_errors(responses: dict[str, httpx.Response], *statuses: int) -> None:
    """Each named response is an error with one of ``statuses``, in the contract's shape.

    Every case that answers otherwise is named in the failure, not only the first.
    """
    wrong = {
        name: f"{response.status_code} {response.text[:200]}"
        for name, response in responses.items()
        if response.status_code not in statuses
    }
    assert not wrong, wrong
    for response in responses.values():
        assert_error(response, response.status_code)
