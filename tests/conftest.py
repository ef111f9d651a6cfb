"""Shared fixtures. Each fixture says in its docstring what it gives.

Fixtures for MongoDB (nx-27017) live in tests/fixtures_mongo.py and browser
fixtures in tests/browser/conftest.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

import server as livehelp_server
from state.accounts import sign_in, users
from state.config import Config
from state.store.base import User
from state.store.sqlite import SQLiteStore
from tests.fixtures_cluster import cluster  # noqa: F401  (fixture)
from tests.fixtures_mongo import mongo_uri  # noqa: F401  (fixture)
from tests.fixtures_redis import redis_server  # noqa: F401  (fixture)
from tests.frames import next_message


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A default Config whose data directory is a fresh temp dir and whose port is 0 (any
    free one); tests may change it before asking for `live_server`."""
    return Config(data_dir=tmp_path / "data", port=0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A fresh SQLite store in a temp dir, open for the test and closed after."""
    store = SQLiteStore(tmp_path / "test.sqlite3")
    await store.open()
    yield store
    await store.close()


@dataclass
class LiveServer:
    """A running app: URLs, the services it was built from, and helpers to act as a person."""

    services: livehelp_server.Services
    app: tornado.web.Application
    port: int

    @property
    def root(self) -> str:
        return self.services.config.url_root

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{self.root}{path.lstrip('/')}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{self.root}{path.lstrip('/')}"

    async def add_user(self, email: str, privileges: tuple[str, ...] = ("user",),
                       password: str = "correct horse battery", first_name: str = "",
                       last_name: str = "") -> User:
        return await users.create_account(
            self.services.store, email, password, list(privileges), first_name, last_name)

    def cookie_for(self, name: str, value: str) -> str:
        signed = tornado.web.create_signed_value(self.app.settings["cookie_secret"], name, value)
        return f"{name}={signed.decode()}"

    async def user_cookie(self, user: User) -> str:
        """The cookie of a browser where `user` signed in: a real sign-in in the store."""
        return self.cookie_for("lh_user", await sign_in.create(self.services.store, user.id))

    async def fetch(self, path: str, method: str = "GET", body: dict | str | None = None,
                    cookie: str = "", headers: dict | None = None,
                    follow_redirects: bool = False) -> tornado.httpclient.HTTPResponse:
        """HTTP request; never raises on 4xx/5xx. Dict bodies are form-encoded."""
        all_headers = {"Cookie": cookie} if cookie else {}
        all_headers.update(headers or {})
        if isinstance(body, dict):
            body = urlencode(body, doseq=True)
        client = tornado.httpclient.AsyncHTTPClient()
        return await client.fetch(self.url(path), method=method, body=body, headers=all_headers,
                                  follow_redirects=follow_redirects, raise_error=False)

    async def websocket(self, path: str, cookie: str = "",
                        origin: str | None = None) -> tornado.websocket.WebSocketClientConnection:
        """Open a socket as the holder of `cookie`, with a same-origin Origin header."""
        headers = {"Origin": origin or f"http://127.0.0.1:{self.port}"}
        if cookie:
            headers["Cookie"] = cookie
        request = tornado.httpclient.HTTPRequest(self.ws_url(path), headers=headers)
        return await tornado.websocket.websocket_connect(request)


async def receive(ws: tornado.websocket.WebSocketClientConnection, type_: str | None = None,
                  timeout: float = 5.0) -> dict[str, Any]:
    """Next JSON message from `ws` (of `type_`, skipping others)."""
    while True:
        message = await next_message(ws, timeout)
        assert message is not None, "socket closed"
        if type_ is None or message.get("type") == type_:
            return message


@contextlib.asynccontextmanager
async def serving(services: livehelp_server.Services) -> AsyncIterator[LiveServer]:
    """Start `services` and serve their app on a free port until the block ends."""
    await services.start()
    app = livehelp_server.make_app(services)
    http = tornado.httpserver.HTTPServer(
        app, xheaders=services.config.behind_https_load_balancer)
    # Port 0 lets the kernel pick a free port atomically (no race between parallel runs).
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    http.add_sockets(sockets)
    try:
        yield LiveServer(services, app, sockets[0].getsockname()[1])
    finally:
        http.stop()
        await services.stop()


@pytest.fixture
async def live_server(config: Config) -> AsyncIterator[LiveServer]:
    """The whole app on a free port with a fresh SQLite store in a temp dir; stopped after."""
    async with serving(livehelp_server.make_services(config)) as server:
        yield server
