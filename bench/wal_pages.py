"""``python -m bench.wal_pages``: which tables and indexes a send batch's commit writes (SQLite).

Sends batches through GK-Chat's own ``MessageWriter`` in-process, as ``bench.write_path``
does, with the write-ahead log's automatic checkpoints off for the measured batches, then
reads the log: each frame names the page it holds, and SQLite's ``dbstat`` table says which
b-tree owns that page. Every page a commit writes costs a write to the log, its checksum, the
fsync and, later, a checkpoint's copy, so this is where a batch's storage cost comes from.

    python -m bench.wal_pages                       64 messages a batch among 64 pairs
    python -m bench.wal_pages --batch 256 --warm 500
"""

import argparse
import asyncio
import collections
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path

from bench.seed import pair_sends, seed_accounts
from bench.server import ScratchDatabase
from gkchat.clock import SystemClock
from gkchat.config import Settings
from gkchat.services.container import Services

_WAL_HEADER = 32
_FRAME_HEADER = 24


@dataclass(frozen=True)
class PagesWritten:
    batch: int
    commits: int
    by_btree: dict[str, float]  # distinct pages per commit, by table or index

    @property
    def per_commit(self) -> float:
        return sum(self.by_btree.values())


def commits_in_wal(wal: bytes) -> list[list[int]]:
    """The page numbers of each committed transaction in a write-ahead log file."""
    page_size = struct.unpack(">I", wal[8:12])[0]
    commits: list[list[int]] = []
    pages: list[int] = []
    offset = _WAL_HEADER
    while offset + _FRAME_HEADER + page_size <= len(wal):
        page, size_after_commit = struct.unpack(">II", wal[offset : offset + 8])
        pages.append(page)
        if size_after_commit:  # the commit frame of a transaction
            commits.append(pages)
            pages = []
        offset += _FRAME_HEADER + page_size
    return commits


async def measure(path: Path, *, pairs: int, batch: int, warm: int, measured: int) -> PagesWritten:
    url = f"sqlite:///{path}"
    accounts = await seed_accounts(url, pairs * 2, pairs=True)
    services = Services.build(Settings(database_url=url, rate_limits=False), SystemClock())
    await services.start()

    sent = 0

    async def one_batch() -> None:
        # Batches take turns through the pairs, so that more pairs than a batch holds means
        # more conversations, as in a real server.
        nonlocal sent
        sends = pair_sends(accounts, pairs, start=sent, size=batch)
        sent += batch
        await asyncio.gather(*[services.writer.submit(command) for command in sends])

    try:
        for _ in range(warm):
            await one_batch()
        reader = sqlite3.connect(path)
        reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        async with services.db.write() as conn:
            await conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        await one_batch()  # starts the log afresh
        for _ in range(measured):
            await one_batch()
        owners = dict(reader.execute("SELECT pageno, name FROM dbstat").fetchall())
        # Read before the last connection closes: closing checkpoints and deletes the log.
        wal = path.with_name(path.name + "-wal").read_bytes()
        reader.close()
    finally:
        await services.close()
    commits = commits_in_wal(wal)[-measured:]
    counts: collections.Counter[str] = collections.Counter()
    for pages in commits:
        for page in set(pages):
            counts[owners.get(page, "(freed)")] += 1
    return PagesWritten(batch, len(commits), {k: v / len(commits) for k, v in counts.items()})


def print_pages(found: PagesWritten) -> None:
    print(
        f"\n{found.per_commit:.0f} pages per commit of {found.batch} messages "
        f"({found.per_commit / found.batch:.2f} per message; {found.commits} commits)"
    )
    for name, pages in sorted(found.by_btree.items(), key=lambda item: -item[1]):
        print(f"{pages:8.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=64, help="friend pairs sending")
    parser.add_argument("--batch", type=int, default=64, help="messages per batch")
    parser.add_argument("--warm", type=int, default=300, help="batches before measuring")
    parser.add_argument("--measured", type=int, default=20, help="batches measured")
    args = parser.parse_args()
    with ScratchDatabase("sqlite") as database:
        database.create()
        path = database.data_dir / "gkchat.db"
        found = asyncio.run(
            measure(
                path, pairs=args.pairs, batch=args.batch, warm=args.warm, measured=args.measured
            )
        )
    print_pages(found)


if __name__ == "__main__":
    main()
