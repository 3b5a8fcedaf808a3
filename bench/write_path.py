"""``python -m bench.write_path``: what one send batch costs, below the network.

Drives GK-Chat's own ``MessageWriter`` (the group-commit writer every REST and WebSocket send
goes through) in-process, with no HTTP, no WebSocket and no hub subscribers, and reports per
batch size: the statements executed (on SQLite, every statement SQLite ran, each row of an
executemany, BEGIN and COMMIT included; on PostgreSQL, every statement sent), the process CPU
time (the event loop plus the database driver's threads) and wall time per batch and per
message. CPU time is what the server pays whatever else the machine is doing, so these figures
are steadier than throughput on a shared machine; they show what the storage path costs apart
from everything around it.

    python -m bench.write_path                        SQLite, batch sizes 1 8 64 256
    python -m bench.write_path --database postgres    a scratch PostgreSQL database
"""

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from bench.seed import pair_sends, seed_accounts
from bench.server import ScratchDatabase
from gkchat.clock import SystemClock
from gkchat.config import Settings
from gkchat.services.container import Services


@dataclass(frozen=True)
class Figures:
    batch: int
    executions: float
    cpu_ms_per_batch: float
    wall_ms_per_batch: float

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_ms_per_batch * 1000 / self.batch


async def measure(url: str, batches: list[int], rounds: int, pairs: int) -> list[Figures]:
    accounts = await seed_accounts(url, pairs * 2, pairs=True)
    services = Services.build(Settings(database_url=url, rate_limits=False), SystemClock())
    await services.start()
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = services.db.engine.sync_engine
    if services.db.is_sqlite:
        # The send path runs most statements on the sqlite3 connection itself (db.direct),
        # past SQLAlchemy's events: count what SQLite runs, BEGIN and COMMIT included.
        @event.listens_for(engine, "checkout")
        def _trace(dbapi_connection: Any, *_args: Any) -> None:
            dbapi_connection.driver_connection._conn.set_trace_callback(count)
    else:
        event.listen(engine, "before_cursor_execute", count)

    async def one_batch(size: int) -> None:
        sends = pair_sends(accounts, pairs, start=0, size=size)
        await asyncio.gather(*[services.writer.submit(command) for command in sends])

    try:
        figures = []
        for size in batches:
            await one_batch(size)  # warm the statement caches for this size
            cpu, wall, counts = [], [], []
            for _ in range(rounds):
                statements = 0
                cpu0, wall0 = time.process_time(), time.perf_counter()
                await one_batch(size)
                cpu.append(time.process_time() - cpu0)
                wall.append(time.perf_counter() - wall0)
                counts.append(statements)
            figures.append(
                Figures(
                    size,
                    statistics.median(counts),
                    statistics.median(cpu) * 1000,
                    statistics.median(wall) * 1000,
                )
            )
        return figures
    finally:
        await services.close()


def print_table(database: str, figures: list[Figures]) -> None:
    print(f"\n{database}: one send batch through MessageWriter (medians)")
    print(f"{'batch':>6} {'executions':>10} {'CPU ms':>8} {'wall ms':>8} {'CPU us/msg':>10}")
    for f in figures:
        print(
            f"{f.batch:>6} {f.executions:>10.0f} {f.cpu_ms_per_batch:>8.2f} "
            f"{f.wall_ms_per_batch:>8.2f} {f.cpu_us_per_message:>10.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--rounds", type=int, default=200, help="batches per size (default 200)")
    parser.add_argument("--pairs", type=int, default=64, help="friend pairs sending")
    args = parser.parse_args()
    with ScratchDatabase(args.database) as database:
        database.create()
        figures = asyncio.run(measure(database.url, args.batches, args.rounds, args.pairs))
    print_table(args.database, figures)


if __name__ == "__main__":
    main()
