"""rest-messages: the ws-messages ladder, with every message sent by ``POST /api/v1/messages``.

Senders use keep-alive HTTP/1.1 connections (``--http-connections`` per sender, one request
in flight on each); the 201 response is the durable ack. Delivery is still measured on the
recipients' WebSockets.
"""

import argparse

from bench.messaging import MessageLoad
from bench.plots import latency_ladder_plot
from bench.scenario import Context, Result, Scenario
from bench.scenarios import ws_messages
from bench.seed import seed_accounts_sync


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ws_messages.add_arguments(parser)
    parser.add_argument(
        "--http-connections", type=int, default=4, help="keep-alive connections per sender"
    )


def run(args: argparse.Namespace, ctx: Context) -> Result:
    config = ws_messages.plan(args, ctx)
    config["http_connections"] = getattr(args, "http_connections", 4)
    # A sender has at most http_connections requests in flight: the closed loop's window.
    config["window"] = config["http_connections"]
    runs = []
    with ctx.server(
        prepare=lambda url: seed_accounts_sync(url, 2 * config["pairs"], pairs=True)
    ) as (server, accounts):
        load = MessageLoad(
            server,
            accounts,
            transport="rest",
            generators=config["generators"],
            http_connections=config["http_connections"],
        )
        with load:
            for _ in range(ctx.repeats):
                runs.append(ws_messages.ladder(load, config))
    return {"config": config, "runs": runs}


SCENARIO = Scenario(
    name="rest-messages",
    summary="messages over POST /messages (keep-alive HTTP/1.1), delivery on WebSockets",
    run=run,
    tables=lambda result: ws_messages.ladder_tables(result, "Messages over REST"),
    add_arguments=add_arguments,
    headline=ws_messages.headline,
    plot=lambda result, path: latency_ladder_plot(result, path, "Messages over REST"),
)
