"""Echo every message back to its sender: python examples/echo_bot.py URL LOGIN PASSWORD"""

import asyncio
import sys

from gkchat.client import Client


async def main(url: str, login: str, password: str) -> None:
    """Sign in, then answer every message from someone else with the same text."""
    async with Client(url) as client:
        me = (await client.login(login, password))["user"]["id"]
        async with client.events() as events:
            async for event in events:
                message = event.data.get("message") or {}
                if event.type == "message.created" and message["sender_id"] != me:
                    await client.send_message(message["sender_id"], message["content"])


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
