"""What Redis costs a livehelp process (the figures behind docs/architecture.md,
"Several processes"): a redis-server of its own on a free port, then, through the
`redis` package's asyncio client as cluster mode uses it:

- one command's round trip (INCR), p50/p99, and the client's CPU per round trip;
- a PUBLISH until the subscriber has it, p50/p99;
- a pipeline of 50 PUBLISHes (the relay's batch), CPU per event.

    python bench/redis_round_trip.py [--runs 5000]

Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import redis.asyncio as redis
from common import percentile  # puts the project on sys.path

from bench.cluster_setup import RedisServer

EVENT = b"a\n" + b'{"type":"chat","text":"' + b"x" * 160 + b'"}'


async def measure(url: str, runs: int) -> None:
    client = redis.Redis.from_url(url)
    await client.ping()
    trips = []
    started = time.process_time()
    for _ in range(runs):
        before = time.perf_counter()
        await client.incr("bench")
        trips.append(time.perf_counter() - before)
    cpu = (time.process_time() - started) / runs
    print(f"INCR round trip: p50 {percentile(trips, 0.5) * 1e6:.0f} us,"
          f" p99 {percentile(trips, 0.99) * 1e6:.0f} us; client CPU {cpu * 1e6:.0f} us each")
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("bench")
    delivered = []
    for _ in range(runs // 2):
        before = time.perf_counter()
        await client.publish("bench", EVENT)
        while await pubsub.get_message(timeout=1.0) is None:
            pass
        delivered.append(time.perf_counter() - before)
    print(f"PUBLISH to a subscriber: p50 {percentile(delivered, 0.5) * 1e6:.0f} us,"
          f" p99 {percentile(delivered, 0.99) * 1e6:.0f} us")
    await pubsub.aclose()
    started = time.process_time()
    for _ in range(runs // 50):
        pipe = client.pipeline(transaction=False)
        for _ in range(50):
            pipe.publish("nobody", EVENT)
        await pipe.execute()
    cpu = (time.process_time() - started) / (runs // 50 * 50)
    print(f"pipelined PUBLISH (50 a batch): client CPU {cpu * 1e6:.1f} us an event")
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="livehelp-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            asyncio.run(measure(server.url, args.runs))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
