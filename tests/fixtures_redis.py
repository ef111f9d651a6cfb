"""Redis for tests: a real `redis-server` of a test's own (bench/cluster_setup.py's
`RedisServer`: a free loopback port in a temp directory, nothing saved to disk).
`RedisServer.stop()` and `start()` let a test take it away and bring it back on the
same port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster_setup import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, started; stopped when the test ends."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
