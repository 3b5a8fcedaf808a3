"""Notifications and conversation mutes through the public API, for tests."""

from typing import Any

import httpx

from tests.support.factories import SignedInUser

Json = dict[str, Any]

NOTIFICATION_KEYS = frozenset(
    {"id", "type", "reference_id", "content", "created_at", "read_at", "actor_id", "count"}
)
# Far more pages than any test makes: a cursor that never ends fails instead of looping.
_MAX_PAGES = 1000


async def notifications_page(user: SignedInUser, **params: Any) -> Json:
    """One GET /notifications, which must succeed."""
    response = await user.get("/notifications", params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def notifications(user: SignedInUser, *, unread: bool = False) -> list[Json]:
    """``user``'s notifications (the first 200), newest first."""
    params: Json = {"limit": 200}
    if unread:
        params["unread"] = "true"
    found: list[Json] = (await notifications_page(user, **params))["notifications"]
    return found


async def of_kind(user: SignedInUser, kind: str, *, unread: bool = False) -> list[Json]:
    """``user``'s notifications of type ``kind``, newest first."""
    return [n for n in await notifications(user, unread=unread) if n["type"] == kind]


async def the_only(user: SignedInUser, kind: str) -> Json:
    """``user``'s one notification of type ``kind`` (there must be exactly one)."""
    found = await of_kind(user, kind)
    assert len(found) == 1, found
    return found[0]


async def unread_count(user: SignedInUser) -> int:
    count: int = (await notifications_page(user))["unread_count"]
    return count


async def read_notification(user: SignedInUser, notification_id: str) -> httpx.Response:
    return await user.client.post(f"/notifications/{notification_id}/read")


async def read_all(user: SignedInUser) -> None:
    response = await user.client.post("/notifications/read-all")
    assert response.status_code == 204, response.text


async def mute(user: SignedInUser, peer_id: str) -> httpx.Response:
    return await user.client.put(f"/conversations/{peer_id}/mute")


async def unmute(user: SignedInUser, peer_id: str) -> httpx.Response:
    return await user.client.delete(f"/conversations/{peer_id}/mute")


async def all_pages(user: SignedInUser, *, limit: int) -> list[list[Json]]:
    """Every page of ``user``'s notifications, following ``next_before`` to the end."""
    pages: list[list[Json]] = []
    before: str | None = None
    while len(pages) < _MAX_PAGES:
        params: Json = {"limit": limit} if before is None else {"limit": limit, "before": before}
        body = await notifications_page(user, **params)
        pages.append(body["notifications"])
        before = body["next_before"]
        if before is None:
            return pages
    raise AssertionError("next_before never became null")


def notification_events(events: list[Json]) -> list[Json]:
    """The ``notification.*`` events of a stream, in order."""
    return [event for event in events if event["type"].startswith("notification.")]
