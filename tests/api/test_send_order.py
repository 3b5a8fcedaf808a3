"""A send is answered before its events are published.

The message writer resolves each sender's future when the batch commits, before the stream
events go to the hub: the ack is then queued on the sender's socket ahead of the live
``message.created``, and both leave in one write.
"""

import asyncio

from gkchat.domain.models import StreamEvent
from gkchat.services.message_writer import Sent
from tests.support.factories import UserFactory
from tests.support.messaging import friends
from tests.support.server import RunningServer


async def test_a_send_is_answered_before_its_events_are_published(
    server: RunningServer, users: UserFactory
) -> None:
    """When a publisher first sees a message's events, the send's future is already done."""
    alice, bob = await friends(users)
    services = server.app.state.services
    sender = await services.accounts.get_user(alice.id)
    answered_at_publish: list[bool] = []
    pending: list[asyncio.Future[Sent]] = []

    async def publisher(recorded: list[StreamEvent]) -> None:
        if any(event.type == "message.created" for event in recorded):
            answered_at_publish.append(all(future.done() for future in pending))

    services.events.on_publish(publisher)
    pending.append(
        services.messages.submit(sender=sender, recipient_id=bob.id, content="hi", client_id="o-1")
    )
    sent = await pending[0]

    assert sent.created
    assert answered_at_publish == [True]
