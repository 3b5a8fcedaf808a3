"""Messages over WebSocket between friend pairs: durable-ack and delivery latency, throughput.

Starts a real `gkchat serve` process (pinned to CPU 0 when taskset exists), registers N friend
pairs, then every sender pipelines messages over its socket with at most W unacknowledged at a
time. Prints acked messages per second, ack and delivery latency percentiles, and the server's
CPU seconds per 1,000 messages. A benchmark, not a test: it asserts nothing about speed.

    python bench/ws_throughput.py --pairs 50 --messages 200 --window 20 [--database-url URL]
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def start_server(
    database_url: str | None, *, workers: int = 1, hub_url: str | None = None, pin: bool = True
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start `gkchat serve` (pinned to CPU 0 if ``pin``); return it, its URL, its data dir."""
    data = Path(tempfile.mkdtemp(prefix="gkchat-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "GKCHAT_DATA_DIR": str(data),
        "GKCHAT_RATE_LIMITS": "off",
        "GKCHAT_LOG_LEVEL": "warning",
    }
    if database_url:
        env["GKCHAT_DATABASE_URL"] = database_url
    if hub_url:
        env["GKCHAT_HUB_URL"] = hub_url
    command = [sys.executable, "-m", "gkchat", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{base}/api/v1/health")).status_code == 200:
                    return process, base, data
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


async def make_pair(api: httpx.AsyncClient, index: int) -> tuple[dict[str, str], dict[str, str]]:
    users = []
    for role in ("s", "r"):
        name = f"b{uuid.uuid4().hex[:10]}{role}{index}"
        r = await api.post(
            "/auth/register",
            json={
                "username": name,
                "email": f"{name}@example.com",
                "password": "bench password 123",
            },
        )
        r.raise_for_status()
        users.append({"id": r.json()["user"]["id"], "token": r.json()["token"]})
    sender, recipient = users
    h = {"Authorization": f"Bearer {sender['token']}"}
    r = await api.post("/friend-requests", json={"user_id": recipient["id"]}, headers=h)
    request_id = r.json()["request"]["id"]
    await api.post(
        f"/friend-requests/{request_id}/accept",
        headers={"Authorization": f"Bearer {recipient['token']}"},
    )
    return sender, recipient


async def run_pair(
    ws_url: str,
    sender: dict[str, str],
    recipient: dict[str, str],
    count: int,
    window: int,
    acks: list[float],
    deliveries: list[float],
    opened: Callable[[ClientConnection, ClientConnection], None] | None = None,
) -> None:
    """``opened(sender socket, recipient socket)`` is called once both are connected."""
    sent_at: dict[str, float] = {}
    run = uuid.uuid4().hex[:8]  # the same pair may run again: new client ids, new messages
    async with (
        # No receive limit (max_queue=None): frames still arriving after the counting is done
        # (the sender's own echoes, presence) must not stall the closing handshake.
        connect(
            ws_url,
            additional_headers={"Authorization": f"Bearer {sender['token']}"},
            max_size=2**20,
            max_queue=None,
        ) as s_ws,
        connect(
            ws_url,
            additional_headers={"Authorization": f"Bearer {recipient['token']}"},
            max_size=2**20,
            max_queue=None,
        ) as r_ws,
    ):
        # Events committed before a socket's `ready` frame are not sent on it (a client syncs
        # for those): sending before the recipient is ready could lose the first messages.
        await ready(r_ws)
        if opened is not None:
            opened(s_ws, r_ws)
        received = asyncio.create_task(receive(r_ws, count, sent_at, deliveries))
        credit = asyncio.Semaphore(window)
        acked = asyncio.Event()
        pending = count

        async def read_acks(ws: ClientConnection) -> None:
            nonlocal pending
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "message.ack":
                    acks.append(time.perf_counter() - sent_at[frame["data"]["client_id"]])
                    credit.release()
                    pending -= 1
                    if pending == 0:
                        acked.set()
                        return
                elif frame["type"] == "error":
                    raise RuntimeError(frame)

        reader = asyncio.create_task(read_acks(s_ws))
        for i in range(count):
            await credit.acquire()
            client_id = f"{sender['id']}-{run}-{i}"
            sent_at[client_id] = time.perf_counter()
            await s_ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "data": {
                            "recipient_id": recipient["id"],
                            "content": f"message {i} " + "x" * 80,
                            "client_id": client_id,
                        },
                    }
                )
            )
        await asyncio.wait_for(acked.wait(), 120)
        await asyncio.wait_for(received, 120)
        reader.cancel()


async def ready(ws: ClientConnection) -> None:
    async for raw in ws:
        if json.loads(raw)["type"] == "ready":
            return


async def receive(
    ws: ClientConnection, count: int, sent_at: dict[str, float], deliveries: list[float]
) -> None:
    seen = 0
    async for raw in ws:
        frame = json.loads(raw)
        if frame["type"] == "message.created":
            deliveries.append(time.perf_counter() - sent_at[frame["data"]["message"]["client_id"]])
            seen += 1
            if seen == count:
                return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200, help="per pair")
    parser.add_argument("--window", type=int, default=20, help="unacked sends per sender")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    process, base, data = await start_server(args.database_url)
    try:
        async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=60) as api:
            pairs = [await make_pair(api, i) for i in range(args.pairs)]
        ws_url = base.replace("http", "ws") + "/api/v1/ws"
        acks: list[float] = []
        deliveries: list[float] = []
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                run_pair(ws_url, s, r, args.messages, args.window, acks, deliveries)
                for s, r in pairs
            )
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - cpu_before
        total = args.pairs * args.messages
        result = {
            "database": (args.database_url or "sqlite").split(":")[0],
            "pairs": args.pairs,
            "messages": total,
            "window": args.window,
            "seconds": round(elapsed, 2),
            "messages_per_second": round(total / elapsed),
            "server_cpu_s_per_1000_messages": round(cpu / total * 1000, 3),
            "ack_ms": {p: round(percentile(acks, p) * 1000, 1) for p in (50, 99, 99.9)},
            "delivery_ms": {p: round(percentile(deliveries, p) * 1000, 1) for p in (50, 99, 99.9)},
            "median_ack_ms": round(statistics.median(acks) * 1000, 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
